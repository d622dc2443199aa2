"""Does the SLI move when users hurt? Agreement of one SLO's burn episodes with user-report spikes, for
the cleaned and the raw SLI side by side, and the two verdicts it yields (docs/user-reports.md).

Definitions (all in event time, buckets of ``user_pain.bucket_s`` aligned to the epoch):
- **report spike**: a maximal run of buckets each holding ≥ max(``min_reports``, ``spike_factor`` × the
  journey's median bucket over the SLO's history) reports;
- **match**: a spike [s, e] and a burn episode [a, b] match when s ≤ b + W and e ≥ a − W, W =
  ``match_window_s`` (reports lag the pain; the long burn windows lag the errors);
- **precision** = burn episodes matched by a spike ÷ burn episodes (the burns users felt);
  **recall** = spikes matched by a burn episode ÷ spikes (the pain the SLI caught); None over zero;
- **spearman**: rank correlation (average ranks for ties) of per-bucket reports and per-bucket errors,
  reports lagged by 0…``max_lag_buckets`` buckets after the errors; the best lag is kept; None when either
  side is constant (a rank correlation of a constant is undefined, not 0).
Only journeys with at least one report in the input are judged: a missing feed is not missing pain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from streams.config import UserPainConfig
from streams.core.detect.anomaly import Anomaly
from streams.core.detect.episodes import Episode, SloSeries
from streams.core.detect.user_reports import UserReport


@dataclass(frozen=True, slots=True)
class Spike:
    start_ms: int
    end_ms: int
    reports: int
    kinds: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Agreement:
    """One SLO on one basis (``cleaned`` or ``raw``)."""

    journey: str
    slo: str
    basis: str
    burn_episodes: int
    report_spikes: int
    burns_matched: int
    spikes_matched: int
    precision: float | None
    recall: float | None
    spearman: float | None
    lag_buckets: int | None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=xs.__getitem__)
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's ρ (Pearson over average ranks); None for fewer than 3 pairs or a constant side."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / (sxx * syy) ** 0.5


def bucket_reports(reports: Iterable[UserReport], start_ms: int, n: int, bucket_ms: int
                   ) -> tuple[list[int], list[dict[str, int]]]:
    """Report counts (and counts by kind) per bucket for ``n`` buckets from ``start_ms``; outside: ignored."""
    counts, kinds = [0] * n, [dict() for _ in range(n)]
    for r in reports:
        i = (r.ts_ms - start_ms) // bucket_ms
        if 0 <= i < n:
            counts[i] += r.count
            kinds[i][r.kind] = kinds[i].get(r.kind, 0) + r.count
    return counts, kinds


def find_spikes(counts: Sequence[int], kinds: Sequence[dict[str, int]], start_ms: int, bucket_ms: int,
                cfg: UserPainConfig) -> tuple[list[Spike], float]:
    """The report spikes of one journey and the threshold that made them."""
    ordered = sorted(counts)
    median = ordered[len(ordered) // 2] if len(ordered) % 2 else (
        (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2 if ordered else 0)
    threshold = max(float(cfg.min_reports), cfg.spike_factor * median)
    spikes: list[Spike] = []
    run: list[int] = []
    for i in range(len(counts) + 1):
        if i < len(counts) and counts[i] >= threshold:
            run.append(i)
            continue
        if run:
            by_kind: dict[str, int] = {}
            for k in run:
                for kind, v in kinds[k].items():
                    by_kind[kind] = by_kind.get(kind, 0) + v
            spikes.append(Spike(start_ms + run[0] * bucket_ms, start_ms + (run[-1] + 1) * bucket_ms,
                                sum(counts[k] for k in run), tuple(sorted(by_kind.items()))))
            run = []
    return spikes, threshold


def _matches(s: Spike, e: Episode, w: int) -> bool:
    return s.start_ms <= e.end_ms + w and s.end_ms >= e.start_ms - w


def bucket_errors(series: SloSeries, raw: bool, start_ms: int, n: int, bucket_ms: int) -> list[int]:
    out = [0] * n
    for end, b in zip(series.ends, series.raw_bad if raw else series.bad):
        i = (end - 1 - start_ms) // bucket_ms  # a window belongs to the bucket holding its last instant
        if 0 <= i < n:
            out[i] += b
    return out


def agreement(series: SloSeries, basis: str, episodes: Sequence[Episode], spikes: Sequence[Spike],
              reports_per_bucket: Sequence[int], start_ms: int, cfg: UserPainConfig) -> Agreement:
    """Agreement of one SLO on one basis; ``reports_per_bucket`` starts at ``start_ms``."""
    w, bucket_ms = cfg.match_window_s * 1000, cfg.bucket_s * 1000
    burns_matched = sum(1 for e in episodes if any(_matches(s, e, w) for s in spikes))
    spikes_matched = sum(1 for s in spikes if any(_matches(s, e, w) for e in episodes))
    errors = bucket_errors(series, basis == "raw", start_ms, len(reports_per_bucket), bucket_ms)
    best: tuple[float, int] | None = None
    for lag in range(min(cfg.max_lag_buckets, max(0, len(errors) - 3)) + 1):
        rho = spearman(errors[:len(errors) - lag], reports_per_bucket[lag:])
        if rho is not None and (best is None or rho > best[0] + 1e-12):
            best = (rho, lag)
    return Agreement(series.journey, series.slo, basis, len(episodes), len(spikes), burns_matched, spikes_matched,
                     burns_matched / len(episodes) if episodes else None,
                     spikes_matched / len(spikes) if spikes else None,
                     None if best is None else round(best[0], 6), None if best is None else best[1])


def verdicts(journey: str, episodes_by_slo: dict[str, Sequence[Episode]], spikes: Sequence[Spike],
             threshold: float, cfg: UserPainConfig) -> list[Anomaly]:
    """``sli_misses_user_pain`` per spike that no burn episode of any SLO of the journey matches (the
    anomaly is the journey's: slo None), ``sli_pain_unseen_by_users`` per SLO burn episode of ≥
    ``unseen_min_s`` that no spike matches. Cleaned SLI only: it is the one the SLO is judged on."""
    w = cfg.match_window_s * 1000
    out: list[Anomaly] = []
    for s in spikes:
        if not any(_matches(s, e, w) for eps in episodes_by_slo.values() for e in eps):
            out.append(Anomaly("sli_misses_user_pain", "firing", journey, None, "ticket", s.start_ms, s.end_ms,
                               s.end_ms, s.start_ms, evidence={
                                   "reports": s.reports, "kinds": dict(s.kinds), "spike_threshold": threshold,
                                   "matching_window_s": cfg.match_window_s,
                                   "burn_episodes": {slo: len(eps) for slo, eps in sorted(episodes_by_slo.items())}}))
    for slo, eps in sorted(episodes_by_slo.items()):
        for e in eps:
            if e.end_ms - e.start_ms >= cfg.unseen_min_s * 1000 and not any(_matches(s, e, w) for s in spikes):
                out.append(Anomaly("sli_pain_unseen_by_users", "firing", journey, slo, "info", e.start_ms, e.end_ms,
                                   e.end_ms, e.start_ms, evidence={
                                       "burn_s": (e.end_ms - e.start_ms) // 1000, "report_spikes": len(spikes),
                                       "matching_window_s": cfg.match_window_s}))
    return out
