"""Read the report's file inputs: ``sli_counter`` and ``anomaly`` JSON lines (``change_event`` lines are
read by the one change-event reader, ``streams.sources.change_files.read_changes(..., strict=True)``).

Every line must parse; a bad line is an :class:`InputError` naming ``file:line`` and the fix — a report
that silently skipped history would draw a wrong picture. Counters go through a CounterBook, so the newest
revision of each key wins and per-partition partials are summed, exactly as Stage B merges them.
Anomalies are read into the detectors' own record, ``streams.core.detect.Anomaly``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from streams.core.detect import Anomaly
from streams.core.merge import CounterBook
from streams.core.timeparse import parse_epoch, parse_rfc3339
from streams.core.model import WindowCounter
from streams.sinks.serialize import counter_from_dict
from streams.sources.files import InputError

ANOMALY_TYPES = frozenset({"burn_spike", "security_suspect", "bot_surge", "scanner", "credential_stuffing",
                           "no_traffic", "burn_too_tight", "burn_too_loose", "policy_not_enforced"})


def _lines(path: str, what: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line, streamed (a 90-day counters file is hundreds of MB)."""
    try:
        f = Path(path).open("rb")
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} file is a directory: {path} (pass the JSON-lines file)") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not JSON ({exc}); {what} files hold one JSON object per line") from None
            if not isinstance(doc, dict):
                raise InputError(f"{path}:{n}: expected a JSON object per line, got {type(doc).__name__}")
            yield n, doc


def _time(value: object, where: str, field: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)):
            return parse_epoch(float(value))
        if isinstance(value, str):
            return parse_rfc3339(value)
    except ValueError:
        pass
    raise InputError(f"{where}: {field} {value!r} is not a time (RFC 3339, or epoch seconds/milliseconds)")


def _count(doc: dict, key: str, where: str) -> int:
    v = doc.get(key, 0)
    if type(v) is int and v >= 0:
        return v
    raise InputError(f"{where}: {key} must be a non-negative integer, got {v!r}")


def _tally(doc: dict, key: str, where: str) -> dict[str, int]:
    v = doc.get(key)
    if not v:
        return {}
    if not isinstance(v, dict):
        raise InputError(f"{where}: {key} must be an object of counts")
    for reason in v:
        _count(v, reason, f"{where}: {key}")
    return v


def read_counters(path: str) -> list[WindowCounter]:
    """``sli_counter`` JSON lines (``truesli process --counters``) → merged counters in window order:
    the newest revision of each key, per-partition partials summed (what Stage B publishes).

    Each line is checked against the contract first (so a bad one is named ``file:line`` with the fix),
    then built by ``streams.sinks.serialize.counter_from_dict`` — the one sli_counter parser."""
    latest: dict[tuple, WindowCounter] = {}
    times: dict[str, int] = {}     # each window's timestamps repeat once per journey/SLO: parse once
    names: dict[str, str] = {}     # one string object per journey/SLO name, not one per line
    partials = False

    def cached_time(value: str) -> int:
        t = times.get(value)
        if t is None:
            t = times[value] = parse_rfc3339(value)
        return t

    for n, doc in _lines(path, "counters"):
        where = f"{path}:{n}"
        journey, slo = doc.get("journey"), doc.get("slo")
        if type(journey) is not str or type(slo) is not str:
            raise InputError(f"{where}: not an sli_counter (journey and slo are required strings); "
                             "pass the file `truesli process --counters` wrote")
        doc["journey"], doc["slo"] = names.setdefault(journey, journey), names.setdefault(slo, slo)
        for key in ("window_start", "window_end"):
            value = doc.get(key)
            try:
                if type(value) is not str:
                    raise ValueError
                cached_time(value)
            except (ValueError, OverflowError):
                raise InputError(f"{where}: {key} {value!r} is not an RFC 3339 time") from None
        for key in ("good", "total", "raw_good", "raw_total"):
            if key not in doc:
                raise InputError(f"{where}: {key} is required — not a valid sli_counter")
            _count(doc, key, where)
        for key in ("late", "revision"):
            _count(doc, key, where)
        for key in ("filtered", "skipped", "networks"):
            _tally(doc, key, where)
        partition = doc.get("partition")
        if partition is not None:
            if type(partition) is not int or partition < 0:
                raise InputError(f"{where}: partition must be a non-negative integer or null")
            partials = True
        c = counter_from_dict(doc, parse_time=cached_time)
        if c.window_end_ms <= c.window_start_ms:
            raise InputError(f"{where}: window_end must be after window_start")
        if c.good > c.total or c.raw_good > c.raw_total:
            raise InputError(f"{where}: good exceeds total — not a valid sli_counter")
        key = (c.journey, c.slo, c.window_start_ms, partition)
        prev = latest.get(key)
        if prev is None or c.revision >= prev.revision:
            latest[key] = c
    if partials:
        book = CounterBook()
        book.add(latest.values())
        return book.merged()
    return sorted(latest.values(), key=lambda c: (c.window_start_ms, c.journey, c.slo))


def read_anomalies(path: str) -> list[Anomaly]:
    """``anomaly`` JSON lines (schemas/anomaly.schema.json), in file order. Each keeps its published id
    (``message_id``); ``burn_rates``, ``evidence`` and ``correlated_changes`` are kept when they have the
    schema's type (the report draws none of them)."""
    out: list[Anomaly] = []
    for n, doc in _lines(path, "anomalies"):
        where = f"{path}:{n}"
        kind = doc.get("type")
        if kind not in ANOMALY_TYPES:
            raise InputError(f"{where}: type {kind!r} is not an anomaly type ({', '.join(sorted(ANOMALY_TYPES))})")
        window = doc.get("window")
        if not isinstance(window, dict):
            raise InputError(f"{where}: window {{start, end}} is required")
        state = doc.get("state", "firing")
        if state not in ("firing", "resolved"):
            raise InputError(f"{where}: state must be firing or resolved, got {state!r}")
        journey, slo = doc.get("journey"), doc.get("slo")
        burn_rates, evidence, changes = doc.get("burn_rates"), doc.get("evidence"), doc.get("correlated_changes")
        ts = _time(doc.get("ts"), where, "ts")
        start = _time(window.get("start"), where, "window.start")
        end = _time(window.get("end"), where, "window.end")
        out.append(Anomaly(type=kind, state=state,
                           journey=journey if isinstance(journey, str) else None,
                           slo=slo if isinstance(slo, str) else None,
                           severity=str(doc.get("severity", "info")),
                           window_start_ms=start, window_end_ms=end, ts_ms=ts, episode_ms=start,
                           burn_rates=burn_rates if isinstance(burn_rates, dict) else {},
                           evidence=evidence if isinstance(evidence, dict) else {},
                           correlated_changes=changes if isinstance(changes, list) else [],
                           message_id=str(doc.get("id", ""))))
    return out
