"""The report's view model: merged counters (+ anomalies, change events) → per-SLO display series.

Pure: no I/O, no clock. Everything the charts draw is computed here, at full resolution first and then
reduced to at most ``max_points`` display buckets (downsampling), so a 90-day history of 1-minute windows
becomes a few hundred points per series. How each series is reduced is part of the contract, because it
decides what a reader can and cannot see:

* error rates and traffic are **re-aggregated** per bucket (bad/total of the bucket's summed counts;
  requests per minute of the bucket's covered windows) — exact, not sampled; where traffic is thin the
  error rate is taken over the trailing ``error_span`` buckets (about 100 events a point, said on the chart);
* burn rates are the **maximum** of the full-resolution rolling burn within the bucket, so a spike shorter
  than a bucket is never averaged away;
* error budget remaining is the value **at the end** of the bucket (it is a running state).

Never NaN: a bucket (or rolling window) without events has no ratio — the value is ``None`` and the chart
draws a gap; traffic without windows is 0.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.config import Config, SLOConfig
from streams.core.burn import WINDOWS_MS, BurnPolicy
from streams.core.detect import Anomaly, ChangeEvent
from streams.core.detect.recommend import Ceiling, Recommendation
from streams.core.detect.user_reports import UserReport
from streams.core.model import WindowCounter
from streams.core.text import escape_controls
from streams.report.verdict import Verdict, qualify, verdict_from_anomalies
from streams.core.detect.review import PainReview, review

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
DEFAULT_MAX_POINTS = 600
# Display bucket sizes a reader can take in at a glance (minutes).
_NICE_MINUTES = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 10080)
REAL_USERS = "real users"
AVERAGE_WINDOW = "3d"   # the seed's "3d burn average" — the long window of the slowest ticket condition


MAX_REASON_LAYERS = 10
"""Filter reasons drawn as their own traffic layer, the largest first; the rest are summed into one."""
OTHER_REASONS = "other reasons"
"""That layer's name (has a space, so no configured reason can be called it)."""


class ReportInputError(ValueError):
    """The inputs cannot make a report (e.g. counters of a journey/SLO the config does not define)."""


@dataclass(frozen=True, slots=True)
class Bucketing:
    """The shared time axis. ``step_ms``: the counters' window length; ``bucket_ms``: one display point."""

    step_ms: int
    bucket_ms: int
    start_ms: int
    n: int
    windows: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.n * self.bucket_ms

    @property
    def downsampled(self) -> bool:
        return self.bucket_ms > self.step_ms

    def index(self, ts_ms: int) -> int:
        return (ts_ms - self.start_ms) // self.bucket_ms

    def note(self) -> str:
        """What a reader must know about the points: said on every chart."""
        if not self.downsampled:
            return f"1 point = 1 window of {_duration(self.step_ms)} (not downsampled)"
        return (f"downsampled for display: 1 point = {_duration(self.bucket_ms)} "
                f"({self.bucket_ms // self.step_ms} windows of {_duration(self.step_ms)}; {self.windows:,} windows)")


def _duration(ms: int) -> str:
    if ms % DAY_MS == 0:
        return f"{ms // DAY_MS} d"
    if ms % (60 * MINUTE_MS) == 0:
        return f"{ms // (60 * MINUTE_MS)} h"
    if ms % MINUTE_MS == 0:
        return f"{ms // MINUTE_MS} min"
    return f"{ms / 1000:g} s"


def choose_bucketing(first_start_ms: int, last_end_ms: int, step_ms: int, max_points: int) -> Bucketing:
    """The smallest readable bucket (a multiple of the window step) giving at most ``max_points`` points."""
    if max_points < 2:
        raise ReportInputError("max_points must be at least 2")
    span = max(last_end_ms - first_start_ms, step_ms)
    need = -(-span // max_points)
    bucket = next((m * MINUTE_MS for m in _NICE_MINUTES if m * MINUTE_MS >= need), -(-need // DAY_MS) * DAY_MS)
    bucket = max(bucket, step_ms)
    bucket = -(-bucket // step_ms) * step_ms
    start = first_start_ms - first_start_ms % bucket
    n = -(-(last_end_ms - start) // bucket)
    # Aligning the first bucket can add one point; widen the bucket instead of exceeding the bar.
    while n > max_points:
        bucket += step_ms
        start = first_start_ms - first_start_ms % bucket
        n = -(-(last_end_ms - start) // bucket)
    return Bucketing(step_ms, bucket, start, max(n, 1), -(-span // step_ms))


@dataclass(slots=True)
class SloView:
    """Everything the report shows for one journey/SLO; series are aligned with the Bucketing."""

    journey: str
    slo: str
    kind: str
    objective: float
    service: str
    verdict: Verdict
    error_raw: list[float | None]
    error_real: list[float | None]
    traffic: dict[str, list[float]]
    nonuser_share: list[float | None]
    burn: dict[str, list[float | None]]
    thresholds: list[tuple[str, str, float]]
    budget: list[float | None]
    alerts: dict[str, list[tuple[int, int]]]
    anomalies: list[Anomaly]
    changes: list[ChangeEvent]
    good: int = 0
    total: int = 0
    raw_good: int = 0
    raw_total: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    burn_1h_now: float | None = None
    burn_avg_now: float | None = None
    budget_now: float | None = None
    period_total: int = 0  # real-user events in the SLO period ending at the history's end
    last_freeze_ms: int | None = None
    # The after-the-fact review (streams/core/detect/review.py): user reports of the journey (drawn on the
    # error-rate chart), the objective the history supports and, for a journey with depends_on, its ceiling.
    user_reports: list[UserReport] = field(default_factory=list)
    recommendation: Recommendation | None = None
    ceiling: Ceiling | None = None
    error_span: int = 1      # buckets per error-rate point (rolling; see MIN_EVENTS_PER_POINT)
    history_ms: int = 0      # first window start to last window end of this SLO's counters
    avg_events: int = 0      # real-user events in the 3-day average's window at the last window

    @property
    def has_data(self) -> bool:
        return self.windows > 0

    @property
    def nonuser_total(self) -> int:
        return sum(self.filtered.values())

    def share_not_users(self) -> float | None:
        seen = self.nonuser_total + self.total
        return None if seen == 0 else self.nonuser_total / seen


@dataclass(frozen=True, slots=True)
class Summary:
    """The seed's meta-dashboard across every journey/SLO. ``active``: SLOs with real-user events in the
    SLO period ending at the history's end — the detectors' definition (gauge ``truesli_slos_active``);
    ``burning``: SLOs whose 1-hour burn rate at their last window is above 1×."""

    slos: int
    active: int
    burning: int
    avg_budget_remaining: float | None


@dataclass(slots=True)
class ReportModel:
    bucketing: Bucketing | None
    period_days: int
    slos: list[SloView]
    summary: Summary
    first_ms: int | None
    last_ms: int | None
    verdict_source: str  # "anomalies" (a file) or "detectors" (run over these counters)
    changes_given: bool
    band: tuple[float, float] = (0.3, 1.5)  # the calibration band of the 3-day burn average (config)
    pain: PainReview | None = None  # agreement with user reports: set when reports were given


def _rolling(ends: Sequence[int], bad_prefix: Sequence[int], total_prefix: Sequence[int], i: int,
             span: int) -> tuple[int, int]:
    """(bad, total) of the windows ending in (ends[i] − span, ends[i]]."""
    j = bisect_left(ends, ends[i] - span + 1)
    return bad_prefix[i + 1] - bad_prefix[j], total_prefix[i + 1] - total_prefix[j]


def alert_spans(anomalies: Sequence[Anomaly], journey: str, slo: str, end_ms: int) -> dict[str, list[tuple[int, int]]]:
    """Per severity, the [fired, resolved] spans of the ``burn_spike`` episodes of ``journey``/``slo`` —
    the detectors' alerts, so the bars and the ▼ markers on one chart cannot disagree. An episode still
    open at the end of the history runs to ``end_ms`` (the last window end). Messages are taken in time
    order and repeated ids (at-least-once delivery) once; a ``resolved`` whose ``firing`` is not in the
    input spans from its window start, which the detector sets to the episode start."""
    seen: set[str] = set()
    spikes = []
    for a in sorted(anomalies, key=lambda a: (a.ts_ms, a.state != "resolved")):
        if a.type == "burn_spike" and a.journey == journey and a.slo == slo and a.id not in seen:
            seen.add(a.id)
            spikes.append(a)
    out: dict[str, list[tuple[int, int]]] = {}
    opened: dict[str, int] = {}
    for a in spikes:
        if a.state == "firing":
            opened.setdefault(a.severity, a.ts_ms)
        else:
            start = opened.pop(a.severity, a.window_start_ms)
            out.setdefault(a.severity, []).append((start, a.ts_ms))
    for severity, start in opened.items():
        out.setdefault(severity, []).append((start, max(start, end_ms)))
    return {sev: sorted(v) for sev, v in sorted(out.items())}


MIN_EVENTS_PER_POINT = 100
"""The error-rate chart's resolution follows the traffic: each point is the rate over enough trailing buckets
to hold about this many real-user events on average (and ~3 errors at the allowed rate), so 20 requests a
minute draw a readable line instead of a comb between 0 and 1/20 (capped at ``MAX_ERROR_SPAN`` buckets)."""
MAX_ERROR_SPAN = 60


def _error_span(totals: Sequence[int], allowed: float) -> int:
    """Buckets per error-rate point: enough for ``MIN_EVENTS_PER_POINT`` events, and for about 3 errors at
    the objective's allowed rate (a 99.9% SLO needs ~3,000 events before 0.1% is more than 0 or 1 error)."""
    busy = [t for t in totals if t]
    if not busy:
        return 1
    need = max(MIN_EVENTS_PER_POINT, math.ceil(3 / allowed)) if allowed > 0 else MIN_EVENTS_PER_POINT
    avg = sum(busy) / len(busy)
    return max(1, min(MAX_ERROR_SPAN, math.ceil(need / avg)))


def _slo_view(journey: str, service: str, slo_cfg: SLOConfig, rows: list[WindowCounter], b: Bucketing | None,
              anomalies: list[Anomaly], changes: list[ChangeEvent], period_ms: int, policy: BurnPolicy,
              verdict_override: Verdict, history_end_ms: int | None, min_events: int) -> SloView:
    objective = slo_cfg.objective
    allowed = 1.0 - objective
    n = b.n if b else 0
    long_windows = list(dict.fromkeys(c.long for c in policy.conditions))
    thresholds = [(c.severity, c.long, c.factor) for c in policy.conditions]
    view = SloView(journey=journey, slo=slo_cfg.name, kind=slo_cfg.kind, objective=objective, service=service,
                   verdict=Verdict("calibrated", "", "counters"), error_raw=[None] * n, error_real=[None] * n,
                   traffic={REAL_USERS: [0.0] * n}, nonuser_share=[None] * n,
                   burn={w: [None] * n for w in long_windows}, thresholds=thresholds, budget=[None] * n,
                   alerts={}, anomalies=[a for a in anomalies if a.journey in (journey, None)
                                         and a.slo in (slo_cfg.name, None)],
                   changes=[c for c in changes if c.service == service])
    freezes = [c.ts_ms for c in view.changes if c.kind == "freeze"]
    ends = [c.window_end_ms for c in rows]
    bad_prefix, total_prefix = [0], [0]
    for c in rows:
        bad_prefix.append(bad_prefix[-1] + c.total - c.good)
        total_prefix.append(total_prefix[-1] + c.total)
    if b is not None and rows:
        bad = [0] * n
        tot = [0] * n
        rbad = [0] * n
        rtot = [0] * n
        real = [0] * n
        nonuser = [0] * n
        covered = [0] * n
        by_reason: dict[str, list[int]] = {}
        last_row = [-1] * n
        for i, c in enumerate(rows):
            k = b.index(c.window_start_ms)
            bad[k] += c.total - c.good
            tot[k] += c.total
            rbad[k] += c.raw_total - c.raw_good
            rtot[k] += c.raw_total
            real[k] += c.total + sum(c.skipped.values())
            covered[k] += c.window_end_ms - c.window_start_ms
            for reason, v in c.filtered.items():
                by_reason.setdefault(reason, [0] * n)[k] += v
                nonuser[k] += v
                view.filtered[reason] = view.filtered.get(reason, 0) + v
            last_row[k] = i
            view.good += c.good
            view.total += c.total
            view.raw_good += c.raw_good
            view.raw_total += c.raw_total
        view.windows = len(rows)
        view.error_span = span = _error_span(tot, allowed)
        for k in range(n):
            lo = max(0, k - span + 1)
            view.error_real[k] = sum(bad[lo:k + 1]) / sum(tot[lo:k + 1]) if tot[k] else None
            view.error_raw[k] = sum(rbad[lo:k + 1]) / sum(rtot[lo:k + 1]) if rtot[k] else None
            seen = real[k] + nonuser[k]
            view.nonuser_share[k] = nonuser[k] / seen if seen else None
            minutes = covered[k] / MINUTE_MS
            view.traffic[REAL_USERS][k] = real[k] / minutes if minutes else 0.0
        ranked = sorted(by_reason, key=lambda r: (-sum(by_reason[r]), r))
        if len(ranked) > MAX_REASON_LAYERS:  # a counters file may name any number of reasons
            rest = ranked[MAX_REASON_LAYERS - 1:]
            by_reason[OTHER_REASONS] = [sum(by_reason[r][k] for r in rest) for k in range(n)]
            ranked = ranked[:MAX_REASON_LAYERS - 1] + [OTHER_REASONS]
        for reason in ranked:
            counts = by_reason[reason]
            view.traffic[reason] = [counts[k] / (covered[k] / MINUTE_MS) if covered[k] else 0.0 for k in range(n)]
        # Rolling burn rates at full resolution, reduced to the bucket maximum.
        for w in long_windows:
            span = WINDOWS_MS[w]
            out = view.burn[w]
            for i, c in enumerate(rows):
                wb, wt = _rolling(ends, bad_prefix, total_prefix, i, span)
                if wt == 0:
                    continue
                v = wb / wt / allowed
                k = b.index(c.window_start_ms)
                if out[k] is None or v > out[k]:
                    out[k] = v
        for k in range(n):
            i = last_row[k]
            if i < 0:
                continue
            pb, pt = _rolling(ends, bad_prefix, total_prefix, i, period_ms)
            view.budget[k] = 1.0 - pb / (allowed * pt) if pt else None
        last = len(rows) - 1
        hb, ht = _rolling(ends, bad_prefix, total_prefix, last, WINDOWS_MS["1h"])
        view.burn_1h_now = hb / ht / allowed if ht else None
        # The detectors evaluate every SLO through the newest window of the whole history (a missing window
        # is no traffic), so "active" is judged at that end, not at this SLO's own last window.
        view.period_total = total_prefix[-1] - total_prefix[bisect_left(ends, history_end_ms - period_ms + 1)]
        ab, at = _rolling(ends, bad_prefix, total_prefix, last, WINDOWS_MS[AVERAGE_WINDOW])
        view.burn_avg_now = ab / at / allowed if at else None
        view.avg_events = at
        view.history_ms = rows[-1].window_end_ms - rows[0].window_start_ms
        pb, pt = _rolling(ends, bad_prefix, total_prefix, last, period_ms)
        view.budget_now = 1.0 - pb / (allowed * pt) if pt else None
    end = rows[-1].window_end_ms if rows else None
    past = [t for t in freezes if end is None or t <= end]
    view.last_freeze_ms = past[-1] if past else None
    if history_end_ms is not None:
        view.alerts = alert_spans(view.anomalies, journey, slo_cfg.name, history_end_ms)
    view.verdict = qualify(verdict_override, history_ms=view.history_ms, need_ms=WINDOWS_MS[AVERAGE_WINDOW],
                           events=view.avg_events, min_events=min_events, budget_remaining=view.budget_now,
                           period_days=period_ms // DAY_MS)
    if not rows:  # not even an empty window was counted: the detectors had nothing to evaluate
        view.verdict = Verdict("no_traffic", "no counters for this SLO", verdict_override.source)
    return view


def build_model(config: Config, counters: Sequence[WindowCounter], *, anomalies: Sequence[Anomaly] | None = None,
                changes: Sequence[ChangeEvent] | None = None, max_points: int = DEFAULT_MAX_POINTS,
                period_days: int | None = None, policy: BurnPolicy | None = None,
                user_reports: Sequence[UserReport] | None = None) -> ReportModel:
    """The whole report's data. ``counters`` are merged counters (one per journey/SLO/window); every
    configured journey/SLO gets a view, with empty series when it has no counters. ``anomalies`` None
    means no anomalies file: the detectors (streams.runs.detection) run over these counters and changes, so
    the verdicts are the same meta-signals a live worker would emit; ``changes`` None means no change
    events were given (not "none happened"). The SLO period and burn policy default to the config's
    ``detection`` section; ``period_days`` replaces ``detection.slo_period_days`` for everything — budget
    chart, active SLOs and the detectors behind the verdicts — so they cannot disagree. Raises
    ReportInputError for counters of a journey/SLO the config does not define or a period outside the
    config's range. ``user_reports`` (None: not given) adds the agreement review (``model.pain``) and the
    reports drawn per journey; the recommended objective and ceiling are always computed."""
    if period_days is not None:
        if type(period_days) is not int or not 1 <= period_days <= 400:
            raise ReportInputError(f"the SLO period must be a whole number of days from 1 to 400 "
                                   f"(detection.slo_period_days' range), got {period_days!r}")
        config = config.model_copy(update={"detection": config.detection.model_copy(
            update={"slo_period_days": period_days})})
    period_days = config.detection.slo_period_days
    policy = policy or BurnPolicy.from_config(config.detection.burn)
    configured = {(j.name, s.name) for j in config.journeys for s in j.slos}
    by_slo: dict[tuple[str, str], list[WindowCounter]] = {}
    for c in counters:
        key = (c.journey, c.slo)
        if key not in configured:
            raise ReportInputError(f"the counters hold {escape_controls(c.journey)}/{escape_controls(c.slo)}, "
                                   "which the config does not define: "
                                   "pass the --config the counters were produced with")
        by_slo.setdefault(key, []).append(c)
    for rows in by_slo.values():
        rows.sort(key=lambda c: c.window_end_ms)
    b: Bucketing | None = None
    first = last = None
    if counters:
        first = min(c.window_start_ms for c in counters)
        last = max(c.window_end_ms for c in counters)
        step = min(c.window_end_ms - c.window_start_ms for c in counters)
        b = choose_bucketing(first, last, step, max_points)
    change_list = list(changes or ())
    verdict_source = "anomalies"
    if anomalies is None:
        from streams.runs.detection import detect

        verdict_source = "detectors"
        anomalies = detect(config, counters, change_list).anomalies
    anomaly_list = list(anomalies)
    period_ms = period_days * DAY_MS
    views: list[SloView] = []
    for j in config.journeys:
        service = j.service or j.name
        for s in j.slos:
            override = verdict_from_anomalies(anomaly_list, j.name, s.name, verdict_source)
            views.append(_slo_view(j.name, service, s, by_slo.get((j.name, s.name), []), b, anomaly_list,
                                   change_list, period_ms, policy, override, last,
                                   config.detection.calibration.min_events))
    pain = review(config, counters, anomaly_list, None if user_reports is None else list(user_reports))
    recs = {(r.journey, r.slo): r for r in pain.recommendations}
    ceilings = {(c.journey, c.slo): c for c in pain.ceilings}
    for v in views:
        v.recommendation, v.ceiling = recs.get((v.journey, v.slo)), ceilings.get((v.journey, v.slo))
        v.user_reports = [r for r in user_reports or () if r.journey == v.journey]
    budgets = [v.budget_now for v in views if v.budget_now is not None]
    summary = Summary(slos=len(views), active=sum(1 for v in views if v.period_total > 0),
                      burning=sum(1 for v in views if v.burn_1h_now is not None and v.burn_1h_now > 1.0),
                      avg_budget_remaining=sum(budgets) / len(budgets) if budgets else None)
    cal = config.detection.calibration
    return ReportModel(band=(cal.too_loose, cal.too_tight), bucketing=b, period_days=period_days, slos=views, summary=summary, first_ms=first,
                       last_ms=last, verdict_source=verdict_source,
                       changes_given=changes is not None, pain=pain if user_reports is not None else None)
