"""Batch-decode candidates for the default JSONL preset, side by side on the same 10,000-line batches.

    python bench/decode.py [--events N]

Each leg turns the generator's lines (90% non-users) into per-record field values; the numbers choose the
library behind ``Decoder.decode_batch`` (docs/benchmarks.md, "Batch decode"). Best of 3, one process.
The second table is CPU time (``time.process_time``, comparable on a loaded machine): batches to
RequestColumns, ``Decoder.decode_columns`` (whole-batch pyarrow read) against the per-item path it replaces
(``batch_decoder`` + ``from_decoded``), with the pieces of the former alongside.
"""

from __future__ import annotations

import argparse
import gc
import io
import time

import msgspec
import orjson
import pyarrow as pa
import pyarrow.json as pj

from streams.config import Config
from streams.core import batch_columns
from streams.core.columns import from_decoded
from streams.core.decode import Decoder
from streams.tools.gen import generate

BATCH = 10_000


class _Rec(msgspec.Struct):
    ts: str | int | float | None = None
    client_ip: str | None = None
    method: str | None = None
    host: str | None = None
    path: str | None = None
    status: int | str | None = None
    duration_ms: float | int | str | None = None
    user_agent: str | None = None


def _best(fn, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(3):
        gc.collect()
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def _column_legs(batches: list[list[bytes]], decoder: Decoder) -> dict:
    """Batches → RequestColumns, and the parts of the whole-batch read (CPU-time legs)."""
    schema, wanted = decoder._arrow
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    joined = [b"\n".join(b) for b in batches]
    tables = [pj.read_json(pa.BufferReader(j), read_options=batch_columns._READ, parse_options=options)
              for j in joined]
    raws = [{name: t.column(key).combine_chunks() for name, key in wanted.items()} for t in tables]
    return {
        "batch_decoder + from_decoded": lambda: [from_decoded([f(x) for x in b]) for b in batches
                                                 for f in (decoder.batch_decoder(b),)],
        "Decoder.decode_columns": lambda: [decoder.decode_columns(b) for b in batches],
        "  of which: screen (join, RE2)": lambda: [batch_columns.arrow_screen(b, 1 << 20) for b in batches],
        "  of which: pyarrow.json.read_json": lambda: [pj.read_json(pa.BufferReader(j), parse_options=options,
                                                                    read_options=batch_columns._READ)
                                                       for j in joined],
        "  of which: finish (vectorised rules)": lambda: [batch_columns.finish(r, len(b), 1.0, 2048, 512)
                                                          for r, b in zip(raws, batches)],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--columns-only", action="store_true", help="only the CPU-time RequestColumns legs")
    args = ap.parse_args()
    buf = io.BytesIO()
    generate(buf, events=args.events, seed=1, bot_share=0.9)
    lines = buf.getvalue().splitlines()
    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    joined = [b"\n".join(b) for b in batches]
    dec = msgspec.json.Decoder(_Rec)
    one = dec.decode
    loads = orjson.loads
    decoder = Decoder(Config().input)

    legs = {
        "orjson.loads per line (dicts)": lambda: [[loads(x) for x in b] for b in batches],
        "msgspec Struct per line": lambda: [[one(x) for x in b] for b in batches],
        "msgspec Struct decode_lines": lambda: [dec.decode_lines(j) for j in joined],
        "pyarrow.json.read_json (columns)": lambda: [pj.read_json(pa.BufferReader(j)) for j in joined],
        "Decoder.decode per line (Requests)": lambda: [[decoder.decode(x) for x in b] for b in batches],
        "Decoder.batch_decoder (Requests)": lambda: [[f(x) for x in b] for b in batches
                                                     for f in (decoder.batch_decoder(b),)],
    
    }
    n = len(lines)
    print(f"{n:,} lines in batches of {BATCH:,}")
    if args.columns_only:
        legs = {}
    for name, fn in legs.items():
        t = _best(fn)
        print(f"{name:38s} {n / t:>12,.0f} lines/s")
    print("to RequestColumns, CPU time:")
    for name, fn in _column_legs(batches, decoder).items():
        t = _best(fn, time.process_time)
        print(f"{name:38s} {n / t:>12,.0f} lines/s {t / n * 1e9:>8,.0f} ns/line")


if __name__ == "__main__":
    main()
