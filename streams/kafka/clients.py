"""Kafka plumbing shared by the worker, replay and tests: client settings, preflight, topic creation.

Every confluent-kafka client truesli creates gets its settings from :func:`client_conf`:
``kafka.bootstrap_servers``, the extra ``kafka.client`` settings and the security settings of
``kafka.security`` (streams/kafka/security.py; the faust app gets the same from ``faust_credentials``), so
credentials are configured once. The returned dict holds secrets: never log it.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streams.config import KafkaConfig
from streams.kafka.security import describe_failure, librdkafka_settings


class KafkaUnavailable(Exception):
    """The broker cannot be used (unreachable, wrong credentials, missing topic); message names the fix."""


CONSUMER_DEFAULTS: dict[str, object] = {"fetch.queue.backoff.ms": 10}
"""librdkafka settings every truesli consumer starts from (``kafka.client`` may override them).

``fetch.queue.backoff.ms``: when a consumer's local queue is full (``queued.min.messages`` /
``queued.max.messages.kbytes``) librdkafka's fetcher waits this long before it fetches again; the
default, 1000 ms in librdkafka 2.16, stalls a consumer that drains its queue faster than one fetch
refills it — every replay and the live worker, which take 50,000 records per call. 500,000 records
through `consume(50000)`: 1.45–2.45 s at the default, 0.53–0.71 s at 10 ms (docs/benchmarks.md,
seventh round)."""


def client_conf(cfg: KafkaConfig, **overrides: object) -> dict:
    """Settings of a confluent-kafka client. Raises ConfigError when a secret or TLS file cannot be read."""
    return _conf(cfg, {}, overrides)


def consumer_conf(cfg: KafkaConfig, **overrides: object) -> dict:
    """Settings of a confluent-kafka consumer: :func:`client_conf` with :data:`CONSUMER_DEFAULTS` under
    ``kafka.client``."""
    return _conf(cfg, CONSUMER_DEFAULTS, overrides)


def _conf(cfg: KafkaConfig, defaults: dict[str, object], overrides: dict[str, object]) -> dict:
    conf: dict = {"bootstrap.servers": cfg.bootstrap_servers, "client.id": f"truesli-{cfg.group_id}", **defaults}
    conf.update(cfg.client)
    conf.update(librdkafka_settings(cfg.security))
    conf.update(overrides)
    return conf


# Short metadata requests, so an authentication or TLS failure reported in between ends the wait at once.
_PREFLIGHT_STEP_S = 0.5


def preflight(cfg: KafkaConfig) -> AdminClient:
    """Connect and list topics within ``connect_timeout_s`` or raise KafkaUnavailable.

    A wrong password or an untrusted certificate is reported as soon as librdkafka sees it (not after the
    timeout), as one line naming the ``kafka.security`` key to fix."""
    errors: list[KafkaError] = []
    admin = AdminClient(client_conf(cfg, error_cb=errors.append, logger=QuietLogger()))
    deadline = time.monotonic() + cfg.connect_timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            admin.list_topics(timeout=max(0.05, min(_PREFLIGHT_STEP_S, remaining)))
            return admin
        except KafkaException as exc:
            admin.poll(0)  # serves error_cb: librdkafka's reasons (wrong password, TLS) arrive there
            last = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            for err in [*errors, *([last] if last is not None else [])]:
                message = describe_failure(cfg.security, cfg.bootstrap_servers, err.code(), err.str())
                if message is not None:
                    raise KafkaUnavailable(message) from None
            if remaining > _PREFLIGHT_STEP_S:
                continue
            # "1/1 brokers are down" says less than the connection error before it.
            useful = [e for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN] or errors
            detail = useful[-1].str() if useful else (last.str() if last is not None else str(exc))
            raise KafkaUnavailable(
                f"cannot reach Kafka at {cfg.bootstrap_servers}: {detail} (waited {cfg.connect_timeout_s:g} s; "
                f"check kafka.bootstrap_servers and that the broker is running, and that kafka.security.protocol "
                f"({cfg.security.protocol}) matches its listener)") from None


class QuietLogger:
    """librdkafka logs every connection retry; during preflight we report one clear error instead."""

    def log(self, *_args: object, **_kwargs: object) -> None:
        pass

    def isEnabledFor(self, *_args: object) -> bool:  # noqa: N802 - the logging API librdkafka calls
        return False

    debug = info = warning = error = critical = exception = log


def topic_partitions(admin: AdminClient, cfg: KafkaConfig, topic: str) -> list[int]:
    """The partition ids of an existing topic, or KafkaUnavailable naming the topic and the broker."""
    t = admin.list_topics(topic=topic, timeout=cfg.connect_timeout_s).topics.get(topic)
    if t is None or t.error is not None or not t.partitions:
        raise KafkaUnavailable(f"topic {topic} does not exist on {cfg.bootstrap_servers} (check --topic)")
    return sorted(t.partitions)


def ensure_topics(admin: AdminClient, cfg: KafkaConfig) -> dict[str, int]:
    """Create truesli's topics when absent (compacted where keys replace values). Returns partitions."""
    t = cfg.topics
    compacted = {"cleanup.policy": "compact"}
    wanted = {
        t.requests: ({}, cfg.partitions),
        t.counters: (compacted, cfg.partitions),
        t.partials: (compacted, cfg.partitions),
        t.anomalies: ({}, cfg.partitions),
        t.deadletter: ({}, cfg.partitions),
        # Change events are few and a freeze months ago still matters to the budget policy: keep them.
        t.changes: ({"retention.ms": "-1"}, 1),
        # Reports are judged over the SLO period (a spike against the journey's median): keep them too.
        t.user_reports: ({"retention.ms": "-1"}, 1),
    }
    existing = admin.list_topics(timeout=cfg.connect_timeout_s).topics
    input_partitions = len(existing[t.requests].partitions) if t.requests in existing else cfg.partitions
    # The state changelog mirrors the input: state of input partition p lives in state partition p.
    wanted[t.state] = ({"cleanup.policy": "compact", "max.message.bytes": str(16 << 20)}, input_partitions)
    missing = [NewTopic(name, num_partitions=n, replication_factor=cfg.replication_factor, config=conf)
               for name, (conf, n) in wanted.items() if name not in existing]
    if missing and not cfg.create_topics:
        raise KafkaUnavailable(f"topics missing: {', '.join(m.topic for m in missing)} "
                               "(create them or set kafka.create_topics: true)")
    if missing:
        for name, fut in admin.create_topics(missing, operation_timeout=30).items():
            try:
                fut.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise KafkaUnavailable(f"cannot create topic {name}: {exc.args[0].str()}") from None
    parts = {}
    md = admin.list_topics(timeout=cfg.connect_timeout_s).topics
    for name in wanted:
        parts[name] = len(md[name].partitions) if name in md else wanted[name][1]
    if parts[t.state] < parts[t.requests]:
        raise KafkaUnavailable(f"topic {t.state} has {parts[t.state]} partitions but {t.requests} has "
                               f"{parts[t.requests]}: the state changelog needs at least as many")
    return parts


def send(producer: Producer, topic: str, key: bytes | None, value: bytes | None, **kwargs: object) -> None:
    """``producer.produce`` that waits (polling delivery reports) while the local queue is full."""
    while True:
        try:
            producer.produce(topic, key=key, value=value, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)
