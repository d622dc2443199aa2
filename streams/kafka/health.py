"""Is the Kafka cluster reachable? A probe, its outage bookkeeping, and log rate-limiting for outages.

During a broker outage every Kafka client in the worker (librdkafka's consumer and producers, aiokafka
under faust) retries several times a second and logs every failure: thousands of lines a minute that
bury the one fact an operator needs. Instead:

- :class:`BrokerProbe` asks the cluster for metadata once a second from its own small client and feeds
  the answers to a :class:`Reachability`, which logs exactly one line when the broker is lost and one
  when it is back, and keeps the counts /metrics exports (``truesli_broker_up``,
  ``truesli_broker_outages_total``, ``truesli_broker_outage_seconds_total``);
- :class:`RateLimitFilter`, installed on the log handlers, lets each kind of warning through once per
  interval and says how many it held back.

The probe only observes: reconnecting is what the Kafka clients do by themselves, and Stage A's
transactions roll back to the last committed state whatever the outage broke.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("truesli.broker")

LIBRDKAFKA_LOGGER = "truesli.librdkafka"
"""librdkafka's own log lines go to this logger (``logger`` client setting), so they are rate-limited too."""


class Reachability:
    """Up/down state of the broker with one log line per transition. Thread-safe; clock injectable.

    ``failures_to_down`` consecutive failed probes mark the broker down (one slow answer on a loaded
    machine is not an outage); one successful probe marks it up again. A shorter streak is logged once,
    at info, when it ends (a 3 s broker restart can still roll back a transaction). The outage is dated from the first
    failed probe of the streak, so its length does not depend on how long confirming it took.
    """

    def __init__(self, *, failures_to_down: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        self.up = True
        self.outages = 0
        self._closed_seconds = 0.0
        self._down_since: float | None = None
        self._failures = 0
        self._first_failure = 0.0
        self._failures_to_down = failures_to_down
        self._clock = clock
        self._lock = threading.Lock()

    def observe(self, reachable: bool, detail: str = "") -> None:
        """Record one probe result."""
        with self._lock:
            if reachable:
                if self.up and self._failures:
                    # Too short to count as an outage, yet long enough to break a transaction: say it once.
                    log.info("Kafka broker missed %d probe%s over %.0f s (a short outage, below the %d that "
                             "count in truesli_broker_outages_total); any transaction it broke was rolled back "
                             "and retried", self._failures, "" if self._failures == 1 else "s",
                             self._clock() - self._first_failure, self._failures_to_down)
                self._failures = 0
                if not self.up:
                    now = self._clock()
                    took = now - (self._down_since if self._down_since is not None else now)
                    self._closed_seconds += took
                    self._down_since = None
                    self.up = True
                    log.warning("Kafka broker is back after %.0f s of outage; consuming resumes from the last "
                                "committed state", took)
                return
            self._failures += 1
            if self._failures == 1:
                self._first_failure = self._clock()
            if self.up and self._failures >= self._failures_to_down:
                self.up = False
                self.outages += 1
                self._down_since = self._first_failure
                log.warning("Kafka broker lost (%s); the worker keeps retrying and resumes by itself",
                            detail or "no answer")

    def outage_seconds(self) -> float:
        """Total seconds the broker has been down, the current outage included."""
        with self._lock:
            running = self._clock() - self._down_since if self._down_since is not None else 0.0
            return self._closed_seconds + running


class BrokerProbe:
    """A daemon thread asking the cluster for metadata every ``interval_s``; results go to ``reachability``.

    ``conf`` is a librdkafka client configuration (``kafka_clients.client_conf``, so credentials and TLS
    apply); the probe adds short reconnect backoffs so a returning broker is seen within a second or two.

    Each probe asks for the metadata of ``topic`` only (the worker passes its input topic): any answer
    proves the cluster is reachable, and a full cluster metadata request every second from every worker
    would cost the brokers in proportion to the number of topics. The probe never creates ``topic``.
    ``logger`` receives librdkafka's own lines (discarded by default: the probe reports through
    ``reachability``).
    """

    def __init__(self, conf: dict, reachability: Reachability, *, topic: str | None = None,
                 interval_s: float = 1.0, timeout_s: float = 2.0, logger: object | None = None) -> None:
        from confluent_kafka.admin import AdminClient

        from streams.kafka.clients import QuietLogger

        self.reachability = reachability
        self._topic = topic
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        # An admin client is a producer to librdkafka, and producers may auto-create a topic they ask about.
        self._admin = AdminClient({**conf, "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000,
                                   "allow.auto.create.topics": False,
                                   "logger": logger if logger is not None else QuietLogger(),
                                   "error_cb": lambda _err: None})
        self._thread = threading.Thread(target=self._run, name="truesli-broker-probe", daemon=True)

    def start(self) -> "BrokerProbe":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval_s + self._timeout_s + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                md = self._admin.list_topics(topic=self._topic, timeout=self._timeout_s)
                ok, detail = bool(md.brokers), "metadata lists no broker"
            except Exception as exc:  # KafkaException while nothing answers
                ok, detail = False, _describe(exc)
            self.reachability.observe(ok, detail)
            # Log lines and error callbacks wait on the client's queue until served: unserved, an outage
            # would pile them up for as long as it lasts.
            self._admin.poll(0)
            self._stop.wait(self._interval_s)


def _describe(exc: Exception) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if hasattr(err, "str") else str(err)


_DECISIONS = "_truesli_rl"
"""LogRecord attribute holding each :class:`RateLimitFilter`'s verdict on that record, by filter id."""


class RateLimitFilter(logging.Filter):
    """Lets each kind of WARNING-or-worse record through once per ``interval_s``; counts the rest.

    A "kind" is (logger, message template, first argument) — for librdkafka's lines the first argument is
    the facility (FAIL, REQTMOUT…), for aiokafka's the node. The next record of a kind let through after
    a quiet spell says how many were held back. INFO and below pass untouched, and so do the broker
    lost/back lines: they are the point. The verdict is made once per record and filter, whatever the
    number of handlers the filter is attached to.
    """

    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[tuple, float] = {}
        self._held: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # One instance sits on every handler (console and file): the first handler to see a record decides
        # and the others reuse the decision. Deciding again would find the key "just seen" and drop the
        # record from every sink but the first, and count it as held back once per extra handler.
        decisions = record.__dict__.setdefault(_DECISIONS, {})
        decided = decisions.get(id(self))
        if decided is None:
            decided = decisions[id(self)] = self._decide(record)
        return decided

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.name == log.name:
            return True
        first = record.args[0] if isinstance(record.args, tuple) and record.args else None
        key = (record.name, str(record.msg)[:200], str(first)[:60] if first is not None else None)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            if len(self._last) > 10_000:  # bounded like everything else that input can influence
                self._last.clear()
                self._held.clear()
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} [{held} similar messages held back in the last {self.interval_s:.0f} s]"
        return True


def install_rate_limit(interval_s: float = 60.0, logger: logging.Logger | None = None, *,
                       clock: Callable[[], float] = time.monotonic) -> RateLimitFilter:
    """Attach one :class:`RateLimitFilter` to every handler of ``logger`` (the root logger by default)."""
    flt = RateLimitFilter(interval_s, clock)
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RateLimitFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
