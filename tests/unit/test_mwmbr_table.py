"""One table of burn-rate cases drives both evaluators: truesli's detector (burn_spike episodes over window
counters) and the Prometheus rules ``truesli rules`` generates (evaluated by the real promtool). For each
case and checkpoint both must say the same thing: which severities (page, ticket) are firing.

Both read the same config the way the product does: the detector is ``Detector(config)`` (its thresholds are
``config.detection.burn``) and the rules are the files ``truesli rules --config`` writes. Checkpoints sit on
both sides of every crossing: the last minute before a condition holds and the first minute it does.

Traffic is per minute for checkout/availability from t=0. The example config's objective is 99.9% (budget
0.1%); the exact-boundary cases use 93.75% (budget 0.0625 = 1/16, so 0.9 / 0.0625 is exactly the float 14.4
and ``burn == factor`` is an equality of floats, not a rounding accident).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from streams.cli import main
from streams.config import load_config
from streams.core.detect import Detector
from streams.core.model import WindowCounter
from tests.unit.test_rules import ALERT, EXAMPLE, counter, expected, promtool, promtool_test, series  # noqa: F401

T0 = 1767225600000  # 2026-01-01T00:00:00Z
MIN = 60_000

# One journey, one SLO at 93.75%: 1 − 0.9375 is exactly 0.0625 in binary floating point.
EXACT = {"journeys": [{"name": "checkout", "service": "shop",
                       "match": {"methods": ["POST"], "path_prefixes": ["/checkout"]},
                       "slos": [{"name": "availability", "kind": "availability", "objective": 0.9375}]}]}


@dataclass(frozen=True)
class Case:
    name: str
    minutes: int
    good: Callable[[int], int]  # good events during minute m (1-based)
    bad: Callable[[int], int]
    checkpoints: dict[int, set[str]]  # minute → severities firing at that minute
    config: dict | None = None  # None: examples/truesli.yaml


CASES = (
    # 1,000/min clean for 2 h, then 5% errors (50×). Ticket: the 3d/6h burn (1×) goes 0.82 → 1.22 at
    # minute 122 → 123. Page: the 6h/30m burn goes 5.88 → 6.20 at 136 → 137 (850 / 137,000 ÷ 0.001), while
    # the 1h burn is still 14.17 (it reaches 15.0 at 138).
    Case("burst", 180, lambda m: 1000 if m <= 120 else 950, lambda m: 0 if m <= 120 else 50,
         {60: set(), 122: set(), 123: {"ticket"}, 136: {"ticket"}, 137: {"page", "ticket"},
          180: {"page", "ticket"}}),
    # The same burst after 6 h clean, so the 6h pair stays low (6.1 only at minute 404) and the 1h/5m pair is
    # what pages: 1h burn 850 / 60,000 ÷ 0.001 = 14.17 at minute 377, 900 / 60,000 → 15.0 at 378. Ticket:
    # the 1d/2h burn goes 2.92 → 3.33 and the 6h one 0.97 → 1.11 at 367 → 368.
    Case("burst-after-clean-6h", 380, lambda m: 1000 if m <= 360 else 950, lambda m: 0 if m <= 360 else 50,
         {360: set(), 367: set(), 368: {"ticket"}, 377: {"ticket"}, 378: {"page", "ticket"},
          380: {"page", "ticket"}}),
    # 0.4% errors (4×) for 4 h: above both ticket pairs (3×, 1×), below both page pairs (14.4×, 6×).
    Case("slow-burn", 240, lambda m: 996, lambda m: 4,
         {1: {"ticket"}, 60: {"ticket"}, 120: {"ticket"}, 240: {"ticket"}}),
    # 0.8% (8×): the 6h/30m page pair fires, the 1h/5m one never does.
    Case("six-hour-burn", 420, lambda m: 992, lambda m: 8, {1: {"page", "ticket"}, 400: {"page", "ticket"}}),
    # 2 requests an hour, one of them failing at 03:15: the minimum-traffic guard (100 events) holds.
    Case("quiet-night", 480, lambda m: 1 if m % 30 == 15 and m != 195 else 0, lambda m: 1 if m == 195 else 0,
         {196: set(), 200: set(), 240: set()}),
    # 1 h at 0.05%, then nothing: no ratio over zero events, nothing fires.
    Case("traffic-stops", 240, lambda m: 1999 if m <= 60 else 0, lambda m: 1 if m <= 60 else 0,
         {30: set(), 90: set(), 240: set()}),
    # Exactly min_events: 2 events a minute, half failing (burn 500×). At minute 49 every long window holds
    # 98 events (guard holds), at minute 50 exactly 100: the guard is "at least 100", so both severities fire.
    Case("exactly-min-events", 60, lambda m: 1, lambda m: 1, {49: set(), 50: {"page", "ticket"}, 60: {"page", "ticket"}}),
    # Burn exactly equal to the page factor: 5 h of 100 good/min, then 1 h of 9 bad in 10 a minute. At minute
    # 360 the 1h window holds 540 bad / 600 and the 5m one 45 / 50 — a ratio of 0.9, burn 0.9 / 0.0625 = 14.4
    # exactly — and "exceeds" is strict, so nothing pages (the 30m burn 14.4 > 6 but the 6h one is 0.28).
    Case("burn-equals-page-factor", 360, lambda m: 100 if m <= 300 else 1, lambda m: 0 if m <= 300 else 9,
         {300: set(), 359: set(), 360: set()}, EXACT),
    # One more error in the last minute (10 bad of 10): 541 / 600 and 46 / 50, just above 14.4 → page.
    Case("burn-just-above-page-factor", 360, lambda m: 100 if m <= 300 else (0 if m == 360 else 1),
         lambda m: 0 if m <= 300 else (10 if m == 360 else 9), {359: set(), 360: {"page"}}, EXACT),
    # Burn exactly the ticket factor 1 over 3d and 6h: 1 bad in 16 every minute (ratio 0.0625 = the budget).
    Case("burn-equals-ticket-factor", 120, lambda m: 15, lambda m: 1, {7: set(), 120: set()}, EXACT),
)


def config_file(case: Case, tmp_path: Path) -> Path:
    if case.config is None:
        return EXAMPLE
    path = tmp_path / "truesli.yaml"
    path.write_text(yaml.safe_dump(case.config), encoding="utf-8")
    return path


def detector_firing(case: Case, config_path: Path) -> dict[int, set[str]]:
    det = Detector(load_config(config_path))
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


def cli_rules(config_path: Path, tmp_path: Path) -> tuple[Path, dict]:
    """The rule file `truesli rules --config` writes, cut down to the checkout groups (promtool evaluates
    every rule at every step; the other journeys' groups would only slow the scenarios down)."""
    out = tmp_path / "rules"
    assert main(["rules", "--config", str(config_path), "--out", str(out)]) == 0
    doc = yaml.safe_load((out / "prometheus-rules.yaml").read_text(encoding="utf-8"))
    doc = {"groups": [g for g in doc["groups"] if g["name"].startswith("truesli-checkout-")]}
    path = tmp_path / "checkout-rules.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1_000_000), encoding="utf-8")
    return path, doc


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_detector_fires_as_the_table_says(case, tmp_path):
    assert detector_firing(case, config_file(case, tmp_path)) == case.checkpoints


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_generated_prometheus_rules_fire_as_the_table_says(case, promtool, tmp_path):
    rules, doc = cli_rules(config_file(case, tmp_path), tmp_path)
    inputs = [series("good", counter(case.minutes, case.good)), series("bad", counter(case.minutes, case.bad))]
    alert_tests = [{"eval_time": f"{m}m", "alertname": ALERT, "exp_alerts": expected(doc, *sorted(sev))}
                   for m, sev in case.checkpoints.items()]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, name=case.name)
