"""Pyrra ``pyrra.dev/v1alpha1`` ServiceLevelObjective resources for the configured SLOs (``truesli rules``).

Contract: pure functions of a :class:`~streams.config.Config`; plain dicts out, one resource per SLO (Pyrra's
filesystem mode reads one object per file; the Kubernetes operator takes them with ``kubectl apply -f``).
Only fields of Pyrra's released CRD (v0.9) are used: ``metadata.name`` (a DNS-1123 label), ``spec.target``
(a percent, as a string), ``spec.window`` (the SLO period), ``spec.description``, ``spec.indicator.ratio``
with ``errors``/``total`` metrics and ``grouping``, and ``spec.alerting.name``.

Pyrra wraps the metrics in ``increase``/``rate`` itself and picks its own burn-rate windows from the SLO
window (for 30d roughly 1h/5m, 6h/30m, 1d/2h, 4d/6h), labels its alerts ``severity=critical|warning`` and
has no minimum-traffic guard: its alerts are Pyrra's, not the ones in ``prometheus-rules.yaml``.
"""

from __future__ import annotations

from typing import Any

from streams.config import Config, JourneyConfig, SLOConfig
from streams.rules import SLI_METRIC, _matchers, _num, alert_name, objective_percent, service_of

API_VERSION = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"


def resource_name(journey: JourneyConfig, slo: SLOConfig) -> str:
    """``checkout``/``availability`` → ``checkout-availability`` (lowercase, ``_`` → ``-``, ≤ 63 chars)."""
    text = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in f"{journey.name}-{slo.name}".lower())
    name = "-".join(part for part in text.split("-") if part)
    return name[:63].rstrip("-")


def pyrra_slo(journey: JourneyConfig, slo: SLOConfig, period_days: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": resource_name(journey, slo),
                     "labels": {"journey": journey.name, "slo": slo.name, "service": service_of(journey)}},
        "spec": {
            "target": _num(objective_percent(slo)),
            "window": f"{period_days}d",
            "description": (f"{journey.name} {slo.name}: real-user events counted by truesli (bots, scanners, "
                            "synthetics and background jobs filtered out)."),
            "indicator": {"ratio": {
                "errors": {"metric": SLI_METRIC + _matchers(journey.name, slo.name, "bad")},
                "total": {"metric": SLI_METRIC + _matchers(journey.name, slo.name)},
                "grouping": ["journey", "slo"],
            }},
            "alerting": {"name": alert_name(journey, slo)},
        },
    }


def pyrra_slos(config: Config) -> dict[str, dict[str, Any]]:
    """File name → ServiceLevelObjective, one per (journey, SLO)."""
    period = config.detection.slo_period_days
    return {f"{resource_name(j, s)}.yaml": pyrra_slo(j, s, period) for j in config.journeys for s in j.slos}
