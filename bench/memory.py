#!/usr/bin/env python3
"""Memory and cardinality with many distinct client IPs and paths (the design card's ≤ 400 MB bar).

Feeds N records, each from a distinct IP and for a distinct path, 3 ms apart in event time, through one
Pipeline with state.max_tracked_ips = N. Browser user agents, so every record reaches the per-IP filters;
paths spread over the journeys of examples/truesli.yaml (and outside them), 2% of them 404s so scanner
evidence exists for some IPs. Reports the IPs held in state, the sizes of the input-keyed caches, the
label values of every counter emitted, and the process's peak RSS. Records are generated batch by batch,
so the input itself is not resident. Then times a flood of new IPs into the full store (each record evicts one) and the expiry of every IP held at once (a gap in the input).   Usage: scripts/bench memory [--ips N] [--ttl-s S] [--track-changes] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.cli import COLLECTOR_THRESHOLDS  # noqa: E402
from streams.config import config_from_dict  # noqa: E402
from streams.core.merge import CounterBook  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402
from streams.sinks.series import counter_samples  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
T0 = 1_767_225_600_000
ROUTES = (("POST", "/checkout/{n}"), ("GET", "/products/{n}"), ("GET", "/category/{n}/page"),
          ("GET", "/search?q={n}"), ("POST", "/login?next=/{n}"), ("GET", "/static/{n}.js"), ("GET", "/u/{n}"))


def record(n: int) -> bytes:
    """One input line. Copied to its exact size: orjson's result keeps its ~4 KiB working buffer
    allocated, which would make a 10,000-line batch weigh ~40 MB instead of the ~2 MB that a file
    or Kafka source hands over — the benchmark measures truesli's state, not that slack."""
    method, path = ROUTES[n % len(ROUTES)]
    return bytes(memoryview(orjson.dumps({"ts": T0 + n * 3, "client_ip": f"11.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                         "method": method, "path": path.format(n=n), "status": 404 if n % 50 == 0 else 200,
                         "duration_ms": n % 700, "user_agent": UA})))


def main() -> int:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # as every truesli command runs (streams/cli)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ips", type=int, default=1_000_000)
    ap.add_argument("--ttl-s", type=int, default=1800)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--track-changes", action="store_true",
                    help="the live worker's store: change tracking on, changes taken after every batch")
    args = ap.parse_args()
    doc = yaml.safe_load((ROOT / "examples" / "truesli.yaml").read_text())
    doc["state"] = {"max_tracked_ips": args.ips, "ip_ttl_s": args.ttl_s}
    config = config_from_dict(doc)
    pipeline = Pipeline(config, track_state_changes=args.track_changes)
    book = CounterBook()
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    for b in range(0, args.ips, 10_000):
        book.add(pipeline.process([record(n) for n in range(b, min(b + 10_000, args.ips))]).counters)
        if args.track_changes:
            pipeline.filters.store.take_changes()  # what a commit's changelog write reads
    in_state = len(pipeline.filters.store)
    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    took = time.perf_counter() - t0
    # A flood of new IPs into the full store: every request evicts the least recently touched IP.
    flood = min(args.ips, 100_000)
    t1 = time.perf_counter()
    for b in range(0, flood, 10_000):
        book.add(pipeline.process([record(n) for n in range(args.ips + b, args.ips + min(b + 10_000, flood))]).counters)
    flood_us = (time.perf_counter() - t1) / flood * 1e6
    book.add(pipeline.flush().counters)
    # A gap in the input (or the end of a burst of one-request bots): every IP expires in one call.
    store = pipeline.filters.store
    t1 = time.perf_counter()
    expired = store.expire(1 << 60)
    expire_s = time.perf_counter() - t1
    merged = book.merged()
    labels: dict[str, set[str]] = {}
    for sample_labels, _, _ in counter_samples(merged):
        for k, v in sample_labels.items():
            labels.setdefault(k, set()).add(v)
    series = {tuple(sorted(sl.items())) for sl, _, _ in counter_samples(merged)}
    router = pipeline.router
    result = {
        "records": args.ips, "distinct_ips": args.ips, "distinct_paths": args.ips,
        "ips_in_state": in_state, "max_tracked_ips": args.ips,
        "route_cache": len(router._route_cache), "tally": pipeline.tally.to_dict(),
        "label_values": {k: sorted(v) for k, v in sorted(labels.items()) if k != "__name__"},
        "series": len(series), "windows": len({c.window_start_ms for c in merged}),
        "peak_rss_mb": round(peak), "start_rss_mb": round(start_rss), "seconds": round(took, 1),
        "flood_records": flood, "flood_us_per_record": round(flood_us, 2),
        "expired_at_once": expired, "expire_seconds": round(expire_s, 3),
    }
    print(f"records {args.ips:,} · distinct IPs {args.ips:,} · distinct paths {args.ips:,} · IPs in state at the "
          f"end {in_state:,} (max {args.ips:,}, TTL {args.ttl_s} s of event time) · route cache "
          f"{result['route_cache']:,} entries · peak RSS {peak:.0f} MB (interpreter + libraries at start: "
          f"{start_rss:.0f} MB) · {took:.1f} s")
    print(f"then {flood:,} records from new IPs into the full store: {flood_us:.2f} µs per record (each evicts one)")
    print(f"then a gap in the input: {expired:,} IPs expired in one call in {expire_s:.3f} s")
    print(f"exported series {len(series)} over {result['windows']} windows; label values: "
          + "; ".join(f"{k}={','.join(v)}" for k, v in result["label_values"].items()))
    print(f"tally {orjson.dumps(result['tally']).decode()}")
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
