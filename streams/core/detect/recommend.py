"""The objective the history supports, and the composite ceiling of a journey's dependencies. Pure.

**Recommended objective**: the objective at which the 3-day burn rate would have averaged 1× over the
history. The 3-day burn at window end t is r(t) ÷ (1 − objective), r(t) the error ratio of the 3 days
ending at t; its mean is 1 exactly when objective = 1 − mean(r). The mean runs over the window ends with a
full 3 days behind them and events in them; a history shorter than 3 days uses its overall error ratio
(``basis`` says which). ``reduction`` is the share of errors to remove for the current objective to
average 1× (0 when it already does better).

**Composite ceiling**: a journey that needs services A, B, … can be no more available than
avail(A) × avail(B) × …, each service's availability being good ÷ total over the availability SLOs of the
journeys of that service in the history (cleaned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streams.core.detect.episodes import SloSeries

THREE_DAYS_MS = 3 * 86_400_000


@dataclass(frozen=True, slots=True)
class Recommendation:
    journey: str
    slo: str
    objective: float
    recommended: float | None
    mean_error_ratio: float | None
    reduction: float | None
    basis: str  # "3d" | "history" | "no events"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def recommend(series: SloSeries, objective: float) -> Recommendation:
    n = len(series.ends)
    span = THREE_DAYS_MS - THREE_DAYS_MS % series.step_ms if series.step_ms else THREE_DAYS_MS
    ratios: list[float] = []
    if n and series.ends[-1] - series.first_start_ms >= span:
        lo = 0
        bad = total = 0
        for i in range(n):
            bad += series.bad[i]
            total += series.total[i]
            while series.ends[lo] <= series.ends[i] - span:
                bad -= series.bad[lo]
                total -= series.total[lo]
                lo += 1
            if series.ends[i] - series.first_start_ms >= span and total > 0:
                ratios.append(bad / total)
        basis = "3d"
    else:
        total = sum(series.total)
        if total:
            ratios.append(sum(series.bad) / total)
        basis = "history"
    if not ratios:
        return Recommendation(series.journey, series.slo, objective, None, None, None, "no events")
    mean = math.fsum(ratios) / len(ratios)
    reduction = max(0.0, 1.0 - (1.0 - objective) / mean) if mean > 0 else 0.0
    return Recommendation(series.journey, series.slo, objective, 1.0 - mean, mean, reduction, basis)


@dataclass(frozen=True, slots=True)
class Ceiling:
    journey: str
    slo: str
    objective: float
    ceiling: float | None
    services: dict[str, float | None]
    above_ceiling: bool

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def composite_ceiling(journey: str, slo: str, objective: float, services: tuple[str, ...],
                      availability: dict[str, float]) -> Ceiling:
    """``availability`` by service; a service with no measured traffic leaves the ceiling unknown (None)."""
    per = {s: availability.get(s) for s in services}
    ceiling: float | None = 1.0
    for v in per.values():
        ceiling = None if v is None or ceiling is None else ceiling * v
    return Ceiling(journey, slo, objective, ceiling, per, ceiling is not None and objective > ceiling)
