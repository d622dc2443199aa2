"""The text summary `truesli process` prints: the table stays a table without traffic, words agree with counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.report.summary import plural

ROOT = Path(__file__).resolve().parents[3]


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, timeout=300)


def test_no_traffic_rows_keep_their_columns_and_say_why(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    r = truesli("process", str(empty))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"truesli SLI summary — 0 records from {empty}"
    assert lines[2:6] == [
        "journey       slo            objective          raw good/total    raw err    real-user good/total   real err",
        "-" * 108,
        "all           availability     99.900%                     0/0        n/a                     0/0        n/a",
        "n/a: no traffic — no request was counted for all/availability",
    ]


def test_one_record_is_singular(tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_bytes(b'{"ts":"2026-08-01T00:00:00Z","client_ip":"10.0.0.1","method":"GET","path":"/","status":200,'
                    b'"duration_ms":5,"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}\n')
    r = truesli("process", str(one))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith(f"truesli SLI summary — 1 record from {one} · event time")
    # One minute of history: the budget figure says it cannot be judged yet.
    assert lines[-2:] == ["Detection (0 change events): 0 anomalies fired",
                          "  SLO program: 1 active SLO, 0 burning > 1× (1h), average budget remaining 100.0% — too "
                          "little data: 1 min of history for a 30-day budget (judged from 24 h)"]
    assert [plural(0, "anomaly", "anomalies"), plural(1, "anomaly", "anomalies"), plural(1_200, "SLO")] == [
        "0 anomalies", "1 anomaly", "1,200 SLOs"]


def test_distortion_sentences_read_as_english():
    from streams.report.summary import _distortion

    assert _distortion(good=90, total=100, raw_good=986, raw_total=1000) == (
        "raw 1.400% vs real users 10.000% — non-user traffic diluted the error rate 7.1-fold")
    assert _distortion(good=90, total=100, raw_good=800, raw_total=1000) == (
        "raw 20.000% vs real users 10.000% — non-user traffic inflated the error rate")
    assert _distortion(good=90, total=100, raw_good=1000, raw_total=1000) == (
        "raw 0.000% vs real users 10.000% — non-user traffic hid every error")
