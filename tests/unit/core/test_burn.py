"""MWMBR alert conditions over merged counters (event time), with the low-traffic guard and no NaN."""

from __future__ import annotations

from streams.core.burn import BurnPolicy, alert_windows, spans
from streams.core.model import WindowCounter

MIN = 60_000
T0 = 1_767_225_600_000


def series(n_minutes: int, per_minute: int, bad_at: dict[int, int]) -> list[WindowCounter]:
    return [WindowCounter("checkout", "availability", T0 + i * MIN, T0 + (i + 1) * MIN,
                          good=per_minute - bad_at.get(i, 0), total=per_minute)
            for i in range(n_minutes)]


def test_sustained_burst_pages_and_quiet_traffic_does_not():
    # 1,000 events/min for 3 h; minutes 120..179 have 5% errors against a 99.9% objective (burn 50×).
    counters = series(180, 1000, {i: 50 for i in range(120, 180)})
    fired = alert_windows(counters, 0.999)
    # The 6h & 30m condition fires first: at the end of minute 137 the 6h window holds 137 minutes of
    # traffic with 17 bad minutes (850 / 137,000 = 0.62% → burn 6.2 > 6) and the 30m burn is 28.3.
    # (The 1h burn is then 850 / 60,000 → 14.17, still under 14.4.)
    assert fired["page"] == [T0 + m * MIN for m in range(137, 181)]


def test_a_handful_of_errors_at_night_does_not_page():
    counters = series(180, 0, {})
    counters[60] = WindowCounter("checkout", "availability", T0 + 60 * MIN, T0 + 61 * MIN, good=1, total=2)
    assert alert_windows(counters, 0.999) == {"page": [], "ticket": []}
    # Without the guard the single error pages for as long as it sits in the 30m window.
    assert alert_windows(counters, 0.999, BurnPolicy().unguarded())["page"] == [
        T0 + m * MIN for m in range(61, 91)]


def test_zero_traffic_never_divides_by_zero():
    assert alert_windows(series(600, 0, {}), 0.999) == {"page": [], "ticket": []}


def test_spans_coalesce_consecutive_windows():
    assert spans([T0 + 2 * MIN, T0 + 3 * MIN, T0 + 9 * MIN], MIN) == [(T0 + MIN, T0 + 3 * MIN),
                                                                        (T0 + 8 * MIN, T0 + 9 * MIN)]
