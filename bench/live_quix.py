#!/usr/bin/env python3
"""Baseline leg of bench/live.py: a Quix Streams application doing the SLI job.

Runs in its own virtualenv (quixstreams 3.x pins confluent-kafka < 2.13 and pydantic < 2.14, which would
downgrade truesli's own); bench/live.py creates it under .cache/ on first use.

The job is :class:`bench_live_faust.Job` (drop known crawlers, count good/total per journey ``all`` per
event-time minute), wired two ways:

* ``--mode dict``: ``sdf.filter(job.keep).update(job.count)`` — JSON values decoded by Quix's ``json``
  deserializer (orjson), counts in a plain dict. The least work Quix can do for this job.
* ``--mode window``: the idiomatic Quix way — filter, ``group_by`` the journey (a repartition topic,
  because Quix windows are per message key and the input is keyed by client IP), then a 1-minute
  ``tumbling_window(...).reduce(...)`` in RocksDB state with a changelog topic, timestamps taken from the
  ``ts`` field. The grace period covers the whole data set: six input partitions are consumed at
  different speeds, so after repartitioning the stream is far out of event-time order, and a shorter
  grace would drop records as late and change the counts.

Completion: every input record processed (``on_message_processed``) and, in window mode, every kept
record reduced. Then the result JSON is written (same fields as the faust leg) and the app stops.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_faust import Job, cpu_seconds, summarize, ts_ms, write_json_atomically  # noqa: E402

GRACE_MS = 30 * 24 * 3600 * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--result", required=True)
    ap.add_argument("--group", required=True, help="consumer group (must be fresh)")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--mode", choices=("dict", "window"), default="dict")
    args = ap.parse_args(argv)

    import confluent_kafka
    import quixstreams
    from quixstreams import Application

    job = Job()
    n_target = args.events
    st = {"n": 0, "t_first": 0.0, "cpu_first": 0.0, "reduced": 0, "done": False}
    windows: dict[int, list[int]] = {}
    progress = f"{args.result}.progress"
    app: Application

    def finish() -> None:
        st["done"] = True
        t_last, cpu_last = time.monotonic(), cpu_seconds()
        summary = job.summary() if args.mode == "dict" else summarize(
            windows, job.seen, job.bots, len(job.verdicts))
        write_json_atomically(args.result, {
            "t_first": st["t_first"], "t_last": t_last, "cpu_first": st["cpu_first"], "cpu_last": cpu_last,
            "processed": st["n"], "summary": summary, "mode": args.mode, "quixstreams": quixstreams.__version__,
            "confluent_kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0]})
        app.stop()

    def on_processed(topic: str, partition: int, offset: int) -> None:
        if st["done"]:
            return
        if topic == args.topic:
            n = st["n"] = st["n"] + 1
            if n == 1:
                st["t_first"], st["cpu_first"] = time.monotonic(), cpu_seconds()
            if n & 0xFFFF == 0:
                Path(progress).write_text(str(n))
        if st["n"] == n_target and (args.mode == "dict" or st["reduced"] == job.seen - job.bots):
            finish()

    app = Application(broker_address=args.bootstrap, consumer_group=args.group, auto_offset_reset="earliest",
                      state_dir=args.state_dir, loglevel="WARNING", on_message_processed=on_processed)
    if args.mode == "dict":
        topic = app.topic(args.topic, value_deserializer="json")
        sdf = app.dataframe(topic)
        sdf = sdf.filter(job.keep).update(job.count)
    else:
        topic = app.topic(args.topic, value_deserializer="json",
                          timestamp_extractor=lambda value, headers, ts, ts_type: ts_ms(value["ts"]))

        def reducer(agg: list[int], value: dict) -> list[int]:
            return [agg[0] + (value["status"] < 500), agg[1] + 1]

        def initializer(value: dict) -> list[int]:
            return [int(value["status"] < 500), 1]

        def record(w: dict) -> None:
            windows[w["start"]] = w["value"]
            st["reduced"] += 1

        sdf = app.dataframe(topic)
        sdf = sdf.filter(job.keep)
        sdf = sdf.group_by(lambda value: Job.journey, name="journey")
        sdf = sdf.tumbling_window(60_000, grace_ms=GRACE_MS).reduce(reducer, initializer).current()
        sdf = sdf.update(record)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
