"""Multi-window, multi-burn-rate (MWMBR) evaluation over merged window counters, in event time.

burn(W, t) = (bad / total over the windows ending in (t − W, t]) ÷ (1 − objective). At every window end t:
page when burn(1h) and burn(5m) exceed 14.4, or burn(6h) and burn(30m) exceed 6; ticket when burn(1d) and
burn(2h) exceed 3, or burn(3d) and burn(6h) exceed 1. A condition also needs at least ``min_events`` events
in its long window, so a handful of errors at 3 AM cannot page. A window with no traffic has no burn
(never NaN). The same thresholds are what ``truesli rules`` generates for Prometheus.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streams.config import BurnConfig
from streams.core.model import WindowCounter

MINUTE = 60_000
WINDOWS_MS = {"5m": 5 * MINUTE, "30m": 30 * MINUTE, "1h": 60 * MINUTE, "2h": 120 * MINUTE,
              "6h": 360 * MINUTE, "1d": 1440 * MINUTE, "3d": 4320 * MINUTE}


@dataclass(frozen=True, slots=True)
class BurnCondition:
    """Fire when the burn rate over both windows exceeds ``factor`` and the long window has ≥ min_events."""

    severity: str  # page | ticket
    long: str
    short: str
    factor: float
    min_events: int


@dataclass(frozen=True, slots=True)
class BurnPolicy:
    """The four MWMBR conditions (Google SRE workbook defaults) with their low-traffic guards."""

    # The defaults are BurnConfig's (streams/config/sli.py): the one definition of the numbers.
    conditions: tuple[BurnCondition, ...] = field(
        default_factory=lambda: BurnPolicy.from_config(BurnConfig()).conditions)

    @classmethod
    def of(cls, page: float, page_slow: float, ticket: float, ticket_slow: float, min_events: int,
           min_ticket_events: int) -> "BurnPolicy":
        """The four conditions with these factors (1h&5m, 6h&30m, 1d&2h, 3d&6h) and traffic guards."""
        return cls((BurnCondition("page", "1h", "5m", page, min_events),
                    BurnCondition("page", "6h", "30m", page_slow, min_events),
                    BurnCondition("ticket", "1d", "2h", ticket, min_ticket_events),
                    BurnCondition("ticket", "3d", "6h", ticket_slow, min_ticket_events)))

    @classmethod
    def from_config(cls, burn: BurnConfig) -> "BurnPolicy":
        return cls.of(burn.page, burn.page_slow, burn.ticket, burn.ticket_slow, burn.min_events,
                      burn.min_ticket_events)

    def unguarded(self) -> "BurnPolicy":
        return BurnPolicy(tuple(BurnCondition(c.severity, c.long, c.short, c.factor, 0) for c in self.conditions))


def burn_rate(bad: int, total: int, objective: float) -> float | None:
    """bad/total ÷ (1 − objective); None (not NaN) when the window has no events."""
    return bad / total / (1.0 - objective) if total > 0 else None


def firing(sums: Mapping[str, tuple[int, int]], objective: float, policy: BurnPolicy) -> dict[str, BurnCondition]:
    """Severity → the first condition that holds, given (bad, total) per MWMBR window name.

    A condition holds when its long window has ≥ ``min_events`` events and the burn over both windows is
    strictly above ``factor`` — exactly the ``>`` and ``>=`` of the generated Prometheus rules."""
    out: dict[str, BurnCondition] = {}
    for cond in policy.conditions:
        if cond.severity in out:
            continue
        lb, lt = sums[cond.long]
        sb, st = sums[cond.short]
        if lt == 0 or st == 0 or lt < cond.min_events:
            continue
        if burn_rate(lb, lt, objective) > cond.factor and burn_rate(sb, st, objective) > cond.factor:
            out[cond.severity] = cond
    return out


def alert_windows(counters: Sequence[WindowCounter], objective: float,
                  policy: BurnPolicy | None = None) -> dict[str, list[int]]:
    """Window ends (epoch ms) at which each severity's condition holds, for one journey/SLO's counters.
    ``policy`` defaults to the configured defaults (``BurnConfig()``)."""
    policy = policy if policy is not None else BurnPolicy()
    rows = sorted(counters, key=lambda c: c.window_end_ms)
    ends = [c.window_end_ms for c in rows]
    bad_prefix = [0]
    total_prefix = [0]
    for c in rows:
        bad_prefix.append(bad_prefix[-1] + c.total - c.good)
        total_prefix.append(total_prefix[-1] + c.total)
    out: dict[str, list[int]] = {"page": [], "ticket": []}

    def sums(i: int, span: int) -> tuple[int, int]:
        # windows ending in (ends[i] − span, ends[i]] are rows j with ends[j] > ends[i] − span
        j = bisect_left(ends, ends[i] - span + 1)
        return bad_prefix[i + 1] - bad_prefix[j], total_prefix[i + 1] - total_prefix[j]

    for i, end in enumerate(ends):
        fired = firing({w: sums(i, ms) for w, ms in WINDOWS_MS.items()}, objective, policy)
        for severity in sorted(fired):
            out[severity].append(end)
    return out


def spans(ends: Sequence[int], step_ms: int) -> list[tuple[int, int]]:
    """Coalesce window ends into [start, end] spans of consecutive windows (for reports)."""
    out: list[tuple[int, int]] = []
    for end in ends:
        if out and end - out[-1][1] <= step_ms:
            out[-1] = (out[-1][0], end)
        else:
            out.append((end - step_ms, end))
    return out
