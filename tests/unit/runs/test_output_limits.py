"""A tiny input cannot become gigabytes of output (issue 18, item 3): input caps (bytes, lines,
compression ratio), dead-letter and verdict caps with a counted remainder — each named in the summary."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from streams.sources.files import iter_line_batches
from streams.sources.limits import Cap, InputLimits

ROOT = Path(__file__).resolve().parents[3]


def _x_gz(tmp_path: Path) -> Path:
    """The issue's file: `yes x | head -c 10M | gzip -9` — 5,242,880 lines "x" in about 10 KB."""
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"x\n" * (5 << 20), 9))
    return path


def _process(tmp_path: Path, *args: str, rc: int = 0) -> tuple[dict, str]:
    """Run process; ``rc`` 3 where every line fails one format (the input-mistake hint; outputs still written)."""
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", *args, "--summary-json",
                        str(tmp_path / "s.json")], cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == rc, r.stderr.decode()
    return orjson.loads((tmp_path / "s.json").read_bytes()), r.stdout.decode()


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def test_gzip_amplification_stops_at_the_default_caps_and_the_summary_says_so(tmp_path):
    """Before: 1.07 GB of dead letters + 0.60 GB of verdicts from this 10 KB file. Now the input stops at
    1 MiB (it expands ~1,000×) and 100,000 dead letters are written, the rest counted by reason."""
    x = _x_gz(tmp_path)
    assert x.stat().st_size < 11_000
    dl, verdicts = tmp_path / "dl.jsonl", tmp_path / "v.jsonl"
    summary, report = _process(tmp_path, str(x), "--dead-letters", str(dl), "--verdicts", str(verdicts), rc=3)
    # 1 MiB of "x\n" is read, every line a dead letter: conservation over what was read.
    assert (summary["consumed"], summary["dead_letter_reasons"]) == (524_288, {"unparseable_line": 524_288})
    ratio, dead = summary["capped"]
    assert (ratio["source"], ratio["limit"]) == (str(x), "max_compression_ratio")
    assert ratio["detail"].startswith("not read past 1,048,576 bytes: ")
    assert ratio["detail"].endswith("(more than 100×)")
    assert dead == {"source": str(dl), "limit": "max_dead_letters",
                    "detail": "100,000 dead letters written, 424,288 more counted only (unparseable_line 424,288)"}
    assert (_lines(dl), _lines(verdicts)) == (100_000, 524_288)
    assert dl.stat().st_size + verdicts.stat().st_size < 200 << 20  # was 1.67 GB
    assert "Capped (limits:, see docs/configuration.md) — the counts above cover what was read:" in report
    assert f"  {dl}: 100,000 dead letters written, 424,288 more counted only (unparseable_line 424,288) " \
           "(limits.max_dead_letters)" in report.splitlines()


def test_user_set_limits_cap_lines_dead_letters_and_verdicts(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text(yaml.safe_dump({"limits": {"max_compression_ratio": 5000, "max_input_lines": 200_000,
                                              "max_dead_letters": 1_000, "max_verdicts": 5_000}}))
    x = _x_gz(tmp_path)
    dl, verdicts = tmp_path / "dl.jsonl", tmp_path / "v.jsonl"
    summary, _ = _process(tmp_path, "--config", str(cfg), str(x), "--dead-letters", str(dl),
                          "--verdicts", str(verdicts), rc=3)
    assert (summary["consumed"], summary["dead_lettered"]) == (200_000, 200_000)
    assert summary["capped"] == [
        {"source": str(x), "limit": "max_input_lines", "detail": "not read past line 200,000"},
        {"source": str(dl), "limit": "max_dead_letters",
         "detail": "1,000 dead letters written, 199,000 more counted only (unparseable_line 199,000)"},
        {"source": str(verdicts), "limit": "max_verdicts",
         "detail": "5,000 verdicts written, 195,000 more not written"},
    ]
    assert (_lines(dl), _lines(verdicts)) == (1_000, 5_000)


def test_input_byte_cap_stops_at_a_whole_line_and_ordinary_runs_hit_no_cap(tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(b"".join(b"line-%06d\n" % i for i in range(1_000)))  # 12 bytes a line
    caps: list[Cap] = []
    got = [x for batch, _ in iter_line_batches(str(f), limits=InputLimits(max_bytes=1_000), caps=caps)
           for x in batch]
    assert got == [b"line-%06d" % i for i in range(83)]  # 996 bytes: no half line becomes a record
    assert caps == [Cap(str(f), "max_input_bytes", "not read past 996 bytes")]
    caps.clear()
    assert sum(len(b) for b, _ in iter_line_batches(str(f), limits=InputLimits(max_lines=1_000), caps=caps)) == 1_000
    assert caps == []  # exactly at the line cap, nothing left unread: not capped
    gz = tmp_path / "a.log.gz"
    # 4.4 MB of distinct lines, gzip -9 ~4× (like real logs, unlike the bomb's 1,000×)
    gz.write_bytes(gzip.compress(b"".join(b"line-%09d %08x\n" % (i, i * 2_654_435_761 & 0xFFFFFFFF)
                                          for i in range(200_000)), 9))
    summary, _ = _process(tmp_path, str(gz), rc=3)  # the lines are not log lines
    assert summary["consumed"] == 200_000 and "capped" not in summary


def test_parquet_page_bomb_is_refused_by_the_ratio_guard_before_it_is_decompressed(tmp_path):
    """A plain-encoded (no dictionary) column of 300 × 1 MiB user agents is one 300 MB page from ~20 KB:
    reading it cost 1 GB before; the row group is now not read."""
    rows = 600
    table = pa.table({
        "ts": pa.array([1_767_225_600_000 + i for i in range(rows)], pa.timestamp("ms", tz="UTC")),
        "client_ip": ["10.0.0.1"] * rows, "method": ["GET"] * rows, "path": ["/"] * rows,
        "status": pa.array([200] * rows, pa.int16()),
        "user_agent": pa.array(["a" * (1 << 20) if i % 2 else "Mozilla" for i in range(rows)], pa.large_string()),
    })
    bomb = tmp_path / "plain.parquet"
    pq.write_table(table, bomb, compression="zstd", use_dictionary=False)
    assert bomb.stat().st_size < 30_000
    summary, _ = _process(tmp_path, str(bomb))
    assert summary["consumed"] == 0
    [cap] = summary["capped"]
    assert (cap["source"], cap["limit"]) == (str(bomb), "max_compression_ratio")
    assert cap["detail"].startswith("not read past row 0: row group 0 declares 3")  # ~314 MB
    assert cap["detail"].endswith("×, more than 100×)")
