"""Test and benchmark loaders: put generated request logs on a topic the way producers should."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from streams.kafka.clients import KafkaUnavailable, send


def produce_request_logs(conf: dict, topic: str, lines: list[bytes], flush_timeout_s: float = 120.0,
                         timestamps: list[int] | None = None) -> None:
    """Write request-log lines to ``topic`` keyed by client IP, as the request_log contract requires
    (per-IP state is partition-local). Lines that are not JSON objects with a client_ip share one key, so
    they still reach a worker and its dead-letter output. ``timestamps`` (epoch ms, one per line) become
    the message timestamps — event time, which replays select by. Raises KafkaUnavailable if not all
    are sent.

    Idempotent, so a retried request cannot land behind a later one: without it, on a broker that has just
    started, 2 of 10 productions of the same 15,000 lines put 106 and 183 of 1,656 clients' requests out
    of order in their partitions (a throwaway check, fresh broker each time; 0 of 10 with it) — the
    per-IP verdicts then differ from `truesli process` on the lines, as tests/integration/test_replay.py
    occasionally saw (docs/operations.md)."""
    producer = Producer({"linger.ms": 20, "queue.buffering.max.kbytes": 262_144, "enable.idempotence": True,
                         **conf})
    loads = orjson.loads
    for i, line in enumerate(lines):
        try:
            key = loads(line)["client_ip"].encode()
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            key = b"undecodable"
        extra = {"timestamp": timestamps[i]} if timestamps is not None else {}
        send(producer, topic, key, line, **extra)
    left = producer.flush(flush_timeout_s)
    if left:
        raise KafkaUnavailable(f"{left} records still unsent to {topic} after {flush_timeout_s:.0f} s")
