"""Core records → the JSON documents of schemas/ (one place, shared by every sink)."""

from __future__ import annotations

from collections.abc import Callable

from streams.core.text import escape_controls
from streams.core.timeparse import format_rfc3339, parse_rfc3339
from streams.core.model import DeadLetter, WindowCounter


def counter_to_dict(c: WindowCounter, emitted_at_ms: int) -> dict:
    """An ``sli_counter`` message. ``emitted_at`` is the sink's clock, the only non-event-time field."""
    doc = {
        "journey": c.journey, "slo": c.slo,
        "window_start": format_rfc3339(c.window_start_ms), "window_end": format_rfc3339(c.window_end_ms),
        "good": c.good, "total": c.total, "raw_good": c.raw_good, "raw_total": c.raw_total,
        "filtered": dict(sorted(c.filtered.items())), "skipped": dict(sorted(c.skipped.items())),
        "networks": c.networks, "late": c.late, "emitted_at": format_rfc3339(emitted_at_ms), "revision": c.revision,
    }
    if c.partition is not None:
        doc["partition"] = c.partition
    return doc


def counter_from_dict(doc: dict, parse_time: Callable[[str], int] = parse_rfc3339) -> WindowCounter:
    """An ``sli_counter`` message back into a WindowCounter (for Stage B and offline tools). The one
    sli_counter parser; ``parse_time`` lets a bulk reader cache the RFC 3339 parse of repeated window
    bounds (it must return what parse_rfc3339 would)."""
    return WindowCounter(
        journey=doc["journey"], slo=doc["slo"], window_start_ms=parse_time(doc["window_start"]),
        window_end_ms=parse_time(doc["window_end"]), good=int(doc["good"]), total=int(doc["total"]),
        raw_good=int(doc["raw_good"]), raw_total=int(doc["raw_total"]), filtered=dict(doc.get("filtered") or {}),
        skipped=dict(doc.get("skipped") or {}), late=int(doc.get("late", 0)), revision=int(doc.get("revision", 0)),
        networks=dict(doc.get("networks") or {}), partition=doc.get("partition"))


def dead_letter_to_dict(d: DeadLetter, now_ms: int) -> dict:
    """A ``dead_letter`` message. ``source`` says where the record was, in the vocabulary every output
    uses (``--verdicts`` too): ``{file, line}`` (1-based) for a file or stdin, ``{topic, partition, offset}``
    for a Kafka record. Readers of older files: a file's location used to be ``{topic: <file name>,
    partition: null, offset: <line>}`` — :func:`record_location` reads both. ``raw``, ``error`` and the
    file/topic name have every control and format character escaped (C1 controls such as U+009B, bidi
    overrides such as U+202E, ``\x1b``…): JSON would carry them raw, and dead-letter files are read in
    terminals. The exact bytes stay in the input (and the archive)."""
    source = ({"file": escape_controls(d.source), "line": d.offset} if d.partition is None
              else {"topic": escape_controls(d.source), "partition": d.partition, "offset": d.offset})
    return {
        "reason": d.reason, "error": escape_controls(d.error),
        "source": source,
        "raw": escape_controls(d.raw), "ts": format_rfc3339(now_ms),
        "event_ts": format_rfc3339(d.ts_ms) if d.ts_ms is not None else None,
    }


def record_location(source: dict) -> tuple[str, int | None, int]:
    """(file or topic, partition or None, line or offset) of a dead letter's or verdict's ``source``, in
    the current form or the one before it (a file as ``{topic, partition: null, offset}``)."""
    if "file" in source:
        return source["file"], None, source["line"]
    return source["topic"], source.get("partition"), source["offset"]
