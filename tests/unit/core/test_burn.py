"""MWMBR alert conditions over merged counters (event time), with the low-traffic guard and no NaN."""

from __future__ import annotations

from pathlib import Path

from streams.config import BurnConfig, load_config
from streams.core.burn import WINDOWS_MS, BurnCondition, BurnPolicy, alert_windows, spans
from streams.core.detect import Detector
from streams.core.model import WindowCounter
from streams.rules import WINDOWS, RuleOptions

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "truesli.yaml"

MIN = 60_000
T0 = 1_767_225_600_000


def series(n_minutes: int, per_minute: int, bad_at: dict[int, int]) -> list[WindowCounter]:
    return [WindowCounter("checkout", "availability", T0 + i * MIN, T0 + (i + 1) * MIN,
                          good=per_minute - bad_at.get(i, 0), total=per_minute)
            for i in range(n_minutes)]


# The Google SRE workbook numbers, written out here (not read from the code under test): one definition
# (BurnConfig) feeds the detector's BurnPolicy, the rules' RuleOptions and the example config.
WORKBOOK = (BurnCondition("page", "1h", "5m", 14.4, 100), BurnCondition("page", "6h", "30m", 6.0, 100),
            BurnCondition("ticket", "1d", "2h", 3.0, 100), BurnCondition("ticket", "3d", "6h", 1.0, 100))


def test_burn_defaults_are_the_workbook_numbers_everywhere():
    assert BurnConfig().model_dump() == {"page": 14.4, "page_slow": 6.0, "ticket": 3.0, "ticket_slow": 1.0,
                                         "min_events": 100, "min_ticket_events": 100}
    assert BurnPolicy().conditions == WORKBOOK
    assert Detector(load_config(None)).policy.conditions == WORKBOOK
    assert RuleOptions().conditions() == WORKBOOK
    assert RuleOptions.from_config(BurnConfig()) == RuleOptions()
    assert BurnPolicy.from_config(load_config(EXAMPLE).detection.burn).conditions == WORKBOOK
    assert WINDOWS_MS == {"5m": 300_000, "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000,
                          "6h": 21_600_000, "1d": 86_400_000, "3d": 259_200_000}
    assert WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


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
