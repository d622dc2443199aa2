"""The meta-signal verdict of one journey/SLO, in words: is the SLO itself healthy?

Two sources, one result type:

* :func:`verdict_from_anomalies` — the detectors' word (``--anomalies``): the latest *firing*
  ``no_traffic`` / ``policy_not_enforced`` / ``burn_too_tight`` / ``burn_too_loose`` anomaly of the
  journey/SLO, else calibrated. A type whose newest message is ``resolved`` no longer counts.
* :func:`verdict_from_counters` — the report's own fallback when no anomalies file is given, from the
  same numbers the charts show (the seed's meta-signals, DESIGN.md §6):

  1. ``no_traffic``: no real-user event in the last hour of history (a ratio with a zero denominator
     must become a signal, never NaN);
  2. ``policy_not_enforced``: error budget over the SLO period ≤ 0 and no ``freeze`` change event for
     the journey's service within that period;
  3. ``too_tight``: 3-day burn average > 1.5× (the long-window burn should be stationary around 1×);
  4. ``too_loose``: 3-day burn average < 0.3×;
  5. otherwise ``calibrated``.

  The first that holds wins. It is a point-in-time reading at the end of the history; the detector's
  "sustained" logic can replace it by passing its anomalies file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.report.inputs import Anomaly

TOO_TIGHT_ABOVE = 1.5
TOO_LOOSE_BELOW = 0.3

CALIBRATED = "calibrated"
TOO_TIGHT = "too_tight"
TOO_LOOSE = "too_loose"
POLICY_NOT_ENFORCED = "policy_not_enforced"
NO_TRAFFIC = "no_traffic"

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


def verdict_from_counters(*, recent_total: int, burn_3d: float | None, budget_remaining: float | None,
                          freeze_in_period: bool, period_days: float, changes_given: bool = True) -> Verdict:
    """The fallback verdict (rules in the module docstring). ``recent_total``: real-user events in the
    last hour; ``burn_3d``: burn rate over the last 3 days (None without traffic); ``budget_remaining``:
    1 − bad / allowed bad over the SLO period (None without traffic); ``freeze_in_period``: a freeze of the
    journey's service happened within the period; ``changes_given``: change events were supplied at all
    (without them "no freeze" is all we know, and the reason says so)."""
    if recent_total == 0:
        return Verdict(NO_TRAFFIC, "no real-user events in the last hour — an SLI without a denominator "
                                   "cannot alert", "counters")
    if budget_remaining is not None and budget_remaining <= 0 and not freeze_in_period:
        return Verdict(POLICY_NOT_ENFORCED,
                       f"error budget over the last {period_days:g} days is exhausted "
                       f"({100 * budget_remaining:.0f}% remaining) and no freeze was recorded"
                       + ("" if changes_given else " (no change events were given)"), "counters")
    if burn_3d is not None and burn_3d > TOO_TIGHT_ABOVE:
        return Verdict(TOO_TIGHT, f"3-day burn average {_x(burn_3d)} is above {TOO_TIGHT_ABOVE}×: the target is "
                                  "tighter than the system delivers", "counters")
    if burn_3d is not None and burn_3d < TOO_LOOSE_BELOW:
        return Verdict(TOO_LOOSE, f"3-day burn average {_x(burn_3d)} is below {TOO_LOOSE_BELOW}×: the target "
                                  "asks for less reliability than the system delivers", "counters")
    return Verdict(CALIBRATED, f"3-day burn average {_x(burn_3d)} is inside {TOO_LOOSE_BELOW}×–{TOO_TIGHT_ABOVE}×",
                   "counters")


def verdict_from_anomalies(anomalies: Iterable[Anomaly], journey: str, slo: str) -> Verdict:
    """The detectors' verdict for ``journey``/``slo`` (anomalies with ``slo`` null apply to every SLO)."""
    newest: dict[str, Anomaly] = {}
    for a in anomalies:
        if a.type not in _ANOMALY_TO_VERDICT or a.journey != journey or a.slo not in (slo, None):
            continue
        prev = newest.get(a.type)
        if prev is None or a.ts_ms >= prev.ts_ms:
            newest[a.type] = a
    firing = [a for a in newest.values() if a.state == "firing"]
    if not firing:
        return Verdict(CALIBRATED, "no meta-signal anomaly is firing", "anomalies")
    latest = max(firing, key=lambda a: a.ts_ms)
    return Verdict(_ANOMALY_TO_VERDICT[latest.type], f"detector anomaly {latest.type} ({latest.id or 'no id'}) "
                   "is firing", "anomalies")
