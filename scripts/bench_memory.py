#!/usr/bin/env python3
"""Memory with many distinct client IPs in per-IP state (the design card's ≤ 400 MB bar).

Feeds N records, each from a distinct IP with a browser user agent (so every one reaches the per-IP
filters), 3 ms apart in event time, through one Pipeline with state.max_tracked_ips = N; reports the IPs
held in state at the end and the process's peak RSS. Records are generated batch by batch, so the input
itself is not resident.   Usage: scripts/bench memory [--ips N]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.config import config_from_dict  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
T0 = 1_767_225_600_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ips", type=int, default=1_000_000)
    ap.add_argument("--ttl-s", type=int, default=1800)
    args = ap.parse_args()
    pipeline = Pipeline(config_from_dict({"state": {"max_tracked_ips": args.ips, "ip_ttl_s": args.ttl_s}}))
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    for b in range(0, args.ips, 10_000):
        batch = []
        for n in range(b, min(b + 10_000, args.ips)):
            batch.append(orjson.dumps({"ts": T0 + n * 3, "client_ip": f"11.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                                       "method": "GET", "path": f"/p/{n}", "status": 200, "user_agent": UA}))
        pipeline.process(batch)
    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records {args.ips:,} · distinct IPs {args.ips:,} · IPs in state at the end "
          f"{len(pipeline.filters.store):,} (max {args.ips:,}, TTL {args.ttl_s} s of event time) · "
          f"peak RSS {peak:.0f} MB (interpreter + libraries at start: {start_rss:.0f} MB) · "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
