"""Broker outage bookkeeping: one log line per transition, outage counts and seconds, rate-limited retry
noise, and what /metrics shows. The live outage itself is tested against a real broker in
tests/integration/test_live.py::test_broker_down_for_a_minute_is_survived_and_reported."""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.health import LIBRDKAFKA_LOGGER, RateLimitFilter, Reachability, install_rate_limit
from streams.live import changelog, stage_a
from streams.config import Config
from streams.live.metrics import render
from streams.live.changelog import ChangelogUnavailable, read_until
from streams.live.stage_a import StageAStats


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_outage_is_counted_timed_and_logged_once_each_way(caplog):
    clock = Clock()
    r = Reachability(failures_to_down=2, clock=clock)
    caplog.set_level(logging.INFO, logger="truesli.broker")
    r.observe(True)
    r.observe(False, "1/1 brokers are down")           # one failed probe is not an outage yet
    assert (r.up, r.outages, r.outage_seconds()) == (True, 0, 0.0)
    r.observe(True)
    r.observe(False, "x")                               # the failure count restarted after the success
    assert r.up is True
    clock.t += 1
    r.observe(False, "1/1 brokers are down")
    assert (r.up, r.outages) == (False, 1)
    for _ in range(60):                                  # a minute of failed probes: no more lines
        clock.t += 1
        r.observe(False, "1/1 brokers are down")
    # The running outage counts, from the first failed probe of the streak (t=1000), not from when the
    # second one confirmed it (t=1001).
    assert r.outage_seconds() == 61.0
    clock.t += 2
    r.observe(True)
    r.observe(True)
    assert (r.up, r.outages, r.outage_seconds()) == (True, 1, 63.0)
    clock.t += 100
    assert r.outage_seconds() == 63.0
    assert [rec.getMessage() for rec in caplog.records] == [
        "Kafka broker lost (1/1 brokers are down); the worker keeps retrying and resumes by itself",
        "Kafka broker is back after 63 s of outage; consuming resumes from the last committed state",
    ]


def test_second_outage_adds_up():
    clock = Clock()
    r = Reachability(failures_to_down=1, clock=clock)
    r.observe(False)
    clock.t += 5
    r.observe(True)
    r.observe(False)
    clock.t += 7
    r.observe(True)
    assert (r.up, r.outages, r.outage_seconds()) == (True, 2, 12.0)


def _record(name: str, msg: str, *args, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_rate_limit_lets_each_kind_through_once_per_interval():
    clock = Clock()
    f = RateLimitFilter(interval_s=60, clock=clock)
    fail = [_record(LIBRDKAFKA_LOGGER, "%s [%s] %s", "FAIL", "consumer-1", f"Connect failed #{i}")
            for i in range(500)]
    passed = [r for r in fail if f.filter(r)]
    assert passed == fail[:1]
    # Another facility, another aiokafka template, and INFO lines are separate kinds or not limited at all.
    assert f.filter(_record(LIBRDKAFKA_LOGGER, "%s [%s] %s", "REQTMOUT", "producer-1", "timed out"))
    assert f.filter(_record("aiokafka.conn", "Unable connect to node with id %s: %s", 1, "refused"))
    assert not f.filter(_record("aiokafka.conn", "Unable connect to node with id %s: %s", 1, "refused"))
    assert all(f.filter(_record("truesli.stage_a", "partition %d restored", p, level=logging.INFO))
               for p in range(5))
    # The lost/back lines always pass.
    assert all(f.filter(_record("truesli.broker", "Kafka broker lost (%s)", "x")) for _ in range(3))
    clock.t += 61
    later = _record(LIBRDKAFKA_LOGGER, "%s [%s] %s", "FAIL", "consumer-1", "Connect failed again")
    assert f.filter(later)
    assert later.getMessage() == ("FAIL [consumer-1] Connect failed again "
                                  "[499 similar messages held back in the last 60 s]")


def _samples(stats: StageAStats) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(render(stats).decode()) for s in f.samples}


def test_metrics_show_the_outage():
    clock = Clock()
    stats = StageAStats(broker=Reachability(failures_to_down=1, clock=clock))
    m = _samples(stats)
    assert (m["truesli_broker_up"], m["truesli_broker_outages_total"], m["truesli_broker_outage_seconds_total"]) \
        == (1, 0, 0)
    stats.broker.observe(False, "down")
    clock.t += 30
    m = _samples(stats)
    assert (m["truesli_broker_up"], m["truesli_broker_outages_total"], m["truesli_broker_outage_seconds_total"]) \
        == (0, 1, 30)
    clock.t += 15
    stats.broker.observe(True)
    stats.consumer_rebuilds = 1
    m = _samples(stats)
    assert (m["truesli_broker_up"], m["truesli_broker_outages_total"], m["truesli_broker_outage_seconds_total"],
            m["truesli_consumer_rebuilds_total"]) == (1, 1, 45, 1)


class _Sink(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_rate_limit_decides_once_per_record_for_every_handler():
    # Console + file logging: one filter on both handlers. The second handler must get the same lines as
    # the first, not see the first handler's bookkeeping as "just seen" and drop every warning.
    clock = Clock()
    logger = logging.getLogger("test.broker_health.two_sinks")
    logger.propagate = False
    console, file = _Sink(), _Sink()
    logger.handlers[:] = [console, file]
    try:
        flt = install_rate_limit(60, logger, clock=clock)
        assert console.filters == [flt] and file.filters == [flt]
        for i in range(5):
            logger.warning("%s [%s] Connect failed #%d", "FAIL", "consumer-1", i)
        logger.warning("partition %d lost", 3)
        clock.t += 61
        logger.warning("%s [%s] Connect failed #%d", "FAIL", "consumer-1", 5)
        expected = ["FAIL [consumer-1] Connect failed #0", "partition 3 lost",
                    "FAIL [consumer-1] Connect failed #5 [4 similar messages held back in the last 60 s]"]
        assert console.lines == expected
        assert file.lines == expected
    finally:
        logger.handlers.clear()


# -- the state changelog read gives up when the broker goes silent -----------------------------------------

class _Msg:
    def __init__(self, offset: int | None, error: KafkaError | None = None) -> None:
        self._offset, self._error = offset, error

    def error(self) -> KafkaError | None:
        return self._error

    def key(self) -> bytes:
        return f"k{self._offset}".encode()

    def value(self) -> bytes:
        return f"v{self._offset}".encode()

    def offset(self) -> int | None:
        return self._offset


class _Reader:
    """A consumer that delivers ``batches`` (each after ``pace`` seconds of the clock), then nothing."""

    def __init__(self, clock: Clock, batches: list[list[_Msg]], pace: float = 0.0) -> None:
        self.clock, self.batches, self.pace, self.polls = clock, list(batches), pace, 0

    def consume(self, num_messages: int, timeout: float) -> list[_Msg]:
        self.polls += 1
        if self.batches:
            self.clock.t += self.pace
            return self.batches.pop(0)
        self.clock.t += timeout  # what librdkafka does with the broker gone: waits, returns nothing
        return []


def test_changelog_read_gives_up_when_the_broker_goes_silent_mid_read():
    clock = Clock()
    reader = _Reader(clock, [[_Msg(0), _Msg(1)], [_Msg(2)]])
    with pytest.raises(ChangelogUnavailable) as exc:
        read_until(reader, 0, 10, stall_s=15, clock=clock)
    assert str(exc.value) == "no record for 15 s at offset 3 of 10 (kafka.connect_timeout_s)"
    assert (clock.t, reader.polls) == (1015.0, 2 + 15)


def test_changelog_read_at_a_slow_pace_completes():
    # 5 records 10 s apart (50 s in all, > stall_s) then the end of the partition: the deadline is for
    # silence, not for the whole read.
    clock = Clock()
    eof = _Msg(None, KafkaError(KafkaError._PARTITION_EOF))
    reader = _Reader(clock, [[_Msg(i)] for i in range(5)] + [[eof]], pace=10)
    assert read_until(reader, 0, 7, stall_s=15, clock=clock) == [(f"k{i}".encode(), f"v{i}".encode())
                                                                  for i in range(5)]
    assert clock.t == 1060.0


def test_changelog_read_record_error_is_a_kafka_error():
    reader = _Reader(Clock(), [[_Msg(0), _Msg(1, KafkaError(KafkaError._TRANSPORT))]])
    with pytest.raises(KafkaException):
        read_until(reader, 0, 5, stall_s=15, clock=Clock())


class _SilentReader:
    """The restore's changelog reader with the broker gone after the watermarks: consume waits, returns
    nothing. Real time, a short wait per poll; too many polls means the restore would hang forever."""

    def __init__(self) -> None:
        self.polls, self.closed = 0, False

    def get_watermark_offsets(self, tp, timeout, cached):
        return 0, 100

    def assign(self, tps) -> None:
        pass

    def consume(self, num_messages: int, timeout: float) -> list:
        self.polls += 1
        if self.polls > 100:
            raise AssertionError("the changelog read never gave up")
        time.sleep(min(timeout, 0.02))
        return []

    def close(self) -> None:
        self.closed = True


def test_restore_with_the_broker_gone_mid_changelog_keeps_partitions_paused(monkeypatch, caplog):
    config = Config(kafka={"connect_timeout_s": 0.2})
    reader = _SilentReader()
    monkeypatch.setattr(changelog, "Consumer", lambda conf: reader)
    a = stage_a.StageA.__new__(stage_a.StageA)  # no Kafka clients: only the restore path runs
    a.config, a.topics, a.sink, a._parts = config, config.kafka.topics, None, {}
    a._needs_restore, a._kafka_log = {0, 3}, logging.getLogger(LIBRDKAFKA_LOGGER)
    caplog.set_level(logging.WARNING, logger="truesli.stage_a")
    a._restore_pending()
    assert (a._needs_restore, a._parts, reader.closed) == ({0, 3}, {}, True)
    assert [r.getMessage() for r in caplog.records] == [
        "cannot read the state changelog yet (no record for 0.2 s at offset 0 of 100 "
        "(kafka.connect_timeout_s)); partitions [0, 3] stay paused, retrying"]
