"""`truesli process --remote-write` against real Prometheus and VictoriaMetrics: the values queried back
equal what `--summary-json` reports, per journey, SLO and result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.support.receivers import Prometheus, VictoriaMetrics

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "truesli.yaml"


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rw") / "mix.jsonl"
    r = subprocess.run([sys.executable, "-m", "streams.cli", "gen", "--events", "30000", "--seed", "31",
                        "--out", str(path)], cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return path


def _process(mix: Path, url: str, tmp_path: Path) -> tuple[dict, str]:
    summary = tmp_path / "summary.json"
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(EXAMPLE), str(mix),
                        "--summary-json", str(summary), "--counters", str(tmp_path / "counters.jsonl"),
                        "--remote-write", url], cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    return orjson.loads(summary.read_bytes()), r.stdout.decode()


def _expected(summary: dict) -> dict[tuple, float]:
    out = {}
    for journey, doc in summary["journeys"].items():
        for slo, t in doc["slos"].items():
            out[("truesli_sli_events_total", journey, slo, "good")] = float(t["good"])
            out[("truesli_sli_events_total", journey, slo, "bad")] = float(t["total"] - t["good"])
            out[("truesli_raw_events_total", journey, slo, "good")] = float(t["raw_good"])
            out[("truesli_raw_events_total", journey, slo, "bad")] = float(t["raw_total"] - t["raw_good"])
    return out


def _filtered_by_journey(counters: Path) -> dict[tuple[str, str], float]:
    """(journey, reason) → requests filtered, summed over the run's windows (the latest revision of each
    counter; ``filtered`` is per journey, repeated on each of its SLOs, so it is taken once per window)."""
    latest: dict[tuple, dict] = {}
    for line in counters.read_bytes().splitlines():
        c = orjson.loads(line)
        key = (c["journey"], c["window_start"])
        if key not in latest or (latest[key]["slo"] == c["slo"] and c["revision"] >= latest[key]["revision"]):
            latest[key] = c
    out: dict[tuple[str, str], float] = {}
    for (journey, _), c in latest.items():
        for reason, n in c["filtered"].items():
            out[(journey, reason)] = out.get((journey, reason), 0.0) + n
    return out


def _last_values(series: dict[tuple, list[tuple[int, float]]]) -> dict[tuple, float]:
    got = {}
    for labels, samples in series.items():
        d = dict(labels)
        got[(d["__name__"], d["journey"], d["slo"], d["result"])] = samples[-1][1]
    return got


def test_prometheus_holds_exactly_the_summary(mix, prometheus: Prometheus, tmp_path):
    summary, stdout = _process(mix, prometheus.write_url, tmp_path)
    assert "Remote-write: " in stdout
    end = 1_767_225_600_000 + 24 * 3600_000
    series = prometheus.query_range_vector('{__name__=~"truesli_(sli|raw)_events_total",'
                                           'journey=~"checkout|login|search|browse"}', end, window="1d")
    assert _last_values(series) == _expected(summary)


def test_victoria_metrics_holds_exactly_the_summary(mix, victoria_metrics: VictoriaMetrics, tmp_path):
    summary, _ = _process(mix, victoria_metrics.write_url, tmp_path)
    # The receiver is shared by the session: select this run's journeys (another test backfills `all`).
    series = victoria_metrics.export('{__name__=~"truesli_(sli|raw)_events_total",'
                                     'journey=~"checkout|login|search|browse"}')
    assert _last_values(series) == _expected(summary)
    filtered = victoria_metrics.export('truesli_filtered_events_total{journey=~"checkout|login|search|browse"}')
    got = {(dict(k)["journey"], dict(k)["reason"]): samples[-1][1] for k, samples in filtered.items()}
    # Exactly the run's own counters, per journey and reason: every series exported, with its total.
    want = _filtered_by_journey(tmp_path / "counters.jsonl")
    assert got == want
    # Matched traffic only: per reason at most the run's tally (which also holds unmatched filtered requests),
    # and every reason the example's journeys see is there.
    by_reason: dict[str, float] = {}
    for (_, reason), n in got.items():
        by_reason[reason] = by_reason.get(reason, 0.0) + n
    assert set(by_reason) == set(summary["filtered"]) and all(by_reason[r] <= summary["filtered"][r] for r in by_reason)


def test_unreachable_receiver_reports_what_was_not_delivered(mix, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("remote_write: {deadline_s: 2, timeout_s: 1}\n")
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(cfg), str(mix),
                        "--remote-write", "http://127.0.0.1:1/api/v1/write"], cwd=ROOT, capture_output=True,
                       timeout=120)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.strip().splitlines()[-1].startswith(
        "truesli: remote-write could not deliver every sample: dropped receiver_unreachable ")
    assert "Traceback" not in err


def test_detector_gauges_reach_the_receiver(mix, victoria_metrics: VictoriaMetrics, tmp_path):
    """The meta-signal gauges ride along: budget remaining and burn rates per SLO, and the program summary,
    equal the detectors' own numbers for the same run (stamped at the last evaluated window)."""
    from streams.config import load_config
    from streams.runs.detection import detect
    from streams.runs.embedded import run_embedded

    config = load_config(EXAMPLE)
    result = run_embedded(config, [str(mix)], now_ms=None)
    gauges = detect(config, result.book.merged(), [], result.abuse.finish()).gauges
    _process(mix, victoria_metrics.write_url, tmp_path)
    budget = victoria_metrics.export('truesli_slo_error_budget_remaining{journey=~"checkout|login|search|browse"}')
    got = {(dict(k)["journey"], dict(k)["slo"]): v[-1] for k, v in budget.items()}
    want = {(s["journey"], s["slo"]): (s["at_ms"], s["budget_remaining"]) for s in gauges["slos"]}
    assert set(got) == set(want) and len(want) == 8
    for key, (ts, value) in want.items():
        assert got[key][0] == ts and got[key][1] == pytest.approx(value, rel=1e-9, abs=1e-12)
    burn = victoria_metrics.export('truesli_slo_burn_rate{journey="checkout",slo="availability"}')
    windows = {dict(k)["window"]: v[-1][1] for k, v in burn.items()}
    ca = next(s for s in gauges["slos"] if (s["journey"], s["slo"]) == ("checkout", "availability"))
    assert windows == pytest.approx(ca["burn_rates"], rel=1e-9, abs=1e-12)
