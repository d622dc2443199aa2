"""Batch-decode candidates for the default JSONL preset, side by side on the same 10,000-line batches.

    python bench/decode.py [--events N]

Each leg turns the generator's lines (90% non-users) into per-record field values; the numbers choose the
library behind ``Decoder.decode_batch`` (docs/benchmarks.md, "Batch decode"). Best of 3, one process.
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


def _best(fn) -> float:
    best = float("inf")
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
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
    for name, fn in legs.items():
        t = _best(fn)
        print(f"{name:38s} {n / t:>12,.0f} lines/s")


if __name__ == "__main__":
    main()
