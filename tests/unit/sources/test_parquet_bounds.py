"""Parquet rows are size-checked in Arrow before any Python string exists (issue 18, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.config import InputConfig
from streams.core.decode import Decoder, OversizedRow
from streams.sources.parquet import BATCH_BYTES, iter_parquet_batches

ROOT = Path(__file__).resolve().parents[3]
MIB = 1 << 20


def _bomb(path: Path, rows: int = 3_000, store_schema: bool = True) -> Path:
    """The file of the issue: ordinary request columns, and a dictionary-encoded 1 MiB user agent on every
    row, zstd — about 10 KB on disk, 3 GB as Python strings."""
    table = pa.table({
        "ts": pa.array([1_767_225_600_000 + i for i in range(rows)], pa.timestamp("ms", tz="UTC")),
        "client_ip": pa.array(["10.0.0.1"] * rows), "method": pa.array(["GET"] * rows),
        "host": pa.array(["shop.example"] * rows), "path": pa.array(["/"] * rows),
        "status": pa.array([200] * rows, pa.int16()), "duration_ms": pa.array([12.0] * rows),
        "user_agent": pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()),
                                                     pa.array(["a" * MIB], pa.large_string())),
    })
    pq.write_table(table, path, compression="zstd", store_schema=store_schema)
    return path


def _peak_rss_mb(args: list[str]) -> tuple[int, subprocess.CompletedProcess]:
    """Peak RSS (MB) of ``truesli ARGS`` run in a fresh child (so no other child's peak is counted)."""
    probe = ("import resource, subprocess, sys; "
             "r = subprocess.run(sys.argv[1:], capture_output=True); "
             "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n'); "
             "sys.stdout.write(r.stderr.decode()); sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "streams.cli", *args], cwd=ROOT,
                       capture_output=True, timeout=300)
    return int(r.stdout.split(b"\n", 1)[0]) // 1024, r


@pytest.mark.parametrize("store_schema", [True, False], ids=["arrow-schema", "no-arrow-schema"])
def test_parquet_dictionary_bomb_is_dead_lettered_in_bounded_memory(tmp_path, store_schema):
    """3.17 GB peak (7.3 GB without the stored Arrow schema, which made pyarrow expand the dictionary
    itself) and 0 dead letters before; now every row is an ``oversized`` dead letter at its row number."""
    bomb = _bomb(tmp_path / "bomb.parquet", store_schema=store_schema)
    assert bomb.stat().st_size < 12_000
    dl = tmp_path / "dl.jsonl"
    peak, r = _peak_rss_mb(["process", str(bomb), "--dead-letters", str(dl), "--summary-json",
                            str(tmp_path / "s.json")])
    assert r.returncode == 0, r.stdout.decode()
    assert peak < 400, f"peak RSS {peak} MB"  # the interpreter with pyarrow alone is ~75 MB
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert (summary["consumed"], summary["dead_letter_reasons"]) == (3_000, {"oversized": 3_000})
    letters = [orjson.loads(x) for x in dl.read_bytes().splitlines()]
    assert [d["source"]["line"] for d in letters] == list(range(1, 3_001))
    assert {d["error"] for d in letters} == {
        "row is 1048624 bytes (user_agent 1048576); the cap is 65536 (input.max_line_bytes)"}
    excerpt = orjson.loads(letters[0]["raw"])  # a bounded excerpt of the row, every field cut short
    assert excerpt["user_agent"] == "a" * 256 and excerpt["client_ip"] == "10.0.0.1"
    assert excerpt["ts"] == 1_767_225_600_000


def test_only_the_rows_over_the_cap_are_replaced_and_batches_are_bounded_by_bytes(tmp_path):
    rows = 400
    uas = ["u" * 60_000] * rows  # 60 KB: under the 64 KiB cap, 24 MB in all
    uas[3] = "short"
    uas[7] = "x" * 70_000  # over it
    table = pa.table({
        "ts": pa.array([1_767_225_600_000 + i for i in range(rows)], pa.timestamp("ms", tz="UTC")),
        "client_ip": ["10.0.0.1"] * rows, "method": ["GET"] * rows, "path": ["/"] * rows,
        "status": pa.array([200] * rows, pa.int16()), "user_agent": uas, "request_id": ["r" * 1_000] * rows,
    })
    pq.write_table(table, tmp_path / "mixed.parquet")
    batches = list(iter_parquet_batches(str(tmp_path / "mixed.parquet")))
    items = [item for batch, _ in batches for item in batch]
    assert len(items) == rows
    assert [i for i, item in enumerate(items) if type(item) is OversizedRow] == [7]
    # ts 8 + client_ip 8 + method 3 + path 1 + status 8 + user agent
    assert (items[7].size, items[7].field, items[7].field_bytes) == (70_028, "user_agent", 70_000)
    assert items[3]["user_agent"] == "short" and items[8]["user_agent"] == "u" * 60_000
    assert "request_id" not in items[8]  # a column the decoder does not read is not read at all
    # 24 MB of user agents in one 400-row record batch: split so no batch converts more than BATCH_BYTES;
    # positions run on across the split.
    assert [len(b) for b, _ in batches] == [281, 119]  # 279 × 60,028 bytes + the short row + the replaced one
    for batch, _ in batches:
        assert sum(len(i["user_agent"]) + 28 for i in batch if type(i) is dict) <= BATCH_BYTES
    assert [o.first for _, o in batches] == [1, 282]
    assert Decoder(InputConfig()).decode(items[7]) == (
        "oversized", "row is 70028 bytes (user_agent 70000); the cap is 65536 (input.max_line_bytes)")


def test_line_batches_are_bounded_by_bytes_too(tmp_path):
    """5,000 lines just under the 64 KiB cap would be 320 MB in one batch: batches stop at BATCH_BYTES."""
    from streams.sources.files import BATCH_BYTES as LINE_BATCH_BYTES, iter_line_batches

    f = tmp_path / "big.log"
    line = b"y" * 60_000
    f.write_bytes((line + b"\n") * 600)  # 36 MB
    batches = list(iter_line_batches(str(f)))
    assert [len(b) for b, _ in batches] == [280, 280, 40]  # 280 × 60,000 ≥ 16 MiB
    assert [o.first for _, o in batches] == [1, 281, 561]
    assert all(sum(map(len, b)) <= LINE_BATCH_BYTES + 60_000 for b, _ in batches)
