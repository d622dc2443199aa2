"""The review of an SLO history: agreement of the SLI with user reports (cleaned and raw),
``postmortem_required`` per costly burn episode, the recommended objective and the composite ceiling per
SLO. Run once after a finite run (``process``, ``replay``, ``report``: streams/runs/detection.py) and, over
the retained history, by the live worker (streams/live/review.py). Composition only: every definition lives
in streams/core/detect (agreement, postmortem, recommend, episodes). Pure.

The raw SLI's burn episodes come from the same ``Detector`` run over the raw counts (``raw_good`` /
``raw_total`` as good/total): one burn definition for both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from streams.config import Config
from streams.core.detect import Anomaly, Detector
from streams.core.detect.agreement import Agreement, agreement, bucket_reports, find_spikes, verdicts
from streams.core.detect.episodes import burn_episodes, slo_series
from streams.core.detect.postmortem import postmortems
from streams.core.detect.recommend import Ceiling, Recommendation, composite_ceiling, recommend
from streams.core.detect.user_reports import UserReport
from streams.core.model import WindowCounter


@dataclass(slots=True)
class PainReview:
    agreements: list[Agreement] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    ceilings: list[Ceiling] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    reports: int = 0

    def to_dict(self) -> dict:
        return {"agreement": [a.to_dict() for a in self.agreements],
                "recommended_objectives": [r.to_dict() for r in self.recommendations],
                "composite_ceilings": [c.to_dict() for c in self.ceilings], "user_reports": self.reports}


def _raw_episodes(config: Config, counters: Sequence[WindowCounter], until_ms: int):
    detector = Detector(config)
    for c in counters:
        detector.observe(replace(c, good=c.raw_good, total=c.raw_total, filtered={}, networks={}))
    return burn_episodes(detector.finish(), until_ms)


def review(config: Config, counters: Iterable[WindowCounter], anomalies: Sequence[Anomaly],
           reports: Sequence[UserReport] | None, *, anomalies_only: bool = False) -> PainReview:
    """``reports`` None: no report input (no agreement, no pain verdicts); postmortems and objectives still.
    ``anomalies``: the detection's anomalies (its ``burn_spike`` ones make the burn episodes; an unresolved
    episode ends at the newest window end of ``counters``). ``anomalies_only``: only ``out.anomalies`` (no
    objectives, ceilings or agreement figures — the raw side's second detector run is skipped); the
    anomalies are the same either way."""
    counters = list(counters)
    step_ms = config.windows.size_s * 1000
    series = slo_series(counters, step_ms)
    until = max((s.ends[-1] for s in series.values() if s.ends), default=0)
    clean = burn_episodes(anomalies, until)
    out = PainReview(reports=0 if reports is None else sum(r.count for r in reports))
    d = config.detection
    objectives = {(j.name, s.name): s for j in config.journeys for s in j.slos}
    if d.postmortem.enabled:
        for key, s in sorted(series.items()):
            if key in objectives:
                out.anomalies.extend(postmortems(s, objectives[key].objective, clean.get(key, []),
                                                 d.slo_period_days, d.postmortem.budget_share))
    availability: dict[str, list[int]] = {}
    for j in config.journeys if not anomalies_only else ():
        for slo in j.slos:
            s = series.get((j.name, slo.name))
            if s is None:
                continue
            out.recommendations.append(recommend(s, slo.objective))
            if slo.kind == "availability":
                acc = availability.setdefault(j.service or j.name, [0, 0])
                acc[0] += sum(s.total) - sum(s.bad)
                acc[1] += sum(s.total)
    avail = {svc: good / total for svc, (good, total) in availability.items() if total}
    for j in config.journeys if not anomalies_only else ():
        if j.depends_on:
            services = tuple(dict.fromkeys((j.service or j.name, *j.depends_on)))
            for slo in j.slos:
                if slo.kind == "availability":
                    out.ceilings.append(composite_ceiling(j.name, slo.name, slo.objective, services, avail))
    if reports is None:
        return out
    pain = d.user_pain
    bucket_ms = pain.bucket_s * 1000
    raw = {} if anomalies_only else _raw_episodes(config, counters, until)
    judged = {r.journey for r in reports}
    for j in config.journeys:
        keyed = [(slo, series.get((j.name, slo.name))) for slo in j.slos]
        keyed = [(slo, s) for slo, s in keyed if s is not None and s.ends]
        if j.name not in judged or not keyed:
            continue
        start = min(s.first_start_ms for _, s in keyed)
        start -= start % bucket_ms
        n = (max(s.ends[-1] for _, s in keyed) - start + bucket_ms - 1) // bucket_ms
        mine = [r for r in reports if r.journey == j.name]
        counts, kinds = bucket_reports(mine, start, n, bucket_ms)
        spikes, threshold = find_spikes(counts, kinds, start, bucket_ms, pain)
        for slo, s in keyed if not anomalies_only else ():
            key = (j.name, slo.name)
            out.agreements.append(agreement(s, "cleaned", clean.get(key, []), spikes, counts, start, pain))
            out.agreements.append(agreement(s, "raw", raw.get(key, []), spikes, counts, start, pain))
        out.anomalies.extend(verdicts(j.name, {slo.name: clean.get((j.name, slo.name), []) for slo, _ in keyed},
                                      spikes, threshold, pain))
    return out
