"""Detection for finite runs (``truesli process``, ``demo``, ``replay``): counters + change events + filter
flags → anomalies and the meta-signal gauges. The live worker drives the same core objects incrementally
(streams/live/worker.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.config import Config
from streams.core.detect import AbuseEpisodes, Anomaly, ChangeEvent, Detector, parse_change
from streams.core.model import DeadLetter, WindowCounter
from streams.sources.files import iter_line_batches

CHANGE_DEAD_LETTER = "bad_change_event"


@dataclass(slots=True)
class ChangeInput:
    """Change events read from files, and the lines that were not change events (dead-lettered)."""

    events: list[ChangeEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def read_changes(paths: Iterable[str]) -> ChangeInput:
    """JSON lines of ``change_event``; a bad line becomes a dead letter with its reason (never raises on
    content; InputError for an unreadable file)."""
    out = ChangeInput()
    for path in paths:
        for batch, origin in iter_line_batches(path):
            for i, line in enumerate(batch):
                ev = parse_change(line)
                if isinstance(ev, str):
                    out.dead_letters.append(DeadLetter(CHANGE_DEAD_LETTER, ev, bytes(line[:4096]).decode(
                        "utf-8", "backslashreplace"), origin.source, None, origin.position(i), None))
                else:
                    out.events.append(ev)
    return out


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
