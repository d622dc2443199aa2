#!/usr/bin/env python3
"""Time per record on adversarial input, next to ordinary traffic, through the whole core.

One Pipeline with the hostile configuration of tests/unit/runs/test_hostile_input.py (backtracking-prone user
patterns, a user-agent exclusion regex, a path regex, trusted proxies) plus the crawler list. Every
category uses records that defeat the verdict caches (a distinct user agent/path per record), so each
one pays for decoding and every regex. Nothing here is asserted by tests: the test suite proves the bound
structurally (no regex sees more than max_user_agent_chars; oversized records are rejected by length
before parsing); this measures what the bound costs.   Usage: scripts/bench hostile [--records N]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.config import config_from_dict  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402
from streams.core.timeparse import format_rfc3339  # noqa: E402

T0 = 1_767_225_600_000
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
EVIL_PATTERNS = [r"(a+)+$", r"(x+x+)+y", r"(.*a){12}", r"^(([a-z])+.)+[A-Z]([a-z])+$", r"(\w|\d)+!"]
CONFIG = {
    "input": {"max_line_bytes": 1 << 20, "trusted_proxies": ["10.0.0.0/8"]},
    "journeys": [
        {"name": "checkout", "match": {"path_regex": r"^/(checkout|cart)(/[^/]+)*/?$"},
         "slos": [{"name": "availability", "kind": "availability", "objective": 0.999}]},
        {"name": "all", "slos": [{"name": "availability", "kind": "availability", "objective": 0.99}]},
    ],
    "exclusions": [{"reason": "probe", "user_agent_regex": r"(a|aa)+$"}],
    "filters": {"bot_ua": {"patterns": EVIL_PATTERNS}},
    "state": {"max_tracked_ips": 100_000, "ip_ttl_s": 100_000},
}


def line(n: int, **over: object) -> bytes:
    rec = {"ts": format_rfc3339(T0 + n), "client_ip": f"11.0.{n >> 8 & 255}.{n & 255}", "method": "GET",
           "path": f"/checkout/{n}", "status": 200, "duration_ms": 12, "user_agent": f"{BROWSER} b{n}"}
    rec.update(over)
    return orjson.dumps(rec)


def categories(n: int) -> dict[str, list[bytes]]:
    """name → n records (distinct where caches would otherwise hide the cost)."""
    eight_mb = line(0, user_agent="A" * (8 << 20))
    return {
        "ordinary browser requests": [line(i) for i in range(n)],
        "64 KB user agent 'a…a' vs (a+)+$ and friends": [line(i, user_agent=f"{i}" + "a" * 65_500) for i in range(n)],
        "64 KB user agent '(((…' vs the crawler list": [line(i, user_agent=f"{i}" + "(" * 65_500) for i in range(n)],
        "64 KB user agent 'Mozilla/5.0 (' × 5,000": [line(i, user_agent=f"{i}" + "Mozilla/5.0 (" * 5_000)
                                                      for i in range(n)],
        "60 KB path vs the path regex": [line(i, path=f"/checkout/{i}" + "/a" * 30_000 + "!") for i in range(n)],
        "X-Forwarded-For of 500 hops via a trusted proxy": [
            line(i, client_ip="10.0.0.1", forwarded_for=", ".join(f"10.1.{i & 255}.{h & 255}" for h in range(500)))
            for i in range(n)],
        "60 KB nested JSON": [b'{"ts":' + b"[" * 30_000 + b"]" * 30_000 + b"}"] * n,
        "60 KB of duplicate keys": [line(i)[:-1] + b',"status":200' * 5_000 + b"}" for i in range(n)],
        "huge numbers and NaN": [line(i)[:-1] + b',"duration_ms":' + (b"9" * 400 if i % 2 else b"NaN") + b"}"
                                 for i in range(n)],
        "60 KB Combined Log line of quotes and backslashes": [
            (f'1.2.3.{i & 255} - - [01/Jan/2026:00:00:00 +0000] "GET /{i} HTTP/1.1" 200 0 "-" "'
             + '\\"' * 30_000 + '"').encode() for i in range(n)],
        "1 KB random bytes": [os.urandom(1024) for _ in range(n)],
        "8 MB line (rejected by length)": [eight_mb] * n,
    }


def time_category(records: list[bytes]) -> tuple[float, dict]:
    """µs per record (best of 3, a fresh pipeline each run) and the last run's tally."""
    best = float("inf")
    tally = {}
    for _ in range(3):
        pipeline = Pipeline(config_from_dict(CONFIG))
        gc.collect()
        t0 = time.perf_counter()
        for i in range(0, len(records), 100):
            pipeline.process(records[i:i + 100], now_ms=T0 + 60_000)
        best = min(best, time.perf_counter() - t0)
        pipeline.tally.check_conservation()
        tally = pipeline.tally.to_dict()
    return best / len(records) * 1e6, tally


def backtracking_contrast() -> tuple[float, float]:
    """Seconds Python's backtracking ``re`` needs for (a+)+$ on 24 characters, and µs RE2 needs on 512."""
    from streams.core.regex import compile_re2

    text = "a" * 24 + "!"
    t0 = time.perf_counter()
    re.search(r"(a+)+$", text)
    py_s = time.perf_counter() - t0
    rx = compile_re2(r"(a+)+$")
    long = "a" * 511 + "!"
    t0 = time.perf_counter()
    for _ in range(1000):
        rx.search(long)
    return py_s, (time.perf_counter() - t0) / 1000 * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2_000, help="records per category")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = {}
    for name, records in categories(args.records).items():
        us, tally = time_category(records)
        results[name] = {"us_per_record": round(us, 1), "tally": tally}
        verdicts = {k: v for k, v in tally.items() if k in ("counted", "unmatched") and v} | {
            k: v for k, v in {**tally["filtered"], **tally["excluded"], **tally["dead_letter_reasons"]}.items()}
        print(f"{name:<52} {us:>9.1f} µs/record   {orjson.dumps(verdicts).decode()}", flush=True)
    py_s, re2_us = backtracking_contrast()
    results["contrast"] = {"python_re_24_chars_s": round(py_s, 2), "re2_512_chars_us": round(re2_us, 1)}
    print(f"contrast: Python's backtracking re needs {py_s:.2f} s for (a+)+$ on 24 characters; "
          f"RE2 needs {re2_us:.1f} µs on 512")
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
