#!/usr/bin/env python3
"""Replay throughput: from Parquet archives and from a Kafka topic, against a consume-only loop.

One fresh broker (or --bootstrap), one generated mix (90% non-users) produced once to a 6-partition topic
with event-time message timestamps, archived once with `truesli archive`, then measured in one run:
  consume-only   confluent-kafka Consumer.consume(10000) over the whole topic (the ceiling), with the
                 settings truesli's consumers start from (kafka/clients.CONSUMER_DEFAULTS)
  replay topic   streams.runs.replay.replay_topic over the whole topic (no time range), one process
  replay topic ×N  the same with one process per usable CPU (--workers; runs/replay_workers.py)
  archive        streams.runs.archive.archive_topic (topic → Parquet)
  replay parquet streams.runs.replay.replay_archive over the archive, one process
  replay parquet ×N  the same with one process per usable CPU
Usage: scripts/bench replay [--events N] [--bootstrap HOST:PORT] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from streams.cli import COLLECTOR_THRESHOLDS  # noqa: E402
from streams.kafka.clients import CONSUMER_DEFAULTS  # noqa: E402
from streams.runs.archive import archive_topic  # noqa: E402
from streams.config import config_from_dict  # noqa: E402
from streams.core.timeparse import parse_rfc3339  # noqa: E402
from streams.tools.gen import generate  # noqa: E402
from streams.tools.loaders import produce_request_logs  # noqa: E402
from streams.runs.replay import replay_archive, replay_topic  # noqa: E402
from streams.runs.replay_workers import usable_cpus  # noqa: E402
from streams.sources.parquet import archive_files  # noqa: E402


def consume_only(bootstrap: str, topic: str, n: int) -> float:
    # With the consumer defaults truesli's own consumers have: at librdkafka's fetch.queue.backoff.ms the
    # loop stalls a second whenever its queue fills (docs/benchmarks.md, seventh round), a ceiling below its own.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ceiling-{uuid.uuid4().hex[:8]}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, **CONSUMER_DEFAULTS})
    c.subscribe([topic])
    seen, t0 = 0, None
    while seen < n:
        msgs = c.consume(10_000, 1.0)
        if msgs and t0 is None:
            t0 = time.perf_counter()
        seen += sum(1 for m in msgs if m.error() is None)
    took = time.perf_counter() - t0
    c.close()
    return took


def main() -> int:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # as every truesli command runs (streams/cli)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--bootstrap")
    ap.add_argument("--json")
    args = ap.parse_args()
    broker = None
    if not args.bootstrap:
        from tests.support import kafka_broker as kb

        broker = kb.Broker().start()
    bootstrap = args.bootstrap or broker.bootstrap
    try:
        buf = io.BytesIO()
        generate(buf, events=args.events, seed=1, bot_share=0.9)
        lines = buf.getvalue().splitlines()
        stamps = [parse_rfc3339(orjson.loads(x)["ts"]) for x in lines]
        topic = f"bench-replay-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        # Event-time timestamps are months old: keep the broker's time-based retention off this topic.
        admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1,
                                      config={"retention.ms": "-1"})])[topic].result(30)
        produce_request_logs({"bootstrap.servers": bootstrap}, topic, lines, timestamps=stamps)
        config = config_from_dict({"kafka": {"bootstrap_servers": bootstrap}})
        n = len(lines)
        results = {"events": n}
        results["consume_only_s"] = consume_only(bootstrap, topic, n)
        workers = usable_cpus()
        results["workers"] = workers
        t0 = time.perf_counter()
        r = replay_topic(config, topic, workers=1)
        results["replay_topic_s"] = time.perf_counter() - t0
        assert r.tally.consumed == n, r.tally.consumed
        t0 = time.perf_counter()
        rw = replay_topic(config, topic, workers=workers)
        results["replay_topic_workers_s"] = time.perf_counter() - t0
        assert rw.tally.consumed == n, rw.tally.consumed
        want = [c.sli_fields() for c in r.book.merged()]
        assert [c.sli_fields() for c in rw.book.merged()] == want
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            a = archive_topic(config, topic, out)
            results["archive_s"] = time.perf_counter() - t0
            assert a.records == n
            files = archive_files([out])
            for key, w in (("replay_parquet", 1), ("replay_parquet_workers", workers)):
                t0 = time.perf_counter()
                p = replay_archive(config, files, workers=w)
                results[f"{key}_s"] = time.perf_counter() - t0
                assert p.tally.consumed == n
                assert [c.sli_fields() for c in p.book.merged()] == want
        legs = ("consume_only", "replay_topic", "replay_topic_workers", "archive", "replay_parquet",
                "replay_parquet_workers")
        for k in legs:
            results[f"{k}_events_per_s"] = round(n / results[f"{k}_s"])
        for k in ("replay_topic", "replay_topic_workers"):
            results[f"{k}_vs_consume_only"] = round(results["consume_only_s"] / results[f"{k}_s"], 3)
        print("| leg | events/s | seconds |\n|---|---:|---:|")
        for k in legs:
            name = k.replace("_workers", f" ×{workers}")
            print(f"| {name} | {results[f'{k}_events_per_s']:,} | {results[f'{k}_s']:.2f} |")
        print(f"replay topic / consume-only: {results['replay_topic_vs_consume_only']}× (one process), "
              f"{results['replay_topic_workers_vs_consume_only']}× ({workers} processes); every replay leg gave "
              "identical counters")
        if args.json:
            Path(args.json).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
