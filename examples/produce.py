#!/usr/bin/env python3
"""Produce request logs (JSON lines) to truesli's input topic, keyed by client IP — the producer example.

    # from the host, against the compose stack's broker (its HOST listener, published on 127.0.0.1:9094):
    python examples/produce.py --bootstrap localhost:9094 access.jsonl
    # inside the compose network (the `producer` service does this), or with a generated mix:
    truesli gen --events 50000 --out mix.jsonl && python examples/produce.py --bootstrap kafka:9092 --restamp mix.jsonl

Contract: every line goes to ``--topic`` (default requests.raw) unchanged, keyed by its ``client_ip`` (the
request_log contract: truesli keeps per-IP state per partition, so one IP must stay on one partition);
lines that are not JSON objects with a client_ip are sent under the key ``undecodable`` so that a worker's
dead-letter output still counts them. ``--restamp`` shifts every ``ts`` by one offset so that the newest
record is stamped now — for replaying an old or generated log into a stack whose Prometheus scrapes (and
so refuses samples far behind its newest). Exit 1 with one line if the broker does not take every record.
Needs only ``confluent-kafka`` (a truesli dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone

from confluent_kafka import Producer


def _parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _format_ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def restamped(lines: list[bytes], now_s: float) -> list[bytes]:
    """The lines with every parseable ``ts`` moved by one offset: the newest becomes ``now_s``."""
    docs: list[dict | None] = []
    newest = None
    for line in lines:
        try:
            doc = json.loads(line)
            ts = _parse_ts(doc["ts"]) if isinstance(doc, dict) and isinstance(doc.get("ts"), str) else None
        except (ValueError, KeyError):
            doc, ts = None, None
        docs.append(doc if ts is not None else None)
        if ts is not None:
            newest = ts if newest is None else max(newest, ts)
    if newest is None:
        return lines
    shift = now_s - newest
    return [json.dumps({**doc, "ts": _format_ts(_parse_ts(doc["ts"]) + shift)}, separators=(",", ":")).encode()
            if doc is not None else line for doc, line in zip(docs, lines)]


def key_of(line: bytes) -> bytes:
    try:
        doc = json.loads(line)
        return str(doc["client_ip"]).encode() if isinstance(doc, dict) and "client_ip" in doc else b"undecodable"
    except ValueError:
        return b"undecodable"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="JSON-lines request logs ('-' = stdin)")
    ap.add_argument("--bootstrap", default="localhost:9094", help="broker address (default: localhost:9094)")
    ap.add_argument("--topic", default="requests.raw")
    ap.add_argument("--restamp", action="store_true", help="shift timestamps so that the newest record is now")
    args = ap.parse_args(argv)
    lines: list[bytes] = []
    for name in args.files:
        try:
            with (sys.stdin.buffer if name == "-" else open(name, "rb")) as f:
                lines.extend(line.rstrip(b"\r\n") for line in f if line.strip())
        except OSError as exc:
            print(f"produce.py: error: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.restamp:
        lines = restamped(lines, time.time())
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 20, "enable.idempotence": True})
    failed = []
    for line in lines:
        while True:
            try:
                producer.produce(args.topic, line, key=key_of(line),
                                 on_delivery=lambda err, _msg: failed.append(err) if err else None)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(120)
    if left or failed:
        print(f"produce.py: {left + len(failed)} of {len(lines)} records not delivered to {args.topic} at "
              f"{args.bootstrap}: {failed[0] if failed else 'timed out'}", file=sys.stderr)
        return 1
    print(f"produced {len(lines)} records to {args.topic} at {args.bootstrap}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
