"""Counters → a Kafka topic, keyed like ``sli.counters`` (a compacted topic ends with the newest)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from confluent_kafka import Producer

from streams.config import KafkaConfig
from streams.kafka.clients import KafkaUnavailable, client_conf, preflight, send
from streams.core.model import WindowCounter
from streams.sinks.serialize import counter_to_dict


def publish_counters(kafka: KafkaConfig, counters: Iterable[WindowCounter], topic: str, now_ms: int) -> int:
    """Send every counter; returns how many. Raises KafkaUnavailable if the broker is unusable."""
    preflight(kafka)
    producer = Producer(client_conf(kafka, **{"linger.ms": 20, "enable.idempotence": True}))
    n = 0
    for c in counters:
        send(producer, topic, c.key.encode(), orjson.dumps(counter_to_dict(c, now_ms)))
        n += 1
    if producer.flush(60):
        raise KafkaUnavailable(f"could not deliver every counter to {topic} within 60 s")
    return n
