"""Stage B's detection in the live worker: merged counters and change events in, anomalies out.

- ``LiveDetection`` wraps one :class:`~streams.core.detect.Detector` for the journey/SLOs whose partials
  partitions this worker owns (partials are partitioned by journey/SLO). It is driven from faust's event
  loop only (the agent and a timer), so it needs no lock. Windows are evaluated once every input
  partition had ``detection.evaluation_delay_s`` of event time to deliver them, or at once when the stream
  has been idle for ``windows.idle_timeout_s`` (so the tail of a burst is not held back forever).
- ``ChangeFeed`` reads the whole ``ops.changes`` topic (every worker needs every change: a deploy of any
  service may explain a burn) on its own confluent-kafka consumer thread, without a consumer group, from
  the beginning (``streams.sources.kafka.PartitionReader`` in follow mode); records that are not change
  events come back as dead letters.

Delivery: anomalies are sent to ``sli.anomalies`` keyed by their stable id. After a restart the detector
is rebuilt from the partials table, and re-evaluating it re-sends anomalies with the same ids; consumers
deduplicate on the id (at-least-once with idempotent ids, see docs/design.md).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque

from confluent_kafka import Consumer, KafkaException

from streams.kafka.health import LIBRDKAFKA_LOGGER
from streams.config import Config
from streams.core.detect import Anomaly, ChangeEvent, Detector, parse_change
from streams.kafka.clients import client_conf
from streams.core.model import DeadLetter, WindowCounter
from streams.sources.kafka import PartitionReader

log = logging.getLogger("truesli.detection")


class LiveDetection:
    """One worker's detectors. Call ``observe`` per merged counter and ``tick`` periodically."""

    def __init__(self, config: Config, caught_up: bool = True) -> None:
        self.config = config
        self.detector = Detector(config)
        # Every change event up to the feed's end has been observed: judge no window before that.
        self.caught_up = caught_up
        self.delay_ms = config.detection.evaluation_delay_s * 1000
        self.idle_s = config.windows.idle_timeout_s
        self.last_input = time.monotonic()
        self.fired: Counter[tuple[str, str]] = Counter()  # (type, state) → anomalies sent
        self.changes = 0

    def rebuild(self, counters: list[WindowCounter]) -> None:
        """A fresh detector over ``counters`` (the SLOs this worker now owns); change events are kept.
        Re-evaluating re-sends earlier anomalies with the same ids (consumers deduplicate on the id)."""
        changes = self.detector.changes
        self.detector = Detector(self.config)
        self.detector.changes = changes
        for c in counters:
            self.detector.observe(c)

    def observe(self, counter: WindowCounter) -> list[Anomaly]:
        self.detector.observe(counter)
        self.last_input = time.monotonic()
        if not self.caught_up:
            return []
        return self._count(self.detector.advance_ready(self.delay_ms))

    def observe_change(self, change: ChangeEvent) -> None:
        self.detector.observe_change(change)
        self.changes += 1

    def tick(self) -> list[Anomaly]:
        """Idle stream: evaluate through the newest window of every SLO."""
        if not self.caught_up or time.monotonic() - self.last_input < self.idle_s:
            return []
        return self._count(self.detector.advance_ready(0))

    def _count(self, found: list[Anomaly]) -> list[Anomaly]:
        for a in found:
            self.fired[(a.type, a.state)] += 1
        return found

    def gauges(self) -> dict:
        return self.detector.gauges()


class ChangeFeed:
    """Reads every partition of the change-event topic from the beginning, on its own thread.

    ``ready`` is set once every partition has been read up to the end it had when the feed connected, so
    the detectors never judge a window before the changes that could explain it are known. An unreachable
    broker or a missing topic is retried every ``RETRY_S``, never the end of the feed.
    """

    RETRY_S = 2.0

    def __init__(self, config: Config) -> None:
        self.config = config
        self.topic = config.kafka.topics.changes
        self.ready = threading.Event()
        self._items: deque[ChangeEvent | DeadLetter] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="truesli-changes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def drain(self) -> list[ChangeEvent | DeadLetter]:
        out = []
        while self._items:
            out.append(self._items.popleft())
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
                return
            except KafkaException as exc:
                log.warning("change feed: %s; retrying in %.0f s", exc.args[0].str() if exc.args else exc,
                            self.RETRY_S)
                self._stop.wait(self.RETRY_S)

    def _consume(self) -> None:
        k = self.config.kafka
        # librdkafka's lines go to the rate-limited logger, like Stage A's: an outage is one line, not a flood.
        consumer = Consumer(client_conf(k, **{"group.id": f"{k.group_id}-changes-{uuid.uuid4().hex[:8]}",
                                              "enable.auto.commit": False,
                                              "logger": logging.getLogger(LIBRDKAFKA_LOGGER),
                                              "error_cb": lambda _err: None}))
        try:
            parts: list[int] = []
            while not self._stop.is_set():
                md = consumer.list_topics(self.topic, timeout=k.connect_timeout_s)
                t = md.topics.get(self.topic)
                parts = sorted(t.partitions) if t is not None and t.error is None else []
                if parts:
                    break
                self._stop.wait(self.RETRY_S)  # created by ensure_topics; may not be visible yet
            reader = PartitionReader.follow(consumer, self.topic, parts, timeout=k.connect_timeout_s)
            if reader.at_ends:
                self.ready.set()
            for msgs in reader.batches(k.batch_max_messages, timeout=0.5, stop=self._stop):
                for msg in msgs:
                    raw = msg.value() or b""
                    ev = parse_change(raw)
                    if isinstance(ev, str):
                        self._items.append(DeadLetter("bad_change_event", ev,
                                                      raw[:4096].decode("utf-8", "backslashreplace"),
                                                      self.topic, msg.partition(), msg.offset(), None))
                    else:
                        self._items.append(ev)
                # Set only once the records up to the ends are queued: the worker drains after reading it.
                if reader.at_ends:
                    self.ready.set()
        finally:
            consumer.close()
