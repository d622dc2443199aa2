"""The broker probe against a real broker: what it asks the cluster for once a second on every worker."""

from __future__ import annotations

import logging
import threading

from confluent_kafka.admin import AdminClient

from streams.kafka.health import BrokerProbe, Reachability


ANSWERS = 3  # probes to see answered before stopping
ASKED = "Request metadata for 1 topic(s): application requested"
ANSWERED = "===== Received metadata (for 1 requested topics): application requested ====="


class _Lines(logging.Handler):
    """Keeps librdkafka's log lines; ``answered`` is set once ANSWERS probe answers have been logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.answered = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if sum(1 for line in self.lines if line.endswith("application requested =====")) >= ANSWERS:
            self.answered.set()


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
        # Wait for the event (the third answer in the log), not for a time: a loaded machine is just slower.
        arrived = sink.answered.wait(120)
    finally:
        probe.stop()
        librdkafka.removeHandler(sink)
    assert arrived, f"no {ANSWERS} probe answers in librdkafka's log:\n" + "\n".join(sink.lines[-50:])
    # librdkafka's metadata debug lines say what each request asked for ("for all topics" without a topic).
    asked = [line.split(": ", 2)[-1] for line in sink.lines
             if "Request metadata for" in line and line.endswith("application requested")]
    answers = [line.split(": ", 2)[-1] for line in sink.lines if line.endswith("application requested =====")]
    assert len(answers) >= ANSWERS and len(asked) >= len(answers), sink.lines
    assert set(asked) == {ASKED}
    assert set(answers) == {ANSWERED}
    assert (reachability.up, reachability.outages) == (True, 0)
