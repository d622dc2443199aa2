"""Broker outage bookkeeping: one log line per transition, outage counts and seconds, rate-limited retry
noise, and what /metrics shows. The live outage itself is tested against a real broker in
tests/integration/test_live.py::test_broker_down_for_a_minute_is_survived_and_reported."""

from __future__ import annotations

import logging

from prometheus_client.parser import text_string_to_metric_families

from streams.broker_health import LIBRDKAFKA_LOGGER, RateLimitFilter, Reachability, install_rate_limit
from streams.metrics import render
from streams.stage_a import StageAStats


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
