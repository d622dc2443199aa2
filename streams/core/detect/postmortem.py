"""``postmortem_required``: one burn episode spent ≥ ``detection.postmortem.budget_share`` of the SLO
period's error budget (the seed's "single-incident postmortem trigger ≥ 20% of 28-day budget burned").

- **spent**: errors of the windows ending in (episode start − 1 h, episode end] — the hour before the
  first firing holds the errors that made it fire — never reaching back before the previous episode's end;
- **budget**: (1 − objective) × the events of the SLO period ending at the episode end; when the history is
  shorter than the period, its events are scaled up to the period (``extrapolated`` in the evidence);
- one anomaly per episode, firing only (the episode is over when it is judged). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from streams.core.detect.anomaly import Anomaly
from streams.core.detect.episodes import Episode, SloSeries

LEAD_MS = 3_600_000
DAY_MS = 86_400_000


def postmortems(series: SloSeries, objective: float, episodes: Sequence[Episode], period_days: int,
                share: float) -> list[Anomaly]:
    out: list[Anomaly] = []
    if not series.ends:
        return out
    period_ms = period_days * DAY_MS
    prefix_bad, prefix_total = [0], [0]
    for b, t in zip(series.bad, series.total):
        prefix_bad.append(prefix_bad[-1] + b)
        prefix_total.append(prefix_total[-1] + t)

    def summed(prefix: list[int], lo_ms: int, hi_ms: int) -> int:  # windows ending in (lo, hi]
        return prefix[bisect_right(series.ends, hi_ms)] - prefix[bisect_right(series.ends, lo_ms)]

    prev_end = None
    for e in episodes:
        lo = e.start_ms - LEAD_MS if prev_end is None else max(e.start_ms - LEAD_MS, prev_end)
        prev_end = e.end_ms
        spent = summed(prefix_bad, lo, e.end_ms)
        history_ms = e.end_ms - series.first_start_ms
        events = summed(prefix_total, e.end_ms - period_ms, e.end_ms)
        extrapolated = history_ms < period_ms
        if extrapolated and history_ms > 0:
            events = events * period_ms / history_ms
        budget = (1.0 - objective) * events
        if budget <= 0 or spent / budget < share:
            continue
        out.append(Anomaly("postmortem_required", "firing", series.journey, series.slo, "ticket", lo, e.end_ms,
                           e.end_ms, e.start_ms, evidence={
                               "budget_share": round(spent / budget, 6), "threshold": share, "errors": spent,
                               "budget_errors": round(budget, 3), "slo_period_days": period_days,
                               "span_s": (e.end_ms - lo) // 1000, "extrapolated": extrapolated}))
    return out


