"""The CLI contract: commands, flags, outputs, exit codes and one-line errors (run as a real process)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def truesli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("mix")
    r = truesli("gen", "--events", "20000", "--seed", "5", "--bot-share", "0.9", "--out", str(d / "mix.jsonl"),
                "--truth", str(d / "truth.json"))
    assert r.returncode == 0, r.stderr
    return d / "mix.jsonl", orjson.loads((d / "truth.json").read_bytes())


def test_gen_writes_exact_count_and_truth(mix):
    path, truth = mix
    assert len(path.read_bytes().splitlines()) == 20_000
    assert truth["events"] == 20_000 and sum(v for k, v in truth["labels"].items() if k != "cgnat_real_user") == 20_000


def test_process_outputs_are_consistent(mix, tmp_path):
    path, truth = mix
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(path.read_bytes() + b'{"truncated": \n\n{"ts":"2026-01-01T00:00:00Z"}\n')
    r = truesli("process", str(bad), "--counters", str(tmp_path / "c.jsonl"), "--dead-letters",
                str(tmp_path / "d.jsonl"), "--verdicts", str(tmp_path / "v.jsonl"), "--summary-json",
                str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["consumed"] == 20_002  # the blank line is not a record
    assert summary["dead_lettered"] == 2
    assert summary["dead_letter_reasons"] == {"malformed_json": 1, "missing_field:client_ip": 1}
    assert summary["consumed"] == (summary["counted"] + sum(summary["filtered"].values())
                                   + sum(summary["excluded"].values()) + summary["unmatched"]
                                   + summary["dead_lettered"])
    verdicts = [orjson.loads(x) for x in (tmp_path / "v.jsonl").read_bytes().splitlines()]
    assert len(verdicts) == 20_002
    assert verdicts[-1] == {"source": {"file": str(bad), "line": 20_003}, "journey": None, "verdict": "dead_letter",
                            "reason": "missing_field:client_ip", "rule": None}
    dead = [orjson.loads(x) for x in (tmp_path / "d.jsonl").read_bytes().splitlines()]
    assert [(d["reason"], d["source"]["line"]) for d in dead] == [("malformed_json", 20_001),
                                                                    ("missing_field:client_ip", 20_003)]
    counters = [orjson.loads(x) for x in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    all_avail = summary["journeys"]["all"]["slos"]["availability"]
    assert sum(c["total"] for c in counters) == all_avail["total"] == summary["counted"]
    assert sum(c["good"] for c in counters) == all_avail["good"]
    t = truth["journeys"]["all"]["slos"]["availability"]
    assert abs((t["total"] - t["good"]) / t["total"] - (all_avail["total"] - all_avail["good"]) / all_avail["total"]) < 0.002
    report = r.stdout.decode()
    assert "Conservation holds: consumed 20,002" in report
    assert "Dead letters: 2 (malformed_json 1 · missing_field:client_ip 1)" in report


def test_stdin_gzip_and_parquet_give_the_same_summary(mix, tmp_path):
    path, _ = mix
    data = path.read_bytes()
    gz = tmp_path / "mix.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    rows = [orjson.loads(x) for x in data.splitlines()]
    for row in rows:
        row["ts"] = _ts_ms(row["ts"])
    table = pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA)
    pq.write_table(table, tmp_path / "mix.parquet")
    summaries = []
    for args, stdin in (([str(path)], None), (["-"], data), ([str(gz)], None), ([str(tmp_path / "mix.parquet")], None)):
        out = tmp_path / f"s{len(summaries)}.json"
        r = truesli("process", *args, "--summary-json", str(out), stdin=stdin)
        assert r.returncode == 0, r.stderr
        summaries.append(orjson.loads(out.read_bytes()))
    assert summaries[0]["consumed"] == 20_000
    assert all(s == summaries[0] for s in summaries[1:])


def _ts_ms(text: str) -> int:
    from streams.core.timeparse import parse_rfc3339

    return parse_rfc3339(text)


def test_combined_log_format_file(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        '203.0.113.5 - - [01/Jan/2026:00:00:01 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"\n'
        '203.0.113.6 - - [01/Jan/2026:00:00:02 +0000] "GET /products/1 HTTP/1.1" 503 0 "-" "Mozilla/5.0 (Macintosh)"\n'
        '66.249.66.1 - - [01/Jan/2026:00:00:03 +0000] "GET / HTTP/1.1" 200 512 "-" "Googlebot/2.1 (+http://www.google.com/bot.html)"\n'
        '10.0.0.9 - - [01/Jan/2026:00:00:04 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"\n'
        'this is not a log line\n')
    out = tmp_path / "s.json"
    r = truesli("process", str(log), "--summary-json", str(out))
    assert r.returncode == 0, r.stderr
    s = orjson.loads(out.read_bytes())
    assert (s["consumed"], s["counted"], s["filtered"], s["excluded"], s["dead_letter_reasons"]) == (
        5, 2, {"crawler": 1}, {"health": 1}, {"unparseable_line": 1})
    assert s["journeys"]["all"]["slos"]["availability"] == {"good": 1, "total": 2, "raw_good": 2, "raw_total": 3}


@pytest.mark.parametrize("args, message", [
    (["process", "/nonexistent/x.log"], "truesli: error: input file not found: /nonexistent/x.log"),
    (["process", "--config", "/nonexistent/c.yaml", "x"], "truesli: error: config file not found: /nonexistent/c.yaml"),
    (["gen", "--events", "10", "--bot-share", "1.5", "--out", "-"], "truesli: error: --bot-share must be in [0, 1)"),
    (["gen", "--events", "10", "--out", "/dev/null", "--truth", "/nonexistent/t.json"],
     "truesli: error: cannot write /nonexistent/t.json: No such file or directory"),
])
def test_user_errors_are_one_clear_line_and_exit_2(args, message):
    r = truesli(*args)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.startswith(message)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_config_lists_paths_and_exits_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("journeys:\n  - name: checkout\n    slos: [{name: a, kind: latency, objective: 0.99}]\n")
    r = truesli("process", "--config", str(cfg), "x.log")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "journeys[0].slos[0]: a latency SLO needs threshold_ms" in err
    assert "Traceback" not in err


def test_demo_reports_truth_alongside(tmp_path):
    r = truesli("demo", "--events", "30000", "--out-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "How non-user traffic distorted the SLI:" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anomalies.jsonl", "counters.jsonl", "dead-letters.jsonl",
                                                          "report.html", "sample.jsonl", "summary.json",
                                                          "truth.json", "verdicts.jsonl"]
    # The truth block: one line per SLO, the generator's truth.json beside truesli's summary.json, exactly.
    truth = orjson.loads((tmp_path / "truth.json").read_bytes())
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    lines = ["Ground truth from the generator (real users only):"]
    for journey, doc in truth["journeys"].items():
        if journey not in summary["journeys"]:
            continue  # the generator's own "all" journey: not one of the example config's
        for slo, t in doc["slos"].items():
            got = summary["journeys"][journey]["slos"][slo]
            real = 100 * (t["total"] - t["good"]) / t["total"]
            mine = 100 * (got["total"] - got["good"]) / got["total"]
            lines.append(f"  {journey}/{slo}: truth {real:.3f}% · truesli {mine:.3f}% · "
                         f"off by {abs(real - mine):.4f} percentage points")
    assert len(lines) == 1 + 8 and "\n".join(lines) + "\n" in out
    assert summary["consumed"] == 30_000 and (f"Conservation holds: consumed 30,000 = counted {summary['counted']:,} + "
                                              f"filtered {sum(summary['filtered'].values()):,} + excluded "
                                              f"{sum(summary['excluded'].values()):,} + unmatched "
                                              f"{summary['unmatched']:,} + dead-lettered 0") in out
    assert "Detection (0 change events):" in out
    assert f"HTML report (charts; open it in a browser): {tmp_path / 'report.html'}" in out


def test_every_command_runs_with_truesli_collector_thresholds(tmp_path):
    """``main`` sets CPython's cyclic-collector thresholds before dispatch (streams/cli COLLECTOR_THRESHOLDS:
    0.88× the wall of a 1M-line run); the process keeps them for the command's whole run."""
    import gc

    from streams.cli import COLLECTOR_THRESHOLDS, main

    before = gc.get_threshold()
    log = tmp_path / "a.log"
    log.write_text('{"ts":"2026-01-01T00:00:00.000Z","client_ip":"1.2.3.4","method":"GET","path":"/","status":200}\n')
    try:
        gc.set_threshold(700, 10, 10)
        assert main(["sniff", str(log)]) == 0
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS == (50_000, 20, 100)
    finally:
        gc.set_threshold(*before)
