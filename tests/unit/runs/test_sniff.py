"""``truesli sniff``: formats per line with counts, mapped samples beside the raw line (text and JSON)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from streams.config import Config
from streams.runs.sniff import render_sniff, sniff_file

ROOT = Path(__file__).resolve().parents[3]
CLF = '203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET /a?b HTTP/1.1" 200 5 "-" "curl/8.5.0"'
ENVOY = ('[2026-01-01T00:00:00.310Z] "POST /api HTTP/2" 503 UF 154 0 226 - "10.0.35.28" "nsq2http" "id" '
         '"locations" "tcp://10.0.2.1:80"')
HAPROXY = ('Jan  1 00:00:00 lb1 haproxy[1]: 10.0.1.2:33317 [01/Jan/2026:00:00:00.250] http-in static/srv1 '
           '10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"')


def _log(tmp_path: Path) -> Path:
    p = tmp_path / "mixed.log"
    p.write_text("\n".join([CLF, CLF.replace("/a?b", "/c"), ENVOY, HAPROXY, CLF.replace("GET /a?b HTTP/1.1", "G3T"),
                            "", "garbage line", CLF.replace("203.0.113.9", "203.0.113.10")]) + "\n")
    return p


def test_counts_per_format_and_samples(tmp_path: Path) -> None:
    report = sniff_file(Config(), str(_log(tmp_path)), samples=2)
    d = report.to_dict()
    assert (d["lines"], d["decoded"]) == (7, 5)
    assert {k: (v["decoded"], v["failed"]) for k, v in d["formats"].items()} == {
        "combined/plain": (3, {}), "combined": (0, {"unparseable_line": 1}), "envoy": (1, {}),
        "syslog > haproxy": (1, {}), "-": (0, {"unparseable_line": 1})}
    assert [(s["line"], s["record"]["path"]) for s in d["formats"]["combined/plain"]["samples"]] == [(1, "/a"), (2, "/c")]
    assert d["formats"]["envoy"]["samples"] == [{"line": 3, "raw": ENVOY, "record": {
        "ts": "2026-01-01T00:00:00.310Z", "client_ip": "10.0.35.28", "method": "POST", "host": "locations",
        "path": "/api", "status": 503, "duration_ms": 226.0, "user_agent": "nsq2http", "forwarded_for": "10.0.35.28"}}]
    assert list(d["formats"]) == ["combined/plain", "-", "combined", "envoy", "syslog > haproxy"]  # by lines


def test_text_report_puts_the_mapped_record_under_its_raw_line(tmp_path: Path) -> None:
    text = render_sniff(sniff_file(Config(), str(_log(tmp_path)), samples=1))
    lines = text.splitlines()
    assert lines[0] == f"{tmp_path / 'mixed.log'}: 7 lines, 5 decoded (71.4%)"
    assert "  syslog > haproxy         1         1  -" in lines
    i = lines.index("== syslog > haproxy")
    assert lines[i + 1] == f"  line 4: {HAPROXY[:159]}…"
    assert lines[i + 2] == ("    → ts=2026-01-01T00:00:00.250Z  client_ip=10.0.1.2  method=GET  host=-  "
                            "path=/index.html  status=200  duration_ms=109  user_agent=-  forwarded_for=-")
    j = lines.index("== combined")
    assert lines[j + 2] == "    ✗ unparseable_line: combined: request line is not 'METHOD target [protocol]'"


def test_cli_sniff_text_and_json(tmp_path: Path) -> None:
    log = _log(tmp_path)
    r = subprocess.run([sys.executable, "-m", "streams.cli", "sniff", str(log), "--json"], cwd=ROOT,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert orjson.loads(r.stdout)["decoded"] == 5
    r = subprocess.run([sys.executable, "-m", "streams.cli", "sniff", str(tmp_path / "missing.log")], cwd=ROOT,
                       capture_output=True, timeout=120)
    assert (r.returncode, r.stderr.decode().strip()) == (
        2, f"truesli: error: input file not found: {tmp_path / 'missing.log'}")
