"""Core throughput in CPU time (``time.process_time``): comparable on a loaded machine where wall clock is
not. ``PYTHONPATH=TREE python bench/cpu_core.py LABEL``; figures in docs/benchmarks.md (issue #14).

Same input as ``truesli bench``: the generator's 1,000,000-event mix (seed 1, 90% non-users), batches of
10,000, default config; best of 3 per leg. Legs: a bare ``orjson.loads`` loop; the core on line batches
(decode + batch core, what a file run costs per record in CPU); the batch core alone, its input decoded
into columns beforehand (untimed) — what the per-record work costs once decoding is out of the way.
"""

from __future__ import annotations

import gc
import io
import sys
import time

import orjson

from streams.cli import COLLECTOR_THRESHOLDS
from streams.config import Config
from streams.core.columns import ColumnBatch
from streams.core.pipeline import Pipeline
from streams.tools.gen import generate


def _best(fn) -> float:
    best = float("inf")
    for _ in range(3):
        gc.collect()
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # as every truesli command runs (streams/cli)
    label = sys.argv[1] if len(sys.argv) > 1 else "core"
    buf = io.BytesIO()
    generate(buf, events=1_000_000, seed=1, bot_share=0.9)
    lines = buf.getvalue().splitlines()
    del buf
    batches = [lines[i:i + 10_000] for i in range(0, len(lines), 10_000)]
    config = Config()

    def loads() -> None:
        parse = orjson.loads
        for x in lines:
            parse(x)

    def core() -> None:
        p = Pipeline(config)
        for b in batches:
            p.process(b)
        p.flush()

    decoder = Pipeline(config).decoder
    columns = [ColumnBatch(decoder.decode_columns(b), b) for b in batches]

    def batch_core() -> None:
        p = Pipeline(config)
        for b in columns:
            p.process(b)
        p.flush()

    t_loads = _best(loads)
    t_core = _best(core)
    t_batch = _best(batch_core)
    n = len(lines)
    print(f"{label:10s} CPU-time: bare loads {n / t_loads:>11,.0f}/s  core {n / t_core:>10,.0f}/s  "
          f"ratio {t_loads / t_core:.3f}  batch core alone {n / t_batch:>10,.0f}/s")


if __name__ == "__main__":
    main()
