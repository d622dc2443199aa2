"""One table of burn-rate cases drives both evaluators: truesli's detector (burn_spike episodes over window
counters) and the Prometheus rules ``truesli rules`` generates (evaluated by the real promtool). For each
case and checkpoint both must say the same thing: which severities (page, ticket) are firing.

Traffic is per minute for checkout/availability (objective 99.9%: budget 0.1%), from t=0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from streams.config import load_config
from streams.core.detect import Detector
from streams.core.model import WindowCounter
from tests.unit.test_rules import ALERT, EXAMPLE, counter, expected, promtool, promtool_test, series, write_rules  # noqa: F401

T0 = 1767225600000  # 2026-01-01T00:00:00Z
MIN = 60_000


@dataclass(frozen=True)
class Case:
    name: str
    minutes: int
    good: Callable[[int], int]  # good events during minute m (1-based)
    bad: Callable[[int], int]
    checkpoints: dict[int, set[str]]  # minute → severities firing at that minute


CASES = (
    # 1,000/min clean for 2 h, then 5% errors (50×): the 1h ratio reaches 14.4× ~17 min in; the ticket's
    # 3d/6h pair (1×) fires at once.
    Case("burst", 180, lambda m: 1000 if m <= 120 else 950, lambda m: 0 if m <= 120 else 50,
         {60: set(), 150: {"page", "ticket"}, 180: {"page", "ticket"}}),
    # 0.4% errors (4×) for 4 h: above both ticket pairs (3×, 1×), below both page pairs (14.4×, 6×).
    Case("slow-burn", 240, lambda m: 996, lambda m: 4, {60: {"ticket"}, 120: {"ticket"}, 240: {"ticket"}}),
    # 0.8% (8×): the 6h/30m page pair fires, the 1h/5m one never does.
    Case("six-hour-burn", 420, lambda m: 992, lambda m: 8, {400: {"page", "ticket"}}),
    # 2 requests an hour, one of them failing at 03:15: the minimum-traffic guard (100 events) holds.
    Case("quiet-night", 480, lambda m: 1 if m % 30 == 15 and m != 195 else 0, lambda m: 1 if m == 195 else 0,
         {196: set(), 200: set(), 240: set()}),
    # 1 h at 0.05%, then nothing: no ratio over zero events, nothing fires.
    Case("traffic-stops", 240, lambda m: 1999 if m <= 60 else 0, lambda m: 1 if m <= 60 else 0,
         {30: set(), 90: set(), 240: set()}),
)


def detector_firing(case: Case) -> dict[int, set[str]]:
    config = load_config(EXAMPLE)
    det = Detector(config)
    for m in range(1, case.minutes + 1):
        good, bad = case.good(m), case.bad(m)
        det.observe(WindowCounter("checkout", "availability", T0 + (m - 1) * MIN, T0 + m * MIN, good=good,
                                  total=good + bad, raw_good=good, raw_total=good + bad))
    state: set[str] = set()
    out: dict[int, set[str]] = {}
    for m in range(1, case.minutes + 1):
        for a in det.advance(T0 + m * MIN):
            if a.type == "burn_spike" and a.journey == "checkout" and a.slo == "availability":
                (state.add if a.state == "firing" else state.discard)(a.severity)
        if m in case.checkpoints:
            out[m] = set(state)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_detector_fires_as_the_table_says(case):
    assert detector_firing(case) == case.checkpoints


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_generated_prometheus_rules_fire_as_the_table_says(case, promtool, tmp_path):
    config = load_config(EXAMPLE)
    rules, doc = write_rules(tmp_path, config)
    inputs = [series("good", counter(case.minutes, case.good)), series("bad", counter(case.minutes, case.bad))]
    alert_tests = [{"eval_time": f"{m}m", "alertname": ALERT, "exp_alerts": expected(doc, *sorted(sev))}
                   for m, sev in case.checkpoints.items()]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, name=case.name)
