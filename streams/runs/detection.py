"""Detection for finite runs (``truesli process``, ``demo``, ``replay``): counters + change events + filter
flags → anomalies and the meta-signal gauges. The live worker drives the same core objects incrementally
(streams/live/worker.py).

:func:`detect` is the computation; :func:`detect_run` is the step a command runs after its counters are
complete (read the change files, write ``--anomalies``, dead-letter bad change lines, print what fired).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from streams.config import Config
from streams.core.detect import AbuseEpisodes, Anomaly, ChangeEvent, Detector
from streams.core.model import WindowCounter
from streams.core.timeparse import format_rfc3339

if TYPE_CHECKING:
    from streams.runs.result import RunResult

MAX_LISTED = 12
"""Anomalies the text summary lists one per line; the rest are counted."""


def sort_key(a: Anomaly) -> tuple:
    return a.ts_ms, a.type, a.journey or "", a.slo or "", a.id


@dataclass(slots=True)
class DetectionResult:
    anomalies: list[Anomaly]
    gauges: dict


def detect(config: Config, counters: Iterable[WindowCounter], changes: Iterable[ChangeEvent],
           abuse_anomalies: Iterable[Anomaly] = ()) -> DetectionResult:
    """Run every SLO detector over a finished run's merged counters; anomalies in event-time order."""
    detector = Detector(config)
    for ev in changes:
        detector.observe_change(ev)
    for c in counters:
        detector.observe(c)
    found = detector.finish() + list(abuse_anomalies)
    return DetectionResult(sorted(found, key=sort_key), detector.gauges())


class AbuseCollector:
    """Feeds a run's filter flags to one AbuseEpisodes in processing order; ``finish`` closes the rest."""

    __slots__ = ("episodes", "anomalies")

    def __init__(self, config: Config) -> None:
        self.episodes = AbuseEpisodes(config)
        self.anomalies: list[Anomaly] = []

    def add(self, flags) -> None:
        for f in flags:
            self.anomalies.extend(self.episodes.observe(f))
        if flags and self.episodes.open:
            # Close what has ended by the newest flag's time, as Stage A does by its watermark: bounded state.
            self.anomalies.extend(self.episodes.advance(max(f.ts_ms for f in flags)))

    def finish(self) -> list[Anomaly]:
        self.anomalies.extend(self.episodes.finish())
        return self.anomalies


def detect_run(config: Config, result: RunResult, changes: list[str] | None, anomalies_path: str | None,
               out: TextIO, now_ms: int, dead_letters_path: str | None = None) -> DetectionResult:
    """Run the detectors over a finished run: change events from ``changes`` (read leniently: a bad line
    is reported on stderr and appended to ``dead_letters_path`` as a ``bad_change_event``, stamped
    ``now_ms``), anomalies to ``anomalies_path`` (JSON lines), the summary of what fired to ``out``."""
    from streams.sinks.files import JsonLinesSink
    from streams.sinks.serialize import dead_letter_to_dict
    from streams.sources.change_files import read_changes

    change_input = read_changes(changes or [], strict=False)
    abuse = result.abuse.finish() if result.abuse is not None else []
    found = detect(config, result.book.merged(), change_input.events, abuse)
    if anomalies_path:
        sink = JsonLinesSink(anomalies_path)
        try:
            sink.add(a.to_dict() for a in found.anomalies)
        finally:
            sink.close()
    if change_input.dead_letters:
        first = change_input.dead_letters[0]
        print(f"truesli: {len(change_input.dead_letters)} change-event lines are not change events (first: "
              f"{first.source} line {first.offset}: {first.error})"
              + (f"; dead-lettered to {dead_letters_path}" if dead_letters_path else ""), file=sys.stderr)
        if dead_letters_path:
            sink = JsonLinesSink(dead_letters_path, append=True)
            try:
                sink.add(dead_letter_to_dict(d, now_ms) for d in change_input.dead_letters)
            finally:
                sink.close()
    out.write(render_anomalies(found, len(change_input.events), anomalies_path))
    return found


def render_anomalies(found: DetectionResult, n_changes: int, path: str | None) -> str:
    """The text summary of a detection: firing anomalies by type, the first few one per line, and the
    SLO-program gauges."""
    firing = [a for a in found.anomalies if a.state == "firing"]
    lines = [f"\nDetection ({n_changes} change events): {len(firing)} anomalies fired"
             + (f" → {path}" if path else "")]
    by_type = Counter(a.type for a in firing)
    if by_type:
        lines.append("  " + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())))
    for a in firing[:MAX_LISTED]:
        where = f"{a.journey}/{a.slo}" if a.journey else (a.key or "-")
        lines.append(f"  {format_rfc3339(a.ts_ms)} {a.type:<20} {a.severity:<6} {where}")
    if len(firing) > MAX_LISTED:
        lines.append(f"  … {len(firing) - MAX_LISTED} more")
    g = found.gauges
    lines.append(f"  SLO program: {g['active_slos']} active SLOs, {g['slos_burning']} burning > 1× (1h), "
                 f"average budget remaining {100 * g['avg_budget_remaining']:.1f}%")
    return "\n".join(lines) + "\n"
