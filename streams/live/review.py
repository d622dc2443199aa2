"""The live worker's review: ``postmortem_required``, ``sli_misses_user_pain`` and
``sli_pain_unseen_by_users`` over the retained history (docs/user-reports.md, "Live").

The judgement is the finite runs' own (:func:`streams.core.detect.review.review`, ``anomalies_only``) over
what this worker holds: the merged counters of the SLOs it owns, the ``burn_spike`` anomalies its detector
sent for them, and every user report read from ``ops.user_reports``. What is live-specific is only *when*
an anomaly of that review is sent:

- **settled** (sent while the stream flows): the anomaly can no longer change with more input —
  ``postmortem_required`` and ``sli_pain_unseen_by_users`` once their burn episode has resolved and (for
  the latter) the SLO's detector has evaluated ``user_pain.match_window_s`` past its end;
  ``sli_misses_user_pain`` once every SLO of the journey has been evaluated ``match_window_s`` past the
  spike (a burn starting later cannot match it);
- **idle** (the detectors' own idle rule: ``windows.idle_timeout_s`` without a counter): everything the
  review finds, open episodes ending at the newest window with traffic — exactly what a finite run over
  the same records and reports writes to ``--anomalies``.

An id is sent again only when its document changed (an open episode judged at an idle moment that went on
afterwards): ``sli.anomalies`` is keyed by the id, so the latest document is the one that stays. Windows
without traffic are not history here: a quiet live worker keeps emitting empty windows by the clock
(``windows.emit_empty``), and they must not stretch an open episode past the last request.

Cost: one evaluation over 30 days of 1-minute windows of 8 SLOs takes about a quarter of a second
(docs/benchmarks.md, "Detectors"), so while the stream flows the review runs at most once per
``windows.size_s`` of wall time (``min_interval_s``); settled verdicts wait at most that long.

State (owned by the faust event loop, like the detector; no lock): counters, burn anomalies and reports
of the last ``detection.slo_period_days`` of event time before the newest window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from streams.config import Config
from streams.core.detect import Anomaly
from streams.core.detect.review import review
from streams.core.detect.user_reports import UserReport
from streams.core.model import WindowCounter

DAY_MS = 86_400_000


@dataclass(slots=True)
class ReviewStats:
    runs: int = 0  # review evaluations
    sent: int = 0  # anomaly documents sent (first sends and updates)


class LiveReview:
    """Feed counters (``observe``), the detector's anomalies (``observe_anomalies``) and user reports
    (``observe_report``); ``evaluate`` returns the anomalies to send now."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.match_ms = config.detection.user_pain.match_window_s * 1000
        self.retain_ms = config.detection.slo_period_days * DAY_MS
        self.counters: dict[tuple[str, str, int], WindowCounter] = {}
        self.burns: list[Anomaly] = []
        self.reports: list[UserReport] = []
        self.sent: dict[str, tuple[int, bytes]] = {}  # id → (window end, the document last sent)
        self.stats = ReviewStats()
        self._dirty = False  # input arrived since the last evaluation
        self._idle_done = False  # the idle evaluation has run since the last input
        self._newest = 0  # newest window end with traffic
        self.min_interval_s = float(config.windows.size_s)  # between two runs while the stream flows
        self._last_run = float("-inf")  # time.monotonic() of the last run

    def reset(self) -> None:
        """Forget counters and burn anomalies (the detector is rebuilt and re-sends them); reports and what
        was sent are kept — the feed is not re-read, and an unchanged document is not sent twice."""
        self.counters.clear()
        self.burns.clear()
        self._newest = 0
        self._input()

    def _input(self) -> None:
        self._dirty = True
        self._idle_done = False

    def observe(self, c: WindowCounter) -> None:
        if c.total == 0 and c.raw_total == 0 and not c.filtered:
            return  # an empty window is not history (module docstring)
        self.counters[(c.journey, c.slo, c.window_end_ms)] = c
        self._newest = max(self._newest, c.window_end_ms)
        self._input()

    def observe_anomalies(self, found: list[Anomaly]) -> None:
        burns = [a for a in found if a.type == "burn_spike"]
        if burns:
            self.burns.extend(burns)
            self._input()

    def observe_report(self, r: UserReport) -> None:
        self.reports.append(r)
        self._input()

    def evaluate(self, evaluated: dict[tuple[str, str], int | None], *, idle: bool) -> list[Anomaly]:
        """Run the review if input arrived since the last run (or, ``idle``, since the last idle run); the
        anomalies to send (see the module docstring). ``evaluated``: per (journey, slo) the newest window
        end its detector has judged (None: none yet)."""
        if not (self._dirty or (idle and not self._idle_done)) or not self.counters:
            return []
        now = time.monotonic()
        if not idle and now - self._last_run < self.min_interval_s:
            return []  # still dirty: the next tick past the interval runs it
        self._last_run = now
        self._dirty = False
        self._idle_done = idle
        self._prune()
        if not self.config.detection.postmortem.enabled and not self.reports:
            return []  # nothing this review can raise
        self.stats.runs += 1
        reports = sorted(self.reports, key=lambda r: r.ts_ms) if self.reports else None
        found = review(self.config, sorted(self.counters.values(), key=lambda c: c.window_end_ms), self.burns,
                       reports, anomalies_only=True).anomalies
        out = []
        for a in found:
            if not idle and not self._settled(a, evaluated):
                continue
            doc = orjson.dumps(a.to_dict())
            last = self.sent.get(a.id)
            if last is None or last[1] != doc:
                self.sent[a.id] = (a.window_end_ms, doc)
                out.append(a)
        self.stats.sent += len(out)
        return out

    def _settled(self, a: Anomaly, evaluated: dict[tuple[str, str], int | None]) -> bool:
        closed = a.window_end_ms < self._newest  # an unresolved episode ends at the newest window
        if a.type == "postmortem_required":
            return closed
        if a.type == "sli_pain_unseen_by_users":
            done = evaluated.get((a.journey, a.slo))
            return closed and done is not None and done >= a.window_end_ms + self.match_ms
        # sli_misses_user_pain: the journey's; every SLO of it must have been judged past the window.
        done = [t for (j, _), t in evaluated.items() if j == a.journey and t is not None]
        return bool(done) and all(t >= a.window_end_ms + self.match_ms for t in done)

    def _prune(self) -> None:
        horizon = self._newest - self.retain_ms
        stale = [k for k in self.counters if k[2] <= horizon]
        for k in stale:
            del self.counters[k]
        if self.reports and self.reports[0].ts_ms < horizon:
            self.reports = [r for r in self.reports if r.ts_ms >= horizon]
        if self.burns and min(a.ts_ms for a in self.burns) < horizon:
            self.burns = _prune_burns(self.burns, horizon)
        for i in [i for i, (end, _) in self.sent.items() if end <= horizon]:
            del self.sent[i]


def _prune_burns(burns: list[Anomaly], horizon: int) -> list[Anomaly]:
    """Drop the burn episodes that resolved before ``horizon``; a firing still open is kept."""
    keep: list[Anomaly] = []
    opened: dict[tuple, Anomaly] = {}
    for a in sorted(burns, key=lambda a: (a.ts_ms, a.state != "resolved")):
        k = (a.journey, a.slo, a.severity)
        if a.state == "firing":
            opened.setdefault(k, a)
        elif k in opened:
            first = opened.pop(k)
            if a.ts_ms >= horizon:
                keep.extend((first, a))
    keep.extend(opened.values())
    return keep
