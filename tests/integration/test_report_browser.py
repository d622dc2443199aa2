"""The HTML report in a real headless Chromium (Debian's package), driven over the DevTools Protocol.

Renders a generated 3-day history of three journeys (two SLOs each) with change events and anomalies,
loads it once, keeps a screenshot in test-artifacts/report.png, and checks from the live DOM that every
chart drew exactly the points the view model computed, with real geometry, and that the page requested
nothing but its own file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import orjson
import pytest

from streams.cli import main as truesli_main
from streams.tools.history import write_history
from streams.report.inputs import read_anomalies, read_counters
from streams.report.view_model import build_model
from streams.sources.change_files import read_changes

ROOT = Path(__file__).resolve().parents[2]
from tests.support.chromium_cdp import load_page

ARTIFACTS = ROOT / "test-artifacts"

# Runs in the page: per chart, each series' declared point count, the number of points its path really
# has (M/L commands), and the rendered geometry of the path (getBBox/getTotalLength are computed by the
# browser's SVG engine, so they prove the data was laid out, not just present in the markup).
DOM_PROBE = """
(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
    chart: svg.dataset.chart, journey: svg.dataset.journey, slo: svg.dataset.slo,
    series: [...svg.querySelectorAll('path.series')].map(p => {
      const box = p.getBBox();
      return {key: p.dataset.series, declared: +p.dataset.points,
              commands: (p.getAttribute('d').match(/[ML]/g) || []).length,
              width: box.width, height: box.height, length: p.getTotalLength()};
    }),
    markers: svg.querySelectorAll('g.marker').length,
  }));
  const verdicts = [...document.querySelectorAll('section.slo')].map(s =>
      [s.dataset.journey, s.dataset.slo, s.querySelector('.verdict').dataset.verdict,
       s.querySelector('.verdict').textContent]);
  const tiles = [...document.querySelectorAll('.tile b')].map(b => b.textContent);
  return {charts, verdicts, tiles, width: document.documentElement.scrollWidth};
})()
"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    h = write_history(d, days=3, seed=11)
    anomalies = d / "anomalies.jsonl"
    anomalies.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in (
        {"id": "spike-1", "type": "burn_spike", "journey": "checkout", "slo": "availability", "severity": "page",
         "window": {"start": "2026-08-02T14:00:00Z", "end": "2026-08-02T14:05:00Z"}, "ts": "2026-08-02T14:05:00Z"},
        {"id": "tight-1", "type": "burn_too_tight", "journey": "login", "slo": "availability",
         "severity": "ticket", "window": {"start": "2026-07-31T00:00:00Z", "end": "2026-08-03T00:00:00Z"},
         "ts": "2026-08-03T00:00:00Z"},
        {"id": "bots-1", "type": "bot_surge", "journey": "search", "slo": None, "severity": "info",
         "window": {"start": "2026-08-03T09:00:00Z", "end": "2026-08-03T13:00:00Z"}, "ts": "2026-08-03T09:10:00Z"},
    )))
    out = d / "report.html"
    assert truesli_main(["report", "--config", str(h.config), "--counters", str(h.counters), "--changes",
                         str(h.changes), "--anomalies", str(anomalies), "--out", str(out)]) == 0
    from streams.config import load_config

    model = build_model(load_config(str(h.config)), read_counters(str(h.counters)),
                        anomalies=read_anomalies(str(anomalies)), changes=read_changes([str(h.changes)], strict=True).in_time_order())
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    page = load_page(out.as_uri(), evaluate=DOM_PROBE, screenshot=shot, width=1200)
    (ARTIFACTS / "report-dom.json").write_text(json.dumps(page.value, indent=1))
    return out, model, page, shot


def _expected_points(view, chart: str) -> dict[str, int]:
    count = lambda values: sum(1 for v in values if v is not None)  # noqa: E731
    if chart == "error_rate":
        return {"raw": count(view.error_raw), "cleaned": count(view.error_real)}
    if chart == "traffic":
        out = {k: sum(1 for v in values if v > 0) for k, values in view.traffic.items()}
        return out | {"not_real_users_share": count(view.nonuser_share)}
    if chart == "burn_rate":
        return {f"burn_{w}": count(values) for w, values in view.burn.items()}
    return {"budget_remaining": count(view.budget)}


def test_no_request_leaves_the_page(rendered):
    out, _, page, _ = rendered
    assert page.requests == [out.as_uri()]
    assert page.console_errors == []


def test_every_chart_draws_the_model_points_for_every_journey(rendered):
    _, model, page, _ = rendered
    charts = page.value["charts"]
    assert [(c["journey"], c["slo"], c["chart"]) for c in charts] == [
        (v.journey, v.slo, name) for v in model.slos for name in ("error_rate", "traffic", "burn_rate", "budget")]
    views = {(v.journey, v.slo): v for v in model.slos}
    for c in charts:
        view = views[(c["journey"], c["slo"])]
        expected = _expected_points(view, c["chart"])
        got = {s["key"]: s["declared"] for s in c["series"]}
        assert got == expected, (c["journey"], c["slo"], c["chart"])
        for s in c["series"]:
            assert s["declared"] > 0, (c["journey"], c["slo"], c["chart"], s["key"])
            assert s["width"] > 100 and s["height"] > 0, s  # laid out across the time axis
            if c["chart"] != "traffic" or s["key"] == "not_real_users_share":
                # Lines: one M/L per point, plus nothing else (an isolated point adds an 'h').
                assert s["commands"] == s["declared"], s
                assert s["length"] > 0, s
            else:
                # Stacked bands: an upper edge over every bucket and the lower edge back.
                assert s["commands"] == 2 * model.bucketing.n, s
        if c["chart"] == "burn_rate":
            deploys = sum(1 for e in view.changes)
            assert c["markers"] == deploys + len(view.anomalies)


def test_verdicts_in_words_and_the_meta_dashboard(rendered):
    _, model, page, _ = rendered
    assert page.value["verdicts"] == [[v.journey, v.slo, v.verdict.code, v.verdict.headline] for v in model.slos]
    # The anomalies file decides: login/availability's burn_too_tight is firing; nothing else is.
    assert [row[2] for row in page.value["verdicts"]] == ["calibrated", "calibrated", "too_tight", "calibrated",
                                                          "calibrated", "calibrated"]
    s = model.summary
    assert page.value["tiles"] == [f"{s.active} of {s.slos}", str(s.burning),
                                   f"{100 * s.avg_budget_remaining:.1f}%"]
    assert page.value["tiles"][0] == "6 of 6"


def test_screenshot_is_kept(rendered):
    _, _, page, shot = rendered
    width, height = _png_size(shot)
    assert width == 1200 and height > 4000  # the whole page: six SLO sections of four charts
    assert page.value["width"] == 1200  # nothing overflows horizontally


def test_the_probe_sees_a_request_that_leaves(tmp_path):
    # Control: the same harness must notice a page that does fetch something.
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>')
    page = load_page(leaky.as_uri())
    assert page.requests == [leaky.as_uri(), "http://127.0.0.1:9/pixel.png"]
