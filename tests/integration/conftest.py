"""Fixtures for tests that talk to a real Kafka broker.

``kafka_broker`` (session): the broker every test shares. With ``KAFKA_BOOTSTRAP`` set, that
existing broker is used and nothing is started; otherwise a local KRaft broker is started from
``tests/support/kafka_broker.py`` (fetching its jars on first use) and stopped after the session.

``new_topic`` (function): a factory ``new_topic(partitions=1, config=None) -> str`` creating a
uniquely named topic on that broker, ready for produce/consume when it returns; the topics are
deleted (best effort) after the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support import kafka_broker as kb

# Session fixtures of the real remote-write receivers (Prometheus, VictoriaMetrics), shared by test modules.
from tests.support.receivers import prometheus, victoria_metrics  # noqa: E402,F401

TOPIC_READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ExternalBroker:
    """A broker this test session did not start (from ``KAFKA_BOOTSTRAP``)."""

    bootstrap: str


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[kb.Broker | ExternalBroker]:
    """The session's broker; has ``.bootstrap`` ("host:port")."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield ExternalBroker(bootstrap=external)
        return
    with kb.Broker() as broker:
        yield broker


NewTopicFactory = Callable[..., str]


@pytest.fixture
def new_topic(
    kafka_broker: kb.Broker | ExternalBroker, request: pytest.FixtureRequest
) -> Iterator[NewTopicFactory]:
    """Factory creating uniquely named topics (replication factor 1) for one test."""
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    created: list[str] = []
    prefix = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80]

    def make(partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"test-{prefix}-{uuid.uuid4().hex[:10]}"
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
        admin.create_topics([topic])[name].result(timeout=TOPIC_READY_TIMEOUT_S)
        created.append(name)
        _wait_for_leaders(admin, name, partitions)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=10).values():
            # Cleanup only: a dead broker must not mask the test's own outcome.
            with contextlib.suppress(Exception):
                future.result(timeout=15)


def _wait_for_leaders(admin: AdminClient, topic: str, partitions: int) -> None:
    """Creation returns before metadata propagates; wait until every partition has a leader."""
    deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
    while True:
        meta = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topic {topic} has no leader for every partition yet: {meta}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory):
    """A second broker with SASL_PLAINTEXT, SSL and SASL_SSL listeners (tests/support/secure_broker.py)."""
    from tests.support.secure_broker import start_secure_broker

    secure = start_secure_broker(tmp_path_factory.mktemp("kafka-tls"))
    try:
        yield secure
    finally:
        secure.broker.stop()
