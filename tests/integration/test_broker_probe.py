"""The broker probe against a real broker: what it asks the cluster for once a second on every worker."""

from __future__ import annotations

import logging
import time

from confluent_kafka.admin import AdminClient

from streams.kafka.health import BrokerProbe, Reachability


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_probe_asks_for_one_topic_not_the_whole_cluster(kafka_broker, new_topic):
    topic = new_topic()
    for _ in range(3):
        new_topic()  # other topics in the cluster, which the probe must not ask about
    librdkafka = logging.getLogger("test.broker_probe.librdkafka")
    librdkafka.setLevel(logging.DEBUG)
    sink = _Lines()
    librdkafka.addHandler(sink)
    reachability = Reachability(failures_to_down=1)
    probe = BrokerProbe({"bootstrap.servers": kafka_broker.bootstrap, "debug": "metadata"}, reachability,
                        topic=topic, interval_s=0.2, logger=librdkafka).start()
    try:
        time.sleep(1.5)
    finally:
        probe.stop()
        librdkafka.removeHandler(sink)
    # librdkafka's metadata debug lines say what each request asked for ("for all topics" without a topic).
    asked = [line.split(": ", 2)[-1] for line in sink.lines
             if "Request metadata for" in line and line.endswith("application requested")]
    assert len(asked) >= 3, sink.lines  # ~7 probes in 1.5 s; a loaded machine may manage fewer
    assert set(asked) == {"Request metadata for 1 topic(s): application requested"}
    answers = [line.split(": ", 2)[-1] for line in sink.lines if line.endswith("application requested =====")]
    assert set(answers) == {"===== Received metadata (for 1 requested topics): application requested ====="}
    assert (reachability.up, reachability.outages) == (True, 0)
