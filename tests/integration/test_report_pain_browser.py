"""The report's user-pain parts in a real headless Chromium: the agreement table (cleaned vs raw SLI) and
the user reports drawn on the error-rate chart, for the ``bot-diluted-outage`` scenario."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli import main as truesli_main
from streams.tools.scenarios import SCENARIOS, scenario_reports
from tests.support.chromium_cdp import load_page

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "truesli.yaml")

PROBE = """
(() => ({
  rows: [...document.querySelectorAll('table.agreement tbody tr')].map(tr =>
      [...tr.querySelectorAll('td')].map(td => td.textContent)),
  ticks: [...document.querySelectorAll('svg.chart')].filter(s => s.dataset.chart === 'error_rate').map(s => ({
      journey: s.dataset.journey, slo: s.dataset.slo,
      heights: [...s.querySelectorAll('g.user-report line')].map(l => l.getBBox().height)})),
  recommended: [...document.querySelectorAll('section.slo')].filter(s => s.dataset.journey === 'search').map(s =>
      s.querySelector('.recommended').textContent),
}))()
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("pain-report")
    records, _ = SCENARIOS["bot-diluted-outage"]()
    (d / "log.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    (d / "reports.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in scenario_reports("bot-diluted-outage")))
    out = d / "report.html"
    assert truesli_main(["report", str(d / "log.jsonl"), "--config", EXAMPLE, "--user-reports",
                         str(d / "reports.jsonl"), "--out", str(out)]) == 0
    result = load_page(out.as_uri(), evaluate=PROBE)
    assert result.requests == [out.as_uri()] and result.console_errors == []
    return result.value


def test_agreement_table_shows_cleaned_and_raw_side_by_side(page):
    # journey, SLO, SLI, burn episodes, report spikes, precision, recall, spearman, lag
    assert page["rows"] == [
        ["search", "availability", "cleaned", "1", "1", "100%", "100%", "+0.59", "0"],
        ["search", "availability", "raw", "0", "1", "–", "0%", "+0.28", "0"],
        ["search", "latency", "cleaned", "0", "1", "–", "0%", "–", "–"],
        ["search", "latency", "raw", "0", "1", "–", "0%", "–", "–"],
    ]


def test_reports_are_drawn_on_the_error_rate_chart_of_their_journey(page):
    drawn = {(t["journey"], t["slo"]): t["heights"] for t in page["ticks"] if t["heights"]}
    assert set(drawn) == {("search", "availability"), ("search", "latency")}
    # 12 reports: counts 1 (ten of them), 40 and 25 → 4 px, 4 + 3·5 = 19 px and 4 + 3·4 = 16 px tall.
    for heights in drawn.values():
        assert sorted(heights) == [4.0] * 10 + [16.0, 19.0]


def test_recommended_objective_is_next_to_the_verdict(page):
    # 10 min at 50% of 60 requests a minute over 6 h of 21,600: 300/21,600 = 1.389% errors → 98.611%.
    assert page["recommended"][0].startswith("Recommended objective 98.611% (3-day burn would average 1×; whole "
                                             "history (shorter than 3 days)); the current 99.5% needs 64% fewer errors")
