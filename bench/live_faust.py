#!/usr/bin/env python3
"""Baseline leg of bench/live.py: a straightforward per-event faust agent doing the SLI job.

The job (class :class:`Job`, shared with bench/live_quix.py and with the reference that
bench_live.py computes in-process): orjson-decode each record, drop known bots with the
crawler-user-agents list (one verdict per distinct UA string, cached), count good (status < 500) / total
for journey ``all`` per event-time minute in a dict. Nothing else: no other filters, no exactly-once, no
output topic. It is the baseline the design card asks for, so it uses faust's default per-event stream
(``async for value in stream``, concurrency 1, default buffer and commit settings).

When the N-th record has been processed the process writes ``--result`` (JSON: monotonic times of the
first and the N-th record, CPU seconds at both, the counts) and keeps running; the harness stops it.
``time.monotonic()`` is CLOCK_MONOTONIC, shared by all processes of the machine, so the harness can
compare these times with its own.

This module imports only the standard library, orjson and crawleruseragents at top level: the Quix leg
(another virtualenv, without faust) imports :class:`Job` from here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from datetime import datetime
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of this whole process (all threads: librdkafka / aiokafka included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ts_ms(ts: str) -> int:
    """Epoch ms of an RFC 3339 timestamp such as 2026-01-01T00:00:01.250Z."""
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def minute_ms(ts: str) -> int:
    """Start (epoch ms) of the event-time minute of an RFC 3339 timestamp such as 2026-01-01T00:00:01.250Z."""
    return int(datetime.fromisoformat(ts).timestamp()) // 60 * 60_000


class Job:
    """Drop known crawlers, count good/total per (journey "all", minute). Identical in every baseline."""

    journey = "all"

    def __init__(self) -> None:
        import crawleruseragents

        self._is_crawler = crawleruseragents.is_crawler
        self.verdicts: dict[str, bool] = {}
        self.counts: dict[int, list[int]] = {}  # minute start (ms) -> [good, total]
        self.seen = 0
        self.bots = 0

    def keep(self, rec: dict) -> bool:
        """False for a known bot (crawler-user-agents list; verdict cached per UA string)."""
        self.seen += 1
        ua = rec.get("user_agent") or ""
        verdict = self.verdicts.get(ua)
        if verdict is None:
            verdict = self.verdicts[ua] = bool(ua) and self._is_crawler(ua)
        if verdict:
            self.bots += 1
        return not verdict

    def count(self, rec: dict) -> None:
        minute = minute_ms(rec["ts"])
        c = self.counts.get(minute)
        if c is None:
            c = self.counts[minute] = [0, 0]
        c[1] += 1
        if rec["status"] < 500:
            c[0] += 1

    def add(self, rec: dict) -> None:
        if self.keep(rec):
            self.count(rec)

    def summary(self) -> dict:
        return summarize(self.counts, self.seen, self.bots, len(self.verdicts))


def summarize(counts: dict[int, list[int]], seen: int, bots: int, distinct_uas: int) -> dict:
    rows = sorted((Job.journey, m, g, t) for m, (g, t) in counts.items())
    return {"records": seen, "bots_dropped": bots, "distinct_user_agents": distinct_uas,
            "windows": len(rows), "good": sum(r[2] for r in rows), "total": sum(r[3] for r in rows),
            "digest": hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]}


def write_json_atomically(path: str, doc: dict) -> None:
    tmp = f"{path}.tmp"
    Path(tmp).write_text(json.dumps(doc))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--events", type=int, required=True, help="stop counting (and report) at this many records")
    ap.add_argument("--result", required=True, help="JSON written when --events records were processed")
    ap.add_argument("--app-id", required=True, help="faust app id = consumer group (must be fresh)")
    ap.add_argument("--datadir", required=True)
    ap.add_argument("--partitions", type=int, default=6)
    args = ap.parse_args(argv)

    import faust
    import orjson

    app = faust.App(
        args.app_id,
        broker=[f"kafka://{hp.strip()}" for hp in args.bootstrap.split(",")],
        store="memory://",
        datadir=args.datadir,
        web_enabled=False,
        topic_partitions=args.partitions,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    job = Job()
    n_target = args.events
    progress = f"{args.result}.progress"

    @app.agent(topic)
    async def count_sli(stream):  # noqa: ANN001 - faust's stream type
        loads = orjson.loads
        add = job.add
        n = 0
        t_first = cpu_first = 0.0
        async for value in stream:
            if n == 0:
                t_first, cpu_first = time.monotonic(), cpu_seconds()
            add(loads(value))
            n += 1
            if n & 0xFFFF == 0:
                Path(progress).write_text(str(n))
            if n == n_target:
                t_last, cpu_last = time.monotonic(), cpu_seconds()
                write_json_atomically(args.result, {
                    "t_first": t_first, "t_last": t_last, "cpu_first": cpu_first, "cpu_last": cpu_last,
                    "processed": n, "summary": job.summary(), "faust": faust.__version__})

    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False, override_logging=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
