"""``truesli report``: every input mode writes the page; user mistakes are one line and exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA
from streams.core.timeparse import parse_rfc3339
from streams.tools.history import write_history

ROOT = Path(__file__).resolve().parents[3]


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return write_history(tmp_path_factory.mktemp("history"), days=2, seed=4)


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("logs")
    r = truesli("gen", "--events", "6000", "--seed", "2", "--out", str(d / "mix.jsonl"))
    assert r.returncode == 0, r.stderr
    return d / "mix.jsonl"


def _sections(html: str) -> list[str]:
    return re.findall(r'<section class="slo" id="([^"]+)"', html)


def test_report_from_counters_with_changes_and_anomalies(history, tmp_path):
    anomalies = tmp_path / "a.jsonl"
    anomalies.write_bytes(orjson.dumps({"id": "x1", "type": "burn_too_tight", "state": "firing", "journey": "search",
                                        "slo": "latency", "severity": "ticket",
                                        "window": {"start": "2026-08-01T10:00:00Z", "end": "2026-08-02T10:00:00Z"},
                                        "ts": "2026-08-02T10:00:00Z"}) + b"\n")
    out = tmp_path / "r.html"
    r = truesli("report", "--config", str(history.config), "--counters", str(history.counters), "--changes",
                str(history.changes), "--anomalies", str(anomalies), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode() == f"wrote {out} ({out.stat().st_size:,} bytes; {2 * 1440 * 6:,} counters)\n"
    html = out.read_text()
    assert _sections(html) == ["checkout-availability", "checkout-latency", "login-availability", "login-latency",
                               "search-availability", "search-latency"]
    verdicts = re.findall(r'<tr data-journey="(\w+)" data-slo="(\w+)">.*?data-verdict="(\w+)"', html)
    # With an anomalies file the verdicts are the detectors': only search/latency has a firing meta-signal.
    # Two days are no basis for "calibrated" (the 3-day average needs 72 h), and checkout's and login's
    # availability incidents spent their budgets: neither may show green.
    assert verdicts == [("checkout", "availability", "budget_spent"), ("checkout", "latency", "not_enough_history"),
                        ("login", "availability", "budget_spent"), ("login", "latency", "not_enough_history"),
                        ("search", "availability", "not_enough_history"), ("search", "latency", "too_tight")]
    assert html.count("not enough history: 48 h of 72 h (the 3-day burn average needs its whole window)") == 3
    assert 'data-verdict="calibrated"' not in html
    assert html.count('class="marker anomaly anomaly-burn_too_tight"') == 1
    assert "verdicts from the anomalies file (detectors)" in html


def test_report_from_logs_and_from_parquet_agree(logs, tmp_path):
    r = truesli("report", str(logs), "--out", str(tmp_path / "logs.html"))
    assert r.returncode == 0, r.stderr
    rows = [orjson.loads(x) for x in logs.read_bytes().splitlines()]
    for row in rows:
        row["ts"] = parse_rfc3339(row["ts"])
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), tmp_path / "mix.parquet")
    r = truesli("report", "--parquet", str(tmp_path / "mix.parquet"), "--out", str(tmp_path / "pq.html"))
    assert r.returncode == 0, r.stderr
    a, b = (tmp_path / "logs.html").read_text(), (tmp_path / "pq.html").read_text()
    assert _sections(a) == ["all-availability"]
    # Same counters → same page, apart from the header naming the source.
    strip = lambda h: re.sub(r"· (logs|Parquet) [^·]+·", "", h)  # noqa: E731
    assert strip(a) == strip(b)


@pytest.mark.parametrize("args, message", [
    ([], "report needs exactly one source of history: request logs (INPUT…), --counters FILE or --parquet DIR… "
         "(got none)"),
    (["x.jsonl", "--counters", "c.jsonl"], "report needs exactly one source of history: request logs (INPUT…), "
                                           "--counters FILE or --parquet DIR… (got INPUT, --counters)"),
    (["--counters", "/nonexistent/c.jsonl"], "counters file not found: /nonexistent/c.jsonl"),
    (["--counters", "{counters}", "--max-points", "1"], "--max-points must be at least 2"),
    (["--counters", "{counters}", "--period-days", "0"],
     "--period-days must be a whole number of days from 1 to 400 (the SLO period, e.g. 30)"),
    (["--counters", "{counters}", "--period-days", "401"],
     "--period-days must be a whole number of days from 1 to 400 (the SLO period, e.g. 30)"),
    (["--counters", "{counters}"], "the counters hold checkout/availability, which the config does not define: "
                                   "pass the --config the counters were produced with"),
    (["--counters", "{counters}", "--config", "{config}", "--changes", "{counters}"],
     "{counters}:1: kind must be one of deploy, config, upstream, freeze, unfreeze"),
])
def test_user_errors_are_one_line_exit_2(history, tmp_path, args, message):
    subs = {"counters": str(history.counters), "config": str(history.config)}
    r = truesli("report", *[a.format(**subs) for a in args], "--out", str(tmp_path / "r.html"))
    assert r.returncode == 2
    assert r.stderr.decode() == f"truesli: error: {message.format(**subs)}\n"
    assert not (tmp_path / "r.html").exists()


def test_unwritable_output_is_a_user_error(history, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = truesli("report", "--config", str(history.config), "--counters", str(history.counters),
                "--out", str(blocker / "r.html"))
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"truesli: error: cannot write {blocker / 'r.html'}: ")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1.5", "1e3"])
def test_period_days_must_be_whole_days(history, tmp_path, value):
    """Not a traceback: argparse's usage error (exit 2) names the flag and the value."""
    r = truesli("report", "--config", str(history.config), "--counters", str(history.counters),
                f"--period-days={value}", "--out", str(tmp_path / "r.html"))
    assert r.returncode == 2
    assert r.stderr.decode().splitlines()[-1] == f"truesli report: error: argument --period-days: invalid int value: '{value}'"
    assert b"Traceback" not in r.stderr and not (tmp_path / "r.html").exists()


def test_period_days_changes_the_verdict_with_the_budget_chart(tmp_path):
    """--period-days reaches the detectors behind the verdicts: two hours at 50% errors a day and a half ago
    spend a 30-day budget (policy not enforced) but not a 1-day one (budget untouched; 38 h are too little
    history for a calibration verdict)."""
    from streams.core.model import WindowCounter
    from streams.sinks.serialize import counter_to_dict

    t0 = parse_rfc3339("2026-08-01T00:00:00Z")
    config = tmp_path / "truesli.yaml"
    config.write_text("journeys:\n  - name: shop\n    service: web\n    slos:\n"
                      "      - {name: availability, kind: availability, objective: 0.99}\n"
                      "detection: {policy_min_history_s: 0, policy_grace_s: 0}\n")
    counters = tmp_path / "c.jsonl"
    counters.write_bytes(b"".join(orjson.dumps(counter_to_dict(WindowCounter(
        "shop", "availability", t0 + m * 60_000, t0 + (m + 1) * 60_000, good=50 if m < 120 else 100, total=100,
        raw_good=50 if m < 120 else 100, raw_total=100), 0)) + b"\n" for m in range(120 + 2160)))
    pages = {}
    for days in (None, 1):
        out = tmp_path / f"r{days}.html"
        r = truesli("report", "--config", str(config), "--counters", str(counters), "--out", str(out),
                    *(["--period-days", str(days)] if days else []))
        assert r.returncode == 0, r.stderr
        pages[days] = out.read_text()
    verdict = lambda html: re.findall(r'<tr data-journey="shop" data-slo="availability">.*?data-verdict="(\w+)".*?'  # noqa: E731
                                      r"<td>(-?[\d.]+%)</td><td>[^<]*</td></tr>", html)
    assert verdict(pages[None]) == [("policy_not_enforced", "-163.2%")]
    assert verdict(pages[1]) == [("not_enough_history", "100.0%")]
    assert "Error budget remaining (trailing 1 days)" in pages[1]
    assert "<caption>Active SLOs: real-user events in the last 1 days" in pages[1]


def test_markers_from_another_period_are_warned_about(history, tmp_path):
    """Anomalies from March over counters from August say so (the page is still written); anomalies inside the
    history do not."""
    anomalies = tmp_path / "march.jsonl"
    anomalies.write_bytes(b"".join(orjson.dumps({
        "id": f"x{i}", "type": "burn_spike", "state": "firing", "journey": "search", "slo": "latency",
        "severity": "page", "window": {"start": f"2026-03-0{i}T10:00:00Z", "end": f"2026-03-0{i}T10:05:00Z"},
        "ts": f"2026-03-0{i}T10:05:00Z"}) + b"\n" for i in (1, 5)))
    out = tmp_path / "r.html"
    r = truesli("report", "--config", str(history.config), "--counters", str(history.counters), "--anomalies",
                str(anomalies), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().splitlines() == [
        "truesli: warning: none of the 2 anomalies (2026-03-01T10:05:00.000Z → 2026-03-05T10:05:00.000Z) falls "
        "within the counters' history (2026-08-01T00:00:00.000Z → 2026-08-03T00:00:00.000Z): were they written for "
        "another period or system? Their markers and verdicts do not describe this history",
        f"wrote {out} ({out.stat().st_size:,} bytes; {2 * 1440 * 6:,} counters)"]
    from types import SimpleNamespace

    from streams.report.inputs import read_counters
    from streams.runs.html_report import mismatched_inputs

    counters = read_counters(str(history.counters))
    start, end = counters[0].window_start_ms, max(c.window_end_ms for c in counters)
    at = lambda ms: SimpleNamespace(ts_ms=ms)  # noqa: E731
    day = 86_400_000
    assert mismatched_inputs(counters, [at(end), at(end + day)], [at(start - 29 * day)], 30) == []
    assert len(mismatched_inputs(counters, None, [at(start - 31 * day)], 30)) == 1  # a freeze older than the period
