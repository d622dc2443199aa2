"""The detectors' gauges (``Detector.gauges()``) → Prometheus samples, for /metrics and remote-write.

Series (labels only from configured journeys/SLOs and the fixed MWMBR window names; never NaN — a window
without events has burn 0, an SLO never frozen has no ``seconds_since_freeze`` sample):
- ``truesli_slo_burn_rate{journey, slo, window}``
- ``truesli_slo_error_budget_remaining{journey, slo}`` — 1 − errors ÷ allowed errors over the SLO period
- ``truesli_slo_seconds_since_freeze{journey, slo}``
- ``truesli_slos_active``, ``truesli_slos_burning`` (1h burn > 1), ``truesli_slo_error_budget_remaining_avg``
- after a finite run's review (``gauges["review"]``, streams/core/detect/review.py; absent live):
  ``truesli_slo_user_pain_precision`` / ``_recall`` / ``_spearman{journey, slo, sli="cleaned"|"raw"}`` (a value
  that is undefined — zero burns, zero spikes, a constant side — has no sample) and
  ``truesli_slo_recommended_objective{journey, slo}``
Samples carry the event time of the window the detectors evaluated last.

Anomalies (embedded/replay pushes; the Grafana dashboard draws them as annotations):
- ``truesli_anomaly{type, journey, slo, severity, state}`` — one sample per anomaly event at its event time
  (``ts_ms``), value = how many anomalies with those labels fired or resolved at that instant (scanner
  episodes of several networks may share one). ``journey``/``slo`` are absent for program-wide anomalies.
  Labels come only from the detector's fixed types/severities and configured names (never networks).
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.detect.anomaly import Anomaly
from streams.sinks.series import Sample

GAUGE_HELP = {
    "truesli_slo_burn_rate": "error-budget burn rate per MWMBR window (errors/events ÷ (1 − objective))",
    "truesli_slo_error_budget_remaining": "share of the error budget left over the SLO period (≤ 0: exhausted)",
    "truesli_slo_seconds_since_freeze": "event-time seconds since the journey's service last froze deploys",
    "truesli_slos_active": "SLOs with real-user events in the SLO period",
    "truesli_slos_burning": "active SLOs whose 1h burn rate is above 1",
    "truesli_slo_error_budget_remaining_avg": "average error budget remaining over active SLOs",
    "truesli_slo_user_pain_precision": "share of burn episodes matched by a user-report spike",
    "truesli_slo_user_pain_recall": "share of user-report spikes matched by a burn episode",
    "truesli_slo_user_pain_spearman": "rank correlation of per-bucket user reports and errors (best lag)",
    "truesli_slo_recommended_objective": "objective at which the history's 3-day burn would have averaged 1",
}


def gauge_samples(gauges: dict) -> list[Sample]:
    out: list[Sample] = []
    latest = 0
    for s in gauges["slos"]:
        base = {"journey": s["journey"], "slo": s["slo"]}
        ts = s["at_ms"]
        latest = max(latest, ts)
        for window, value in s["burn_rates"].items():
            out.append(({"__name__": "truesli_slo_burn_rate", **base, "window": window}, ts, float(value)))
        out.append(({"__name__": "truesli_slo_error_budget_remaining", **base}, ts, float(s["budget_remaining"])))
        if s["seconds_since_freeze"] is not None:
            out.append(({"__name__": "truesli_slo_seconds_since_freeze", **base}, ts,
                        float(s["seconds_since_freeze"])))
    if gauges["slos"]:
        out.append(({"__name__": "truesli_slos_active"}, latest, float(gauges["active_slos"])))
        out.append(({"__name__": "truesli_slos_burning"}, latest, float(gauges["slos_burning"])))
        out.append(({"__name__": "truesli_slo_error_budget_remaining_avg"}, latest,
                    float(gauges["avg_budget_remaining"])))
    review = gauges.get("review")
    if review and gauges["slos"]:
        for a in review["agreement"]:
            base = {"journey": a["journey"], "slo": a["slo"], "sli": a["basis"]}
            for field in ("precision", "recall", "spearman"):
                if a[field] is not None:
                    out.append(({"__name__": f"truesli_slo_user_pain_{field}", **base}, latest, float(a[field])))
        for r in review["recommended_objectives"]:
            if r["recommended"] is not None:
                out.append(({"__name__": "truesli_slo_recommended_objective", "journey": r["journey"],
                             "slo": r["slo"]}, latest, float(r["recommended"])))
    return out


def anomaly_samples(anomalies: Iterable[Anomaly]) -> list[Sample]:
    """``truesli_anomaly`` samples, in time order per series (one per label set and instant)."""
    counts: dict[tuple[tuple[tuple[str, str], ...], int], int] = {}
    for a in anomalies:
        labels = (("__name__", "truesli_anomaly"), ("type", a.type), ("journey", a.journey or ""),
                  ("slo", a.slo or ""), ("severity", a.severity), ("state", a.state))
        key = (tuple((k, v) for k, v in labels if v), a.ts_ms)
        counts[key] = counts.get(key, 0) + 1
    return [(dict(labels), ts, float(n)) for (labels, ts), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
