"""Multi-window, multi-burn-rate (MWMBR) evaluation over merged window counters, in event time.

burn(W, t) = (bad / total over the windows ending in (t − W, t]) ÷ (1 − objective). At every window end t:
page when burn(1h) and burn(5m) exceed 14.4, or burn(6h) and burn(30m) exceed 6; ticket when burn(1d) and
burn(2h) exceed 3, or burn(3d) and burn(6h) exceed 1. A condition also needs at least ``min_events`` events
in its long window, so a handful of errors at 3 AM cannot page. A window with no traffic has no burn
(never NaN). The same thresholds are what ``truesli rules`` generates for Prometheus.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from streams.model import WindowCounter

MINUTE = 60_000
WINDOWS_MS = {"5m": 5 * MINUTE, "30m": 30 * MINUTE, "1h": 60 * MINUTE, "2h": 120 * MINUTE,
              "6h": 360 * MINUTE, "1d": 1440 * MINUTE, "3d": 4320 * MINUTE}


@dataclass(frozen=True, slots=True)
class BurnPolicy:
    """(severity, long window, short window, factor) conditions and the low-traffic guard."""

    conditions: tuple[tuple[str, str, str, float], ...] = (
        ("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0),
        ("ticket", "1d", "2h", 3.0), ("ticket", "3d", "6h", 1.0))
    min_events: int = 100


def alert_windows(counters: Sequence[WindowCounter], objective: float,
                  policy: BurnPolicy = BurnPolicy()) -> dict[str, list[int]]:
    """Window ends (epoch ms) at which each severity's condition holds, for one journey/SLO's counters."""
    rows = sorted(counters, key=lambda c: c.window_end_ms)
    ends = [c.window_end_ms for c in rows]
    bad_prefix = [0]
    total_prefix = [0]
    for c in rows:
        bad_prefix.append(bad_prefix[-1] + c.total - c.good)
        total_prefix.append(total_prefix[-1] + c.total)
    budget = 1.0 - objective
    out: dict[str, list[int]] = {"page": [], "ticket": []}

    def sums(i: int, span: int) -> tuple[int, int]:
        # windows ending in (ends[i] − span, ends[i]] are rows j with ends[j] > ends[i] − span
        j = bisect_left(ends, ends[i] - span + 1)
        return bad_prefix[i + 1] - bad_prefix[j], total_prefix[i + 1] - total_prefix[j]

    for i, end in enumerate(ends):
        fired: set[str] = set()
        for severity, long_w, short_w, factor in policy.conditions:
            if severity in fired:
                continue
            lb, lt = sums(i, WINDOWS_MS[long_w])
            sb, st = sums(i, WINDOWS_MS[short_w])
            if lt < policy.min_events or lt == 0 or st == 0:
                continue
            if lb / lt / budget > factor and sb / st / budget > factor:
                fired.add(severity)
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
