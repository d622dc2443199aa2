"""Stage B's detection in the live worker: merged counters, change events and user reports in, anomalies out.

- ``LiveDetection`` wraps one :class:`~streams.core.detect.Detector` for the journey/SLOs whose partials
  partitions this worker owns (partials are partitioned by journey/SLO). It is driven from faust's event
  loop only (the agent and a timer), so it needs no lock. Windows are evaluated once every input
  partition had ``detection.evaluation_delay_s`` of event time to deliver them, or at once when the stream
  has been idle for ``windows.idle_timeout_s`` (so the tail of a burst is not held back forever).
- ``ChangeFeed`` reads the whole ``ops.changes`` topic (every worker needs every change: a deploy of any
  service may explain a burn) on its own confluent-kafka consumer thread, without a consumer group, from
  the beginning (``streams.sources.kafka.PartitionReader`` in follow mode); records that are not change
  events come back as dead letters.
- ``UserReportFeed`` reads ``ops.user_reports`` the same way (a spike is judged against every report of
  its journey), through the one user-report parser (``parse_user_report`` with the config's journey
  rules); records that are not user reports come back as ``bad_user_report`` dead letters, the reason a
  finite run's ``--user-reports`` gives them. The reports feed ``LiveReview`` (streams/live/review.py):
  ``postmortem_required``, ``sli_misses_user_pain``, ``sli_pain_unseen_by_users``.

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
from collections.abc import Callable
from typing import Generic, TypeVar

from confluent_kafka import Consumer, KafkaException

from streams.kafka.health import LIBRDKAFKA_LOGGER
from streams.config import Config
from streams.core.detect import Anomaly, ChangeEvent, Detector, parse_change
from streams.core.detect.user_reports import ReportMapper, UserReport, parse_user_report
from streams.kafka.clients import consumer_conf
from streams.core.model import DeadLetter, WindowCounter
from streams.live.review import LiveReview
from streams.sources.kafka import PartitionReader
from streams.sources.user_reports import USER_REPORT_DEAD_LETTER

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
        self.reports = 0  # user-report records observed
        self.review = LiveReview(config)

    def rebuild(self, counters: list[WindowCounter]) -> None:
        """A fresh detector over ``counters`` (the SLOs this worker now owns); change events are kept.
        Re-evaluating re-sends earlier anomalies with the same ids (consumers deduplicate on the id)."""
        changes = self.detector.changes
        self.detector = Detector(self.config)
        self.detector.changes = changes
        self.review.reset()
        for c in counters:
            self.detector.observe(c)
            self.review.observe(c)

    def observe(self, counter: WindowCounter) -> list[Anomaly]:
        self.detector.observe(counter)
        self.review.observe(counter)
        self.last_input = time.monotonic()
        if not self.caught_up:
            return []
        return self._count(self.detector.advance_ready(self.delay_ms))

    def observe_change(self, change: ChangeEvent) -> None:
        self.detector.observe_change(change)
        self.changes += 1

    def observe_report(self, report: UserReport) -> None:
        self.review.observe_report(report)
        self.reports += 1

    def tick(self) -> list[Anomaly]:
        """Idle stream: evaluate through the newest window of every SLO. Then, idle or not, the review of
        the retained history (what it sends when: streams/live/review.py)."""
        if not self.caught_up:
            return []
        idle = time.monotonic() - self.last_input >= self.idle_s
        found = self._count(self.detector.advance_ready(0)) if idle else []
        evaluated = {key: t.evaluated for key, t in self.detector.tracks.items()}
        return found + self._count(self.review.evaluate(evaluated, idle=idle), review=True)

    def _count(self, found: list[Anomaly], review: bool = False) -> list[Anomaly]:
        for a in found:
            self.fired[(a.type, a.state)] += 1
        if not review:
            self.review.observe_anomalies(found)
        return found

    def gauges(self) -> dict:
        return self.detector.gauges()


T = TypeVar("T")


class TopicFeed(Generic[T]):
    """Reads every partition of one input topic from the beginning, on its own thread; each record goes
    through ``parse`` (the item, or the reason it is not one — never raises), and what is not an item
    comes back as a dead letter with ``reason``. Subclasses name the topic, parser and reason.

    ``ready`` is set once every partition has been read up to the end it had when the feed connected, so
    the detectors never judge a window before the records that could explain it are known. An unreachable
    broker or a missing topic is retried every ``RETRY_S``, never the end of the feed.
    """

    RETRY_S = 2.0
    NAME = "feed"

    def __init__(self, config: Config, topic: str, parse: Callable[[bytes], T | str], reason: str) -> None:
        self.config = config
        self.topic = topic
        self.parse = parse
        self.reason = reason
        self.ready = threading.Event()
        self._items: deque[T | DeadLetter] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"truesli-{self.NAME}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def drain(self) -> list[T | DeadLetter]:
        out = []
        while self._items:
            out.append(self._items.popleft())
        return out

    def item(self, raw: bytes, partition: int, offset: int) -> T | DeadLetter:
        """One record of the topic: the parsed item, or its dead letter (reason, the parser's error, the
        first 4096 bytes, where it was)."""
        item = self.parse(raw)
        if isinstance(item, str):
            return DeadLetter(self.reason, item, raw[:4096].decode("utf-8", "backslashreplace"), self.topic,
                              partition, offset, None)
        return item

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
                return
            except KafkaException as exc:
                log.warning("%s feed: %s; retrying in %.0f s", self.NAME, exc.args[0].str() if exc.args else exc,
                            self.RETRY_S)
                self._stop.wait(self.RETRY_S)

    def _consume(self) -> None:
        k = self.config.kafka
        # librdkafka's lines go to the rate-limited logger, like Stage A's: an outage is one line, not a flood.
        consumer = Consumer(consumer_conf(k, **{"group.id": f"{k.group_id}-{self.NAME}-{uuid.uuid4().hex[:8]}",
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
                    self._items.append(self.item(msg.value() or b"", msg.partition(), msg.offset()))
                # Set only once the records up to the ends are queued: the worker drains after reading it.
                if reader.at_ends:
                    self.ready.set()
        finally:
            consumer.close()


class ChangeFeed(TopicFeed[ChangeEvent]):
    """``ops.changes``: change events (every worker needs every change: a deploy of any service may
    explain a burn)."""

    NAME = "changes"

    def __init__(self, config: Config) -> None:
        super().__init__(config, config.kafka.topics.changes, parse_change, "bad_change_event")


class UserReportFeed(TopicFeed[UserReport]):
    """``ops.user_reports``: user reports, mapped to journeys by the config's journey rules exactly as a
    finite run's ``--user-reports`` file is (one ``ReportMapper``, owned by the feed's thread)."""

    NAME = "user_reports"

    def __init__(self, config: Config) -> None:
        mapper = ReportMapper(config)
        super().__init__(config, config.kafka.topics.user_reports, lambda raw: parse_user_report(raw, mapper),
                         USER_REPORT_DEAD_LETTER)
