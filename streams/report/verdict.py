"""The meta-signal verdict of one journey/SLO, in words: is the SLO itself healthy?

The verdict is the detectors' word (streams/core/detect): the meta-signal anomalies of the journey/SLO
(``no_traffic``, ``policy_not_enforced``, ``burn_too_tight``, ``burn_too_loose``) whose newest message is
``firing``; with several firing, the most urgent wins in that order; with none, ``calibrated``. The
anomalies come from ``--anomalies`` or, without it, from running the detectors over the report's own
counters and change events — one definition of each meta-signal, not a second one here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.core.timeparse import format_rfc3339
from streams.core.detect import Anomaly

CALIBRATED = "calibrated"
TOO_TIGHT = "too_tight"
TOO_LOOSE = "too_loose"
POLICY_NOT_ENFORCED = "policy_not_enforced"
NO_TRAFFIC = "no_traffic"

_URGENCY = ("no_traffic", "policy_not_enforced", "burn_too_tight", "burn_too_loose")
_ANOMALY_TO_VERDICT = {"burn_too_tight": TOO_TIGHT, "burn_too_loose": TOO_LOOSE,
                       "policy_not_enforced": POLICY_NOT_ENFORCED, "no_traffic": NO_TRAFFIC}

HEADLINES = {CALIBRATED: "calibrated", TOO_TIGHT: "too tight", TOO_LOOSE: "too loose",
             POLICY_NOT_ENFORCED: "policy not enforced", NO_TRAFFIC: "no traffic"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """``code`` is one of the five constants above; ``headline`` its words; ``reason`` one sentence of why;
    ``source`` is "anomalies" or "counters"."""

    code: str
    reason: str
    source: str

    @property
    def headline(self) -> str:
        return HEADLINES[self.code]


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}×"


def verdict_from_anomalies(anomalies: Iterable[Anomaly], journey: str, slo: str, source: str = "anomalies"
                           ) -> Verdict:
    """The detectors' verdict for ``journey``/``slo`` (anomalies with ``slo`` null apply to every SLO)."""
    newest: dict[str, Anomaly] = {}
    for a in anomalies:
        if a.type not in _ANOMALY_TO_VERDICT or a.journey != journey or a.slo not in (slo, None):
            continue
        prev = newest.get(a.type)
        if prev is None or a.ts_ms >= prev.ts_ms:
            newest[a.type] = a
    firing = {a.type: a for a in newest.values() if a.state == "firing"}
    if not firing:
        return Verdict(CALIBRATED, "no meta-signal anomaly is firing", source)
    worst = next(a for t, a in ((t, firing.get(t)) for t in _URGENCY) if a is not None)
    # The firing message's ts is when the detector fired. Its window start is not: for burn_too_* it is the
    # start of the 3-day window the average was taken over, days before anything fired.
    return Verdict(_ANOMALY_TO_VERDICT[worst.type], f"detector anomaly {worst.type} is firing since "
                   f"{format_rfc3339(worst.ts_ms)}", source)
