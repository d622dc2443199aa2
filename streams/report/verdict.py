"""The meta-signal verdict of one journey/SLO, in words: is the SLO itself healthy?

The verdict is the detectors' word (streams/core/detect): the meta-signal anomalies of the journey/SLO
(``no_traffic``, ``policy_not_enforced``, ``burn_too_tight``, ``burn_too_loose``) whose newest message is
``firing``; with several firing, the most urgent wins in that order; with none, ``calibrated`` — but only
where the history can show it (``qualify``): "calibrated" is a claim about the 3-day burn average, so with
less than 72 h of history (or fewer events in it than ``detection.calibration.min_events``) the verdict is
``not_enough_history``, and an error budget already spent is ``budget_spent``, never green. The
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
NOT_ENOUGH_HISTORY = "not_enough_history"
BUDGET_SPENT = "budget_spent"

_URGENCY = ("no_traffic", "policy_not_enforced", "burn_too_tight", "burn_too_loose")
_ANOMALY_TO_VERDICT = {"burn_too_tight": TOO_TIGHT, "burn_too_loose": TOO_LOOSE,
                       "policy_not_enforced": POLICY_NOT_ENFORCED, "no_traffic": NO_TRAFFIC}

HEADLINES = {CALIBRATED: "calibrated", TOO_TIGHT: "too tight", TOO_LOOSE: "too loose",
             POLICY_NOT_ENFORCED: "policy not enforced", NO_TRAFFIC: "no traffic",
             NOT_ENOUGH_HISTORY: "not enough history", BUDGET_SPENT: "budget spent"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """``code`` is one of the seven constants above; ``headline`` its words; ``reason`` one sentence of why;
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


def _hours(ms: int) -> str:
    if ms < 3_600_000:
        return f"{ms // 60_000} min"
    h = ms / 3_600_000
    return f"{h:.0f} h" if h >= 10 or h == int(h) else f"{h:.1f} h"


def qualify(verdict: Verdict, *, history_ms: int, need_ms: int, events: int, min_events: int,
            budget_remaining: float | None, period_days: int) -> Verdict:
    """``verdict`` unless it is ``calibrated`` on evidence that cannot support it. ``history_ms``: the
    SLO's counted history (first window start to last window end); ``need_ms``: the calibration window
    (3 d); ``events``: real-user events in that window at the history's end; ``budget_remaining``: the
    trailing ``period_days`` budget (1 = untouched, < 0 = overspent; None = no events). A spent budget wins
    over too little history: whatever the calibration, the SLO is not healthy."""
    if verdict.code != CALIBRATED:
        return verdict
    short = history_ms < need_ms
    if budget_remaining is not None and budget_remaining < 0:
        why = (f"the {period_days}-day error budget is spent ({100 * budget_remaining:.1f}% remaining)"
               + (f"; not enough history to judge calibration: {_hours(history_ms)} of {_hours(need_ms)}"
                  if short else ""))
        return Verdict(BUDGET_SPENT, why, verdict.source)
    if short:
        return Verdict(NOT_ENOUGH_HISTORY, f"not enough history: {_hours(history_ms)} of {_hours(need_ms)} "
                       "(the 3-day burn average needs its whole window)", verdict.source)
    if events < min_events:
        return Verdict(NOT_ENOUGH_HISTORY, f"not enough history: {events:,} real-user events in the last "
                       f"{_hours(need_ms)}, calibration needs {min_events:,}", verdict.source)
    return verdict
