"""The Grafana dashboard (deploy/grafana/dashboards/truesli.json) against real receivers: after one
`truesli process --remote-write` run into Prometheus 2.42 and into VictoriaMetrics 1.79, every panel's PromQL
(and the anomaly annotation's) — with Grafana's variables filled in as Grafana would for "All" and the run's
time range — returns the expected series with the values of the run's own outputs: --summary-json (SLIs),
--counters (drops by reason, per-interval ratios), the detectors' gauges (burn rates, budget) and
--anomalies (annotations). Also: ``increase()`` over the whole backfill equals the summary exactly. Each receiver is started for this module alone (no other run's samples)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.core.timeparse import parse_rfc3339
from tests.support.receivers import Server, start_prometheus, start_victoria_metrics

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "truesli.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "truesli.json"
MIN = 60_000




@pytest.fixture(scope="module", params=["prometheus", "victoria-metrics"])
def run(request, tmp_path_factory) -> Iterator[dict]:
    """One receiver of its own, one run pushed into it, and the run's outputs to compare with."""
    from streams.config import load_config
    from streams.runs.detection import detect
    from streams.runs.embedded import run_embedded

    work = tmp_path_factory.mktemp(request.param)
    server: Server = start_prometheus(work) if request.param == "prometheus" else start_victoria_metrics(work)
    try:
        mix = work / "mix.jsonl"
        r = subprocess.run([sys.executable, "-m", "streams.cli", "gen", "--events", "20000", "--seed", "11",
                            "--out", str(mix)], cwd=ROOT, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out = {k: work / f"{k}.json" for k in ("summary", "counters", "anomalies")}
        r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(EXAMPLE), str(mix),
                            "--summary-json", str(out["summary"]), "--counters", str(out["counters"]),
                            "--anomalies", str(out["anomalies"]), "--remote-write", server.write_url],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert "Read-back: all " in r.stdout
        config = load_config(EXAMPLE)
        result = run_embedded(config, [str(mix)], now_ms=None)
        gauges = detect(config, result.book.merged(), [], result.abuse.finish()).gauges
        counters = [orjson.loads(x) for x in out["counters"].read_bytes().splitlines()]
        yield {"server": server, "summary": orjson.loads(out["summary"].read_bytes()), "counters": counters,
               "anomalies": [orjson.loads(x) for x in out["anomalies"].read_bytes().splitlines()],
               "gauges": gauges, "start": min(parse_rfc3339(c["window_start"]) for c in counters),
               "end": max(parse_rfc3339(c["window_end"]) for c in counters)}
    finally:
        server.stop()


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def fill(expr: str, run: dict) -> str:
    """Grafana's variables as it fills them for "All" (allValue ``.+``) over the run's time range."""
    rng = f"{(run['end'] - run['start']) // MIN + 1}m"
    return (expr.replace("$journey", ".+").replace("$slo", ".+").replace("$window", ".+")
            .replace("$__range", rng).replace("$__rate_interval", "5m"))


def query(run: dict, expr: str, at_ms: int | None = None) -> dict[tuple, float]:
    return run["server"].query(fill(expr, run), run["end"] if at_ms is None else at_ms)


def by(labels: tuple, *names: str) -> tuple:
    d = dict(labels)
    return tuple(d.get(n) for n in names)


def targets(title: str) -> dict[str, str]:
    panel = next(p for p in dashboard()["panels"] if p["title"] == title)
    return {t["refId"]: t["expr"] for t in panel["targets"]}


def slo_totals(run: dict) -> dict[tuple, tuple[int, int, int, int]]:
    return {(j, s): (t["good"], t["total"], t["raw_good"], t["raw_total"])
            for j, doc in run["summary"]["journeys"].items() for s, t in doc["slos"].items()}


# -- one check per panel -------------------------------------------------------------------------------------
def check_sli_over_range(run):
    t = targets("Real-user vs raw SLI over the range")
    want = slo_totals(run)
    cleaned = {by(k, "journey", "slo"): v for k, v in query(run, t["A"]).items()}
    raw = {by(k, "journey", "slo"): v for k, v in query(run, t["B"]).items()}
    assert cleaned == pytest.approx({k: g / n for k, (g, n, _, _) in want.items()}, rel=1e-12)
    assert raw == pytest.approx({k: g / n for k, (_, _, g, n) in want.items()}, rel=1e-12)
    assert len(cleaned) == 8


def check_budget(run):
    got = {by(k, "journey", "slo"): v for k, v in query(run, targets("Error budget remaining")["A"],
                                                          run["gauges"]["slos"][0]["at_ms"]).items()}
    want = {(s["journey"], s["slo"]): s["budget_remaining"] for s in run["gauges"]["slos"]}
    assert len(want) == 8 and got == pytest.approx(want, rel=1e-9, abs=1e-12)


def _last_windows(run: dict, n: int) -> list[dict]:
    return [c for c in run["counters"] if parse_rfc3339(c["window_end"]) > run["end"] - n * MIN]


def check_error_ratio_series(run):
    t = targets("Error ratio: real users vs raw")
    want_clean, want_raw = {}, {}
    for c in _last_windows(run, 5):  # $__rate_interval = 5m at the last window end: the last 5 windows
        k = (c["journey"], c["slo"])
        b, n, rb, rn = want_clean.get(k, (0, 0, 0, 0)) + want_raw.get(k, ())
        want_clean[k] = (b + c["total"] - c["good"], n + c["total"], rb + c["raw_total"] - c["raw_good"],
                         rn + c["raw_total"])
    clean = {by(k, "journey", "slo"): v for k, v in query(run, t["A"]).items()}
    raw = {by(k, "journey", "slo"): v for k, v in query(run, t["B"]).items()}
    assert clean == pytest.approx({k: b / n for k, (b, n, _, _) in want_clean.items() if n}, rel=1e-12)
    assert raw == pytest.approx({k: b / n for k, (_, _, b, n) in want_clean.items() if n}, rel=1e-12)
    assert raw  # the mix has raw traffic in its last 5 minutes


def _drops(counters: list[dict]) -> dict[str, float]:
    seen, out = set(), {}
    for c in counters:  # filtered is per journey, repeated on each of its SLOs
        if (c["journey"], c["window_start"]) in seen:
            continue
        seen.add((c["journey"], c["window_start"]))
        for reason, n in c["filtered"].items():
            out[reason] = out.get(reason, 0) + n
    return {r: float(n) for r, n in out.items()}


def check_drops_by_reason(run):
    got = {by(k, "reason")[0]: v for k, v in query(run, targets("Requests dropped as not real users, by reason")["A"]).items()}
    want = {r: n for r, n in _drops(run["counters"]).items() if n}
    assert got == {**{r: 0.0 for r in got if r not in want}, **want} and len(want) >= 3
    assert sum(want.values()) <= sum(run["summary"]["filtered"].values())


def check_drops_over_time(run):
    got = {by(k, "reason")[0]: v for k, v in query(run, targets("Dropped requests per reason over time")["A"]).items()}
    want = _drops(_last_windows(run, 5))
    assert got == {r: want.get(r, 0.0) for r in got} and set(want) <= set(got)


def check_burn_rates(run):
    t = targets("Burn rate vs the MWMBR thresholds")
    at = run["gauges"]["slos"][0]["at_ms"]
    got = {by(k, "journey", "slo", "window"): v for k, v in query(run, t["A"], at).items()}
    want = {(s["journey"], s["slo"], w): v for s in run["gauges"]["slos"] for w, v in s["burn_rates"].items()}
    assert len(want) == 8 * 7 and got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert [list(query(run, t[ref]).values()) for ref in "BCDE"] == [[14.4], [6.0], [3.0], [1.0]]


CHECKS = {
    "Real-user vs raw SLI over the range": check_sli_over_range,
    "Error budget remaining": check_budget,
    "Error ratio: real users vs raw": check_error_ratio_series,
    "Requests dropped as not real users, by reason": check_drops_by_reason,
    "Dropped requests per reason over time": check_drops_over_time,
    "Burn rate vs the MWMBR thresholds": check_burn_rates,
}


def test_every_panel_is_checked():
    assert [p["title"] for p in dashboard()["panels"]] == list(CHECKS)
    assert all(t["datasource"]["uid"] == "${datasource}" for p in dashboard()["panels"] for t in p["targets"])


@pytest.mark.parametrize("title", list(CHECKS))
def test_panel_queries_match_the_run(run, title):
    CHECKS[title](run)


def test_anomaly_annotations_match_the_anomalies_file(run):
    [ann] = dashboard()["annotations"]["list"]
    firing = [a for a in run["anomalies"] if a["state"] == "firing"]
    assert firing, "the mix must fire anomalies"
    for a in firing:
        got = query(run, ann["expr"], parse_rfc3339(a["ts"]))
        keys = {by(k, "type", "severity", "journey", "slo") for k, v in got.items() if v >= 1}
        assert (a["type"], a["severity"], a["journey"], a["slo"]) in keys
    types = {a["type"] for a in firing}
    at_end = query(run, 'count by (type) (count_over_time(truesli_anomaly{state="firing"}[$__range]))')
    assert {by(k, "type")[0] for k in at_end} == types


def test_increase_over_the_whole_backfill_equals_the_summary(run):
    """Every series opens with a 0 sample at its first window's start: increase() over a range reaching
    back past it, at the last window end, is the run's exact count (no extrapolation, nothing missed)."""
    got = query(run, "sum by (journey, slo, result) (increase(truesli_sli_events_total[$__range]))")
    want = {}
    for (journey, slo), (good, total, _, _) in slo_totals(run).items():
        want[(("journey", journey), ("result", "bad"), ("slo", slo))] = float(total - good)
        want[(("journey", journey), ("result", "good"), ("slo", slo))] = float(good)
    assert got == want
