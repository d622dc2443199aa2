"""``--user-reports`` on ``process`` and ``report``, and ``gen --scenario … --reports-out``: real CLI runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "examples" / "truesli.yaml")


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def pain(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pain")
    r = truesli("gen", "--scenario", "unmeasured-pain", "--out", str(d / "log.jsonl"), "--reports-out",
                str(d / "reports.jsonl"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode() == (f"wrote scenario unmeasured-pain: 75,600 requests to {d / 'log.jsonl'}, "
                                 f"13 user reports to {d / 'reports.jsonl'}\n")
    return d / "log.jsonl", d / "reports.jsonl"


def test_process_checks_the_sli_against_reports_and_dead_letters_bad_lines(pain, tmp_path):
    log, reports = pain
    mixed = tmp_path / "reports.jsonl"
    mixed.write_bytes(reports.read_bytes() + b'{"ts": "2026-03-10T02:00:00Z", "kind": "complaint", '
                      b'"service": "auth", "route": "GET /nowhere"}\n' + b"[1, 2]\n")
    anomalies, dead = tmp_path / "anomalies.jsonl", tmp_path / "dead.jsonl"
    r = truesli("process", str(log), "--config", EXAMPLE, "--user-reports", str(mixed), "--anomalies", str(anomalies),
                "--dead-letters", str(dead))
    assert r.returncode == 0, r.stderr
    found = [orjson.loads(x) for x in anomalies.read_bytes().splitlines()]
    assert [(a["type"], a["journey"], a["slo"], a["window"]["start"]) for a in found] == [
        ("sli_misses_user_pain", "login", None, "2026-03-10T02:00:00.000Z")]
    letters = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert [(d["reason"], d["error"], d["source"]["line"]) for d in letters] == [
        ("bad_user_report", "service and route match no journey of the config", 14),
        ("bad_user_report", "not a JSON object", 15)]
    out = r.stdout.decode()
    assert "User pain (13 user-report lines, 23 reports; 2 dead-lettered)" in out
    assert re.search(r"login/availability\s+cleaned burns  0 spikes  1 precision    - recall   0%", out)
    assert "truesli: 2 user-report lines are not user reports (first: " in r.stderr.decode()


def test_report_draws_the_agreement_table_and_the_reports(pain, tmp_path):
    log, reports = pain
    out = tmp_path / "r.html"
    r = truesli("report", str(log), "--config", EXAMPLE, "--user-reports", str(reports), "--out", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    rows = re.findall(r'<tr data-journey="(\w+)" data-slo="(\w+)" data-basis="(\w+)">', html)
    assert rows == [("login", "availability", "cleaned"), ("login", "availability", "raw"),
                    ("login", "latency", "cleaned"), ("login", "latency", "raw")]
    assert re.findall(r'<li data-type="(\w+)">', html) == ["sli_misses_user_pain"]
    # 13 reports of login, drawn on each of login's two error-rate charts.
    assert html.count('class="marker user-report"') == 26
    assert html.count('class="recommended" data-recommended="1.000000"') == 8  # no errors at all: 100%


def test_report_rejects_a_bad_report_line_naming_file_and_line(pain, tmp_path):
    log, _ = pain
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts": "2026-03-10T02:00:00Z", "kind": "complaint", "journey": "checkout"}\n'
                   '{"ts": "2026-03-10T02:00:00Z", "kind": "tweet", "journey": "checkout"}\n')
    r = truesli("report", str(log), "--config", EXAMPLE, "--user-reports", str(bad), "--out", str(tmp_path / "r.html"))
    assert r.returncode == 2
    assert r.stderr.decode() == (f"truesli: error: {bad}:2: kind must be one of support_ticket, complaint, rum_error, "
                                 "status_page, other (user_report contract: docs/user-reports.md)\n")


def test_reports_out_without_a_scenario_is_a_user_error(tmp_path):
    r = truesli("gen", "--events", "10", "--out", str(tmp_path / "x.jsonl"), "--reports-out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert r.stderr.decode() == ("truesli: error: --reports-out writes a scenario's user reports: pass --scenario NAME "
                                 "with it\n")


def test_replay_of_parquet_gives_the_same_pain_verdict_as_process(pain, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from streams.core.timeparse import parse_rfc3339
    from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA

    log, reports = pain
    rows = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    for row in rows:
        row["ts"] = parse_rfc3339(row["ts"])
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), tmp_path / "log.parquet")
    got = {}
    for cmd in (("process", str(log)), ("replay", "--parquet", str(tmp_path / "log.parquet"))):
        path = tmp_path / f"{cmd[0]}.jsonl"
        r = truesli(*cmd, "--config", EXAMPLE, "--user-reports", str(reports), "--anomalies", str(path))
        assert r.returncode == 0, r.stderr
        got[cmd[0]] = path.read_bytes()
    assert got["process"] == got["replay"]
    assert [orjson.loads(x)["type"] for x in got["replay"].splitlines()] == ["sli_misses_user_pain"]
