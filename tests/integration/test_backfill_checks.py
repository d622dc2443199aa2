"""Backfills that cannot vanish, against real receivers (Prometheus 2.42, VictoriaMetrics 1.79):

- into a VictoriaMetrics with the default 1-month retention, year-old samples are answered 204 and dropped:
  truesli warns before the push and, reading back, exits 1 naming ``-retentionPeriod``;
- into a Prometheus that already holds recent data and has no out-of-order window, truesli names
  ``out_of_order_time_window`` and ``promtool tsdb create-blocks-from openmetrics`` before the refused push;
(``increase()`` over a whole backfill equalling the summary, and a read-back that passes: test_dashboard.py.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from streams.core.timeparse import format_rfc3339, parse_rfc3339
from streams.sinks.remote_write import RemoteWriteSink
from tests.support.receivers import start_prometheus, start_victoria_metrics

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "truesli.yaml"
DAY_MS = 86_400_000


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backfill") / "mix.jsonl"
    r = truesli("gen", "--events", "20000", "--seed", "7", "--out", str(path))
    assert r.returncode == 0, r.stderr
    return path


def shifted(mix: Path, out: Path, first_ms: int) -> Path:
    """The mix with every timestamp moved so that it starts at ``first_ms`` (minute-aligned)."""
    lines = mix.read_bytes().splitlines()
    offset = first_ms - parse_rfc3339(orjson.loads(lines[0])["ts"])
    with out.open("wb") as f:
        for line in lines:
            doc = orjson.loads(line)
            doc["ts"] = format_rfc3339(parse_rfc3339(doc["ts"]) + offset)
            f.write(orjson.dumps(doc) + b"\n")
    return out


def test_year_old_samples_into_one_month_victoria_metrics_fail_loudly(mix, tmp_path):
    (tmp_path / "vm").mkdir()
    vm = start_victoria_metrics(tmp_path / "vm", retention="1")  # VictoriaMetrics' default: 1 month
    try:
        year_ago = (int(time.time() * 1000) - 365 * DAY_MS) // 60_000 * 60_000
        old = shifted(mix, tmp_path / "old.jsonl", year_ago)
        r = truesli("process", "--config", str(EXAMPLE), str(old), "--remote-write", vm.write_url)
        assert r.returncode == 1, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert lines[0].startswith(f"truesli: warning: samples from {format_rfc3339(year_ago)} are older than "
                                   "VictoriaMetrics keeps (-retentionPeriod=1, 31 days): it drops them silently; "
                                   "restart it with -retentionPeriod=")
        assert lines[-1].startswith("truesli: remote-write: the receiver answered success but ")
        assert "(now 1)" in lines[-1] and "raise -retentionPeriod" in lines[-1] and "Traceback" not in r.stderr
        assert "Remote-write: " in r.stdout  # it was delivered (204) …
        assert vm.export('{__name__=~"truesli_.*"}') == {}  # … and nothing was kept
    finally:
        vm.stop()


def test_old_samples_into_a_prometheus_with_recent_data_name_the_fix(mix, tmp_path):
    (tmp_path / "prom").mkdir()
    prom = start_prometheus(tmp_path / "prom", "global: {}\n")  # no out-of-order window
    try:
        now = int(time.time() * 1000)
        sink = RemoteWriteSink(prom.write_url)
        sink.add({"__name__": "up", "job": "scraped"}, now, 1.0)  # what a scraping Prometheus holds
        assert sink.close().ok
        r = truesli("process", "--config", str(EXAMPLE), str(mix), "--remote-write", prom.write_url)
        assert r.returncode == 1
        warning = next(line for line in r.stderr.splitlines() if "older than the newest sample" in line)
        assert warning.startswith("truesli: warning: samples from 2026-01-01T00:00:00.000Z are ")
        assert "unless storage.tsdb.out_of_order_time_window ≥ " in warning and "(now 0d)" in warning
        assert warning.endswith("or import the history with `promtool tsdb create-blocks-from openmetrics`")
        assert "truesli: remote-write could not deliver every sample: dropped rejected_4xx" in r.stderr
    finally:
        prom.stop()
