"""Core throughput benchmark: the whole core vs a bare ``orjson.loads`` loop on the same lines.

One process, one core, in-memory input (the generator's mix at 90% bots), so the numbers measure the core
and nothing else. Results go to stdout (and JSON if asked); docs/benchmarks.md records them with the
command. Nothing here is asserted by tests: speed is measured, not unit-tested.
"""

from __future__ import annotations

import gc
import io
import platform
import resource
import time

import orjson

from streams.config import Config
from streams.core.decode import Decoder
from streams.core.pipeline import Pipeline
from streams.tools.gen import generate

BATCH = 10_000


def _best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _lru_touch_ns(n: int = 200_000) -> tuple[float, float]:
    """ns per touch for the plain-dict LRU used by IpStateStore vs cachetools.LRUCache."""
    import cachetools

    from streams.core.filters.ipstate import IpStateStore

    ips = [f"11.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in range(50_000)]
    seq = [ips[(i * 7919) % len(ips)] for i in range(n)]
    store = IpStateStore(100_000, 3600)

    def via_store() -> None:
        touch = store.touch
        for ip in seq:
            touch(ip, 1)

    lru: cachetools.LRUCache = cachetools.LRUCache(maxsize=100_000)

    def via_cachetools() -> None:
        for ip in seq:
            st = lru.get(ip)
            if st is None:
                lru[ip] = st = [0]
            st[0] = 1

    return _best_of(3, via_store) / n * 1e9, _best_of(3, via_cachetools) / n * 1e9


def run_core_bench(events: int = 1_000_000, seed: int = 1, out_json: str | None = None) -> dict:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    lines = buf.getvalue().splitlines()
    del buf
    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    config = Config()

    def bare_loads() -> None:
        loads = orjson.loads
        for line in lines:
            loads(line)

    decoder = Decoder(config.input)

    def decode_only() -> None:
        decode = decoder.decode
        for line in lines:
            decode(line)

    def decode_batches() -> None:
        for b in batches:
            decoder.decode_columns(b)

    tallies = []

    def core() -> None:
        p = Pipeline(config)
        for b in batches:
            p.process(b)
        p.flush()
        tallies.append(p.tally)

    t_loads = _best_of(3, bare_loads)
    t_decode = _best_of(3, decode_only)
    t_batch = _best_of(3, decode_batches)
    t_core = _best_of(3, core)
    dict_ns, cachetools_ns = _lru_touch_ns()
    tallies[-1].check_conservation()
    result = {
        "events": len(lines),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "orjson_loads_events_per_s": round(len(lines) / t_loads),
        "decode_events_per_s": round(len(lines) / t_decode),
        "decode_batch_path_events_per_s": round(len(lines) / t_batch),
        "core_events_per_s": round(len(lines) / t_core),
        "core_vs_orjson_loads": round(t_loads / t_core, 3),
        "core_us_per_event": round(t_core / len(lines) * 1e6, 3),
        "ipstate_touch_ns": {"dict_lru": round(dict_ns), "cachetools_lru": round(cachetools_ns)},
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "tally": tallies[-1].to_dict(),
    }
    print(f"events                 {result['events']:,} (generated mix, 90% non-users, batches of {BATCH:,})")
    print(f"bare orjson.loads      {result['orjson_loads_events_per_s']:>12,} events/s")
    print(f"decode only            {result['decode_events_per_s']:>12,} events/s (per record, Decoder.decode)")
    print(f"decode, batch path     {result['decode_batch_path_events_per_s']:>12,} events/s "
          "(Decoder.decode_columns: what the core runs)")
    print(f"core (whole pipeline)  {result['core_events_per_s']:>12,} events/s "
          f"({result['core_us_per_event']} µs/event; {result['core_vs_orjson_loads']:.3f}× the bare loads loop)")
    print(f"per-IP state touch     dict LRU {dict_ns:.0f} ns vs cachetools.LRUCache {cachetools_ns:.0f} ns")
    print(f"max RSS                {result['max_rss_mb']} MB (includes the in-memory input)")
    if out_json:
        with open(out_json, "wb") as f:
            f.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result
