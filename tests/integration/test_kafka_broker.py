"""The local Kafka broker machinery (tests/support/kafka_broker.py) against real clients.

These tests prove the broker the other integration tests rely on really stores and serves
messages, consumer groups and committed offsets, including across a broker restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator

from tests.support import kafka_broker as kb
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CONSUME_TIMEOUT_S = 60.0
# After the expected count has arrived, keep polling this long to catch duplicates or strays.
SETTLE_S = 2.0


def _produce(bootstrap: str, topic: str, records: Iterable[tuple[str, str]]) -> list[Message]:
    """Produce ``(key, value)`` records synchronously; return the successful delivery reports."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    delivered: list[Message] = []
    failed: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failed.append(err)
        else:
            delivered.append(msg)

    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} messages still undelivered after 30 s"
    assert failed == []
    return delivered


def _consume(consumer: Consumer, expected: int) -> list[Message]:
    """Poll until ``expected`` messages arrived, then ``SETTLE_S`` more to catch extra ones."""
    received: list[Message] = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    settle_until: float | None = None
    while True:
        now = time.monotonic()
        if settle_until is None and len(received) >= expected:
            settle_until = now + SETTLE_S
        if (settle_until is not None and now >= settle_until) or now >= deadline:
            return received
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            raise AssertionError(f"consumer error: {msg.error()}")
        received.append(msg)


def _group_consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def _text(raw: bytes | None) -> str:
    assert raw is not None
    return raw.decode()


def _decoded(messages: Iterable[Message]) -> dict[str, str]:
    """``{key: value}`` of the messages; callers also check the count, so a duplicate shows."""
    return {_text(m.key()): _text(m.value()) for m in messages}


def test_produce_and_consume_100_keyed_messages(
    kafka_broker: kb.Broker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(partitions=3)
    sent = {f"key-{i:03d}": f"value-{i:03d}" for i in range(100)}

    delivered = _produce(kafka_broker.bootstrap, topic, sent.items())
    assert len(delivered) == 100
    partition_of_key = {_text(m.key()): m.partition() for m in delivered}
    # 100 distinct keys hash onto every partition; a deterministic fact for these keys.
    assert set(partition_of_key.values()) == {0, 1, 2}

    consumer = _group_consumer(kafka_broker.bootstrap, f"g-{uuid.uuid4().hex[:10]}")
    try:
        consumer.subscribe([topic])
        received = _consume(consumer, expected=100)
        assert len(received) == 100
        assert _decoded(received) == sent
        assert {_text(m.value()) for m in received} == set(sent.values())
        assert all(m.partition() == partition_of_key[_text(m.key())] for m in received)

        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        assert sum(tp.offset for tp in committed) == 100
    finally:
        consumer.close()

    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    assert len(admin.list_topics(topic=topic, timeout=10).topics[topic].partitions) == 3


@pytest.fixture
def own_broker() -> Iterator[kb.Broker]:
    """A broker of its own, so restarting it cannot disturb tests on the session broker."""
    with kb.Broker() as broker:
        yield broker


def _create_topic(bootstrap: str, partitions: int) -> str:
    name = f"restart-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[
        name
    ].result(timeout=30)
    return name


def test_restart_keeps_ports_messages_and_committed_offsets(own_broker: kb.Broker) -> None:
    bootstrap = own_broker.bootstrap
    data_dir = own_broker.data_dir
    topic = _create_topic(bootstrap, partitions=2)
    group = f"g-{uuid.uuid4().hex[:10]}"
    before = {f"before-{i:02d}": f"b{i}" for i in range(30)}
    after = {f"after-{i:02d}": f"a{i}" for i in range(30)}

    assert len(_produce(bootstrap, topic, before.items())) == 30
    consumer = _group_consumer(bootstrap, group)
    try:
        consumer.subscribe([topic])
        assert _decoded(_consume(consumer, expected=30)) == before
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    old_pid = own_broker.pid
    own_broker.restart()
    assert own_broker.bootstrap == bootstrap
    assert own_broker.data_dir == data_dir
    assert own_broker.pid != old_pid
    assert own_broker.is_running()

    assert len(_produce(bootstrap, topic, after.items())) == 30

    # The group resumes from the offsets committed before the restart: only the new messages.
    consumer = _group_consumer(bootstrap, group)
    try:
        consumer.subscribe([topic])
        resumed = _consume(consumer, expected=30)
    finally:
        consumer.close()
    assert len(resumed) == 30
    assert _decoded(resumed) == after

    # Everything written before and after the restart is still there, exactly once.
    reader = _group_consumer(bootstrap, f"g-{uuid.uuid4().hex[:10]}")
    try:
        reader.assign([TopicPartition(topic, p, 0) for p in range(2)])
        everything = _consume(reader, expected=60)
    finally:
        reader.close()
    assert len(everything) == 60
    assert _decoded(everything) == before | after
