"""Read the report's file inputs: ``sli_counter``, ``anomaly`` and ``change_event`` JSON lines.

Every line must parse; a bad line is an :class:`InputError` naming ``file:line`` and the fix — a report
that silently skipped history would draw a wrong picture. Counters go through a CounterBook, so the newest
revision of each key wins and per-partition partials are summed, exactly as Stage B merges them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from streams.core.detect.changes import ChangeEvent
from pathlib import Path

import orjson

from streams.core.merge import CounterBook
from streams.core.timeparse import parse_epoch, parse_rfc3339
from streams.model import WindowCounter
from streams.sources.files import InputError

ANOMALY_TYPES = frozenset({"burn_spike", "security_suspect", "bot_surge", "scanner", "credential_stuffing",
                           "no_traffic", "burn_too_tight", "burn_too_loose", "policy_not_enforced"})
CHANGE_KINDS = frozenset({"deploy", "config", "upstream", "freeze", "unfreeze"})


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One ``anomaly`` message, reduced to what the report shows. ``ts_ms`` places the marker."""

    id: str
    type: str
    journey: str | None
    slo: str | None
    severity: str
    state: str
    ts_ms: int
    window_start_ms: int
    window_end_ms: int


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
        raise InputError(f"{where}: {key} must be an object of counts by reason")
    for reason in v:
        _count(v, reason, f"{where}: {key}")
    return v


def read_counters(path: str) -> list[WindowCounter]:
    """``sli_counter`` JSON lines (``truesli process --counters``) → merged counters in window order:
    the newest revision of each key, per-partition partials summed (what Stage B publishes)."""
    latest: dict[tuple, WindowCounter] = {}
    times: dict[str, int] = {}     # each window's timestamps repeat once per journey/SLO: parse once
    names: dict[str, str] = {}     # one string object per journey/SLO name, not one per line
    partials = False
    for n, doc in _lines(path, "counters"):
        where = f"{path}:{n}"
        journey, slo = doc.get("journey"), doc.get("slo")
        if type(journey) is not str or type(slo) is not str:
            raise InputError(f"{where}: not an sli_counter (journey and slo are required strings); "
                             "pass the file `truesli process --counters` wrote")
        ws, we = doc.get("window_start"), doc.get("window_end")
        start = times.get(ws) if type(ws) is str else None
        if start is None:
            start = _time(ws, where, "window_start")
            if type(ws) is str:
                times[ws] = start
        end = times.get(we) if type(we) is str else None
        if end is None:
            end = _time(we, where, "window_end")
            if type(we) is str:
                times[we] = end
        if end <= start:
            raise InputError(f"{where}: window_end must be after window_start")
        partition = doc.get("partition")
        if partition is not None:
            if type(partition) is not int:
                raise InputError(f"{where}: partition must be an integer or null")
            partials = True
        c = WindowCounter(names.setdefault(journey, journey), names.setdefault(slo, slo), start, end,
                          good=_count(doc, "good", where), total=_count(doc, "total", where),
                          raw_good=_count(doc, "raw_good", where), raw_total=_count(doc, "raw_total", where),
                          filtered=_tally(doc, "filtered", where), skipped=_tally(doc, "skipped", where),
                          late=_count(doc, "late", where), revision=_count(doc, "revision", where),
                          partition=partition)
        if c.good > c.total or c.raw_good > c.raw_total:
            raise InputError(f"{where}: good exceeds total — not a valid sli_counter")
        key = (c.journey, c.slo, start, partition)
        prev = latest.get(key)
        if prev is None or c.revision >= prev.revision:
            latest[key] = c
    if partials:
        book = CounterBook()
        book.add(latest.values())
        return book.merged()
    return sorted(latest.values(), key=lambda c: (c.window_start_ms, c.journey, c.slo))


def read_anomalies(path: str) -> list[Anomaly]:
    """``anomaly`` JSON lines (schemas/anomaly.schema.json), in file order."""
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
        out.append(Anomaly(id=str(doc.get("id", "")), type=kind,
                           journey=journey if isinstance(journey, str) else None,
                           slo=slo if isinstance(slo, str) else None,
                           severity=str(doc.get("severity", "info")), state=state,
                           ts_ms=_time(doc.get("ts"), where, "ts"),
                           window_start_ms=_time(window.get("start"), where, "window.start"),
                           window_end_ms=_time(window.get("end"), where, "window.end")))
    return out


def read_changes(path: str) -> list[ChangeEvent]:
    """``change_event`` JSON lines (schemas/change_event.schema.json), sorted by time."""
    out: list[ChangeEvent] = []
    for n, doc in _lines(path, "changes"):
        where = f"{path}:{n}"
        kind, service = doc.get("kind"), doc.get("service")
        if kind not in CHANGE_KINDS:
            raise InputError(f"{where}: kind {kind!r} is not a change kind ({', '.join(sorted(CHANGE_KINDS))})")
        if not isinstance(service, str) or not service:
            raise InputError(f"{where}: service is required (the journey's `service` in the config)")
        out.append(ChangeEvent(ts_ms=_time(doc.get("ts"), where, "ts"), service=service, kind=kind,
                               id=str(doc.get("id", "")), description=str(doc.get("description", ""))))
    out.sort(key=lambda e: e.ts_ms)
    return out
