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

from streams.core.detect.review import PainReview, review

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
    review: PainReview | None = None


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


def with_review(config: Config, counters: list[WindowCounter], found: DetectionResult,
                reports: list | None) -> DetectionResult:
    """Add the after-the-fact review (streams/core/detect/review.py): its anomalies join the detectors', in order."""
    rev = review(config, counters, found.anomalies, reports)
    found.anomalies = sorted(found.anomalies + rev.anomalies, key=sort_key)
    found.review = rev
    found.gauges = {**found.gauges, "review": rev.to_dict()}
    return found


def detect_run(config: Config, result: RunResult, changes: list[str] | None, anomalies_path: str | None,
               out: TextIO, now_ms: int, dead_letters_path: str | None = None,
               user_reports: list[str] | None = None) -> DetectionResult:
    """Run the detectors over a finished run: change events from ``changes`` and user reports from
    ``user_reports`` (both read leniently: a bad line is reported on stderr and appended to
    ``dead_letters_path`` as a ``bad_change_event``/``bad_user_report``, stamped ``now_ms``), then the
    review (postmortems, objectives; agreement when reports are given); anomalies to ``anomalies_path``
    (JSON lines), the summary of what fired to ``out``."""
    from streams.sinks.files import JsonLinesSink
    from streams.sources.change_files import read_changes
    from streams.sources.user_reports import read_user_reports

    change_input = read_changes(changes or [], strict=False)
    report_input = read_user_reports(config, user_reports, strict=False) if user_reports else None
    abuse = result.abuse.finish() if result.abuse is not None else []
    counters = result.book.merged()
    found = detect(config, counters, change_input.events, abuse)
    found = with_review(config, counters, found, None if report_input is None else report_input.reports)
    if anomalies_path:
        sink = JsonLinesSink(anomalies_path)
        try:
            sink.add(a.to_dict() for a in found.anomalies)
        finally:
            sink.close()
    _dead_letter(change_input.dead_letters, "change-event lines are not change events", dead_letters_path, now_ms)
    if report_input is not None:
        _dead_letter(report_input.dead_letters, "user-report lines are not user reports", dead_letters_path, now_ms)
    first, last = result.span()
    history_ms = last - first if first is not None and last is not None else 0
    out.write(render_anomalies(found, len(change_input.events), anomalies_path, history_ms=history_ms,
                               min_history_s=config.detection.policy_min_history_s,
                               period_days=config.detection.slo_period_days))
    if report_input is not None:
        out.write(render_agreement(found, report_input.lines, len(report_input.dead_letters)))
    return found


def _dead_letter(letters: list, what: str, path: str | None, now_ms: int) -> None:
    from streams.sinks.files import JsonLinesSink
    from streams.sinks.serialize import dead_letter_to_dict

    if not letters:
        return
    first = letters[0]
    print(f"truesli: {len(letters)} {what} (first: {first.source} line {first.offset}: {first.error})"
          + (f"; dead-lettered to {path}" if path else ""), file=sys.stderr)
    if path:
        sink = JsonLinesSink(path, append=True)
        try:
            sink.add(dead_letter_to_dict(d, now_ms) for d in letters)
        finally:
            sink.close()


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def render_agreement(found: DetectionResult, lines: int, bad: int) -> str:
    """The agreement table: per SLO, cleaned and raw side by side."""
    rev = found.review
    assert rev is not None
    out = [f"\nUser pain ({lines - bad} user-report lines, {rev.reports} reports; {bad} dead-lettered): "
           "precision = burns users reported, recall = report spikes the SLI burned for"]
    for a in rev.agreements:
        rho = "-" if a.spearman is None else f"{a.spearman:+.2f} (lag {a.lag_buckets})"
        out.append(f"  {a.journey}/{a.slo:<13} {a.basis:<7} burns {a.burn_episodes:>2} spikes {a.report_spikes:>2} "
                   f"precision {_pct(a.precision):>4} recall {_pct(a.recall):>4} spearman {rho}")
    return "\n".join(out) + "\n"


def _span(ms: int) -> str:
    if ms >= 2 * 86_400_000:
        return f"{ms / 86_400_000:.1f} days"
    if ms >= 3_600_000:
        return f"{ms // 3_600_000} h" if ms % 3_600_000 == 0 else f"{ms / 3_600_000:.1f} h"
    return f"{ms // 60_000} min"


def render_anomalies(found: DetectionResult, n_changes: int, path: str | None, *, history_ms: int | None = None,
                     min_history_s: int = 86_400, period_days: int = 30) -> str:
    """The text summary of a detection: firing anomalies by type, the first few one per line, and the
    SLO-program gauges. With less history than ``min_history_s`` (the budget policy's own minimum) the
    budget figure says it is too little data to judge a ``period_days``-day budget."""
    from streams.report.summary import plural

    firing = [a for a in found.anomalies if a.state == "firing"]
    lines = [f"\nDetection ({plural(n_changes, 'change event')}): {plural(len(firing), 'anomaly', 'anomalies')} "
             "fired" + (f" → {path}" if path else "")]
    by_type = Counter(a.type for a in firing)
    if by_type:
        lines.append("  " + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())))
    for a in firing[:MAX_LISTED]:
        where = f"{a.journey}/{a.slo}" if a.journey else (a.key or "-")
        lines.append(f"  {format_rfc3339(a.ts_ms)} {a.type:<20} {a.severity:<6} {where}")
    if len(firing) > MAX_LISTED:
        lines.append(f"  … {len(firing) - MAX_LISTED} more")
    g = found.gauges
    caveat = ""
    if history_ms is not None and history_ms < min_history_s * 1000:
        caveat = (f" — too little data: {_span(history_ms)} of history for a {period_days}-day budget "
                  f"(judged from {_span(min_history_s * 1000)})")
    lines.append(f"  SLO program: {plural(g['active_slos'], 'active SLO')}, {g['slos_burning']} burning > 1× (1h), "
                 f"average budget remaining {100 * g['avg_budget_remaining']:.1f}%{caveat}")
    return "\n".join(lines) + "\n"
