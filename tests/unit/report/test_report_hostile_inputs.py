"""Report inputs an attacker (or a broken producer) shaped: one line and exit 2 where the input is wrong,
a drawn page where it is merely unusual, and nothing raw reaching a terminal (issue 18, item 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[3]


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, timeout=300)


def _counters(path: Path, reasons: int = 3, journey: str = "all") -> Path:
    """Three one-minute windows of the default config's all/availability, with ``reasons`` filter reasons."""
    lines = []
    for m in range(3):
        filtered = {f"reason_{i:02d}": i + 1 for i in range(reasons)}
        dropped = sum(filtered.values())
        lines.append(orjson.dumps({
            "journey": journey, "slo": "availability", "window_start": f"2026-01-01T00:0{m}:00.000Z",
            "window_end": f"2026-01-01T00:0{m + 1}:00.000Z", "good": 9, "total": 10, "raw_good": 9 + dropped,
            "raw_total": 10 + dropped, "filtered": filtered, "skipped": {}, "networks": {}, "late": 0,
            "revision": 0}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _one_line_exit_2(r: subprocess.CompletedProcess) -> str:
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_burn_spike_of_an_unknown_severity_is_one_line_exit_2(tmp_path):
    anomalies = tmp_path / "a.jsonl"
    anomalies.write_bytes(orjson.dumps({
        "id": "x1", "type": "burn_spike", "state": "firing", "journey": "all", "slo": "availability",
        "severity": "critical", "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:03:00Z"},
        "ts": "2026-01-01T00:03:00Z"}) + b"\n")  # was: KeyError 'critical' in the renderer
    r = truesli("report", "--counters", str(_counters(tmp_path / "c.jsonl")), "--anomalies", str(anomalies),
                "--out", str(tmp_path / "r.html"))
    assert _one_line_exit_2(r) == (f"truesli: error: {anomalies}:1: severity 'critical' is not one of page, "
                                   "ticket, info (schemas/anomaly.schema.json)\n")
    assert not (tmp_path / "r.html").exists()


def test_more_filter_reasons_than_colours_are_drawn_the_smallest_summed(tmp_path):
    """20 distinct reasons (was: StopIteration after 16): valid counters, so the page is drawn — the 9
    largest reasons as layers and the other 11 summed into one."""
    out = tmp_path / "r.html"
    r = truesli("report", "--counters", str(_counters(tmp_path / "c.jsonl", reasons=20)), "--out", str(out))
    assert r.returncode == 0, r.stderr.decode()
    html = out.read_text()
    drawn = [f"reason_{i:02d}" for i in range(19, 10, -1)] + ["other reasons"]
    assert [name for name in drawn if f"filtered: {name}<" in html] == drawn
    assert [f"reason_{i:02d}" for i in range(20) if f"filtered: reason_{i:02d}<" in html] == sorted(drawn[:9])


def test_a_journey_name_with_escape_bytes_is_escaped_in_the_error(tmp_path):
    counters = _counters(tmp_path / "c.jsonl", journey="\x1b]0;pwned\x07all\x1b[2J")
    r = truesli("report", "--counters", str(counters), "--out", str(tmp_path / "r.html"))
    err = _one_line_exit_2(r)
    assert err == ("truesli: error: the counters hold \\x1b]0;pwned\\x07all\\x1b[2J/availability, which the "
                   "config does not define: pass the --config the counters were produced with\n")
    assert "\x1b" not in err and "\x07" not in err


def test_dead_letters_escape_c1_controls_and_bidi_overrides(tmp_path):
    """JSON escapes C0 controls but carries U+009B (CSI in 8-bit terminals) and U+202E (right-to-left
    override) raw: a `cat` of the dead-letter file would obey them."""
    logs = tmp_path / "hostile.log"
    logs.write_bytes("not a log line \u009b31m red \u202e desrever \u200b\x1b[2J\n".encode())
    dl = tmp_path / "dl.jsonl"
    r = truesli("process", str(logs), "--dead-letters", str(dl))
    assert r.returncode == 3, r.stderr.decode()  # every line failed one format: the input-mistake hint
    data = dl.read_bytes()
    for raw in ("\u009b", "\u202e", "\u200b", "\x1b"):
        assert raw.encode() not in data
    [letter] = [orjson.loads(x) for x in data.splitlines()]
    assert letter["reason"] == "unparseable_line"
    assert letter["raw"] == "not a log line \\x9b31m red \\u202e desrever \\u200b\\x1b[2J"


def test_html_report_escapes_every_string_from_its_inputs(tmp_path):
    """Filter reasons (counters), change ids and descriptions, and anomaly fields are text in the page,
    never markup: the page has no element the renderer did not write."""
    payload = '"><img src=x onerror=alert(1)><script>alert(2)</script>\u202e'
    counters = _counters(tmp_path / "c.jsonl", reasons=0)
    lines = [orjson.loads(x) for x in counters.read_bytes().splitlines()]
    for doc in lines:
        doc["filtered"] = {payload: 1}
        doc["raw_total"] += 1
        doc["raw_good"] += 1
    counters.write_bytes(b"\n".join(map(orjson.dumps, lines)) + b"\n")
    changes = tmp_path / "ch.jsonl"
    changes.write_bytes(orjson.dumps({"ts": "2026-01-01T00:01:30Z", "service": "all", "kind": "deploy",
                                      "id": payload, "description": payload}) + b"\n")
    anomalies = tmp_path / "a.jsonl"
    anomalies.write_bytes(orjson.dumps({
        "id": payload, "type": "burn_spike", "state": "firing", "journey": "all", "slo": "availability",
        "severity": "page", "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:03:00Z"},
        "ts": "2026-01-01T00:02:00Z"}) + b"\n")
    out = tmp_path / "r.html"
    r = truesli("report", "--counters", str(counters), "--changes", str(changes), "--anomalies", str(anomalies),
                "--out", str(out))
    assert r.returncode == 0, r.stderr.decode()
    html = out.read_text()
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;alert(2)") >= 2  # the reason's legend and the change marker at least
