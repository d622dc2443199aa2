#!/usr/bin/env python3
"""Parquet reading: the size-checked reader (streams/sources/parquet.py) against unchecked conversion.

One generated mix (``--events``, 90% non-users) written once as request-log Parquet (zstd), then in one
run, ``--runs`` times each, alternating:
  unchecked  ParquetFile.iter_batches(5,000 rows, every column) + to_pylist per column + one dict per row
             (what the reader did before issue 18: no size check, dictionaries expanded per row)
  checked    streams.sources.parquet.iter_parquet_batches (dictionaries, Arrow-side length checks,
             byte-bounded batches, decoder columns only)
and, in CPU time (``time.process_time``), the file to RequestColumns:
  dict rows  iter_parquet_batches + Decoder.decode per row + columns.from_decoded
  columns    streams.sources.parquet_columns.iter_parquet_columns (Arrow columns through finish())
Usage: scripts/bench parquet [--events N] [--runs R]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.config import InputConfig  # noqa: E402
from streams.core.columns import from_decoded  # noqa: E402
from streams.core.decode import Decoder  # noqa: E402
from streams.core.timeparse import parse_rfc3339  # noqa: E402
from streams.sources.parquet_columns import iter_parquet_columns  # noqa: E402
from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA  # noqa: E402
from streams.sources.parquet import iter_parquet_batches  # noqa: E402
from streams.tools.gen import generate  # noqa: E402


def unchecked(path: str) -> int:
    n = 0
    for rb in pq.ParquetFile(path).iter_batches(batch_size=5_000):
        cols = {name: (col.cast(pa.int64()) if pa.types.is_timestamp(col.type) else col).to_pylist()
                for name, col in zip(rb.schema.names, rb.columns)}
        n += len([dict(zip(cols, values)) for values in zip(*cols.values())])
    return n


def checked(path: str) -> int:
    return sum(len(batch) for batch, _ in iter_parquet_batches(path))


def dict_rows(path: str) -> int:
    decoder = Decoder(InputConfig())
    return sum(from_decoded([decoder.decode(r) for r in batch]).n for batch, _ in iter_parquet_batches(path))


def columns(path: str) -> int:
    return sum(cols.n for cols, _ in iter_parquet_columns(path, Decoder(InputConfig())))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    buf = io.BytesIO()
    generate(buf, events=args.events, seed=3, bot_share=0.9)
    rows = []
    for line in buf.getvalue().splitlines():
        d = orjson.loads(line)
        d["ts"] = parse_rfc3339(d["ts"])
        rows.append({k: d.get(k) for k in REQUEST_LOG_ARROW_SCHEMA.names})
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "mix.parquet")
        pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), path, compression="zstd")
        print(f"{len(rows):,} rows, {Path(path).stat().st_size:,} bytes")
        for run in range(args.runs):
            for name, fn in (("unchecked", unchecked), ("checked", checked)):
                t0 = time.perf_counter()
                n = fn(path)
                took = time.perf_counter() - t0
                print(f"run {run + 1} {name:<9} {n:,} rows {took:.2f} s {n / took:,.0f} rows/s")
        for run in range(args.runs):
            for name, fn in (("dict rows", dict_rows), ("columns", columns)):
                t0 = time.process_time()
                n = fn(path)
                took = time.process_time() - t0
                print(f"run {run + 1} {name:<9} {n:,} rows {took:.2f} s CPU {n / took:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
