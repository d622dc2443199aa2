"""Stage A of the live worker: requests.raw → the core → per-partition partial counters, exactly once.

One consumer in the group, one Pipeline per assigned partition, one transactional producer. Everything a
batch produces — partial counters, dead letters, the changelog of the pipeline's state, and the consumer
offsets — is committed in one Kafka transaction. After a crash the partition's state is rebuilt from the
changelog (``truesli.state``, partition p holds the state of input partition p) and consumption resumes at
the offset stored with it, so every record is reflected exactly once. Readers use read_committed.

Transport-only: all SLI logic is in ``streams.core``; this module moves bytes and commits. What the
changelog holds and how a partition is rebuilt from it is ``streams.live.changelog``; the transactional
producer and its deadlines are ``streams.live.transactions``.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from streams.kafka.health import LIBRDKAFKA_LOGGER, Reachability
from streams.config import Config
from streams.core.decode import Decoder
from streams.core.pipeline import Origin, Outputs, Tally
from streams.kafka.clients import consumer_conf
from streams.live.changelog import (ChangelogUnavailable, PartitionState, changelog_records, read_changelog,
                                    restore_partition)
from streams.live.transactions import ProducerWedged, TransactionalProducer, written_off
from streams.sinks.publish import make_sink
from streams.sinks.serialize import counter_to_dict, dead_letter_to_dict
from streams.sources.kafka import finish_by_partition, read_by_partition

log = logging.getLogger("truesli.stage_a")


def partial_partition(journey: str, slo: str, partitions: int) -> int:
    """All partials of one journey/SLO go to one partials partition: Stage B's table stays local and one
    Stage B worker sees the SLO's whole history, which its detectors (burn windows up to 30 days) need."""
    return zlib.crc32(f"{journey}|{slo}".encode()) % partitions


@dataclass(slots=True)
class StageAStats:
    """What /metrics and /health show about Stage A (Stage B's counters are live.stage_b.StageBStats).
    Written by the Stage A loop in its own process; the worker's web server reads a mirror of it
    (streams.live.stage_a_process), whose ``broker`` the worker's own probe writes."""

    batches: int = 0
    transactions: int = 0
    aborts: int = 0
    restores: int = 0
    anomalies: int = 0  # abuse anomalies published (scanner, credential_stuffing)
    last_batch_seconds: float = 0.0
    batch_seconds_sum: float = 0.0
    lag: dict[int, int] = field(default_factory=dict)
    tallies: dict[int, Tally] = field(default_factory=dict)
    state_ips: dict[int, int] = field(default_factory=dict)
    broker_errors: int = 0
    producer_replacements: int = 0
    remote_write_sent: int = 0
    remote_write_dropped: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    last_ok_monotonic: float = 0.0
    consumer_rebuilds: int = 0
    broker: Reachability = field(default_factory=Reachability)
    # Per partition: when (wall ms) its oldest open window is published if no further record arrives.
    next_close_ms: dict[int, int | None] = field(default_factory=dict)


@dataclass(slots=True)
class _InFlight:
    """One consume call between its consumption and its processing: Arrow's read of its records (None
    when nothing was kept), each partition's epoch when consumed, and whether the call returned any
    message (for the batch statistics)."""

    read: Future | None
    epochs: dict[int, int]
    had_messages: bool


class ConsumerFailed(Exception):
    """The consumer reported a fatal error (e.g. its static membership was fenced after an outage)."""


_UNREACHABLE = (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)


class StageA:
    """Runs the consume → process → transactional produce loop until :meth:`stop` is called."""

    def __init__(self, config: Config, *, worker_id: str, transactional_id: str, partials_partitions: int,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.config = config
        k = config.kafka
        self.topics = k.topics
        self.partials_partitions = partials_partitions
        self.now_ms = now_ms
        self.stats = StageAStats()
        self._stop = threading.Event()
        self._parts: dict[int, PartitionState] = {}
        self._decoder = Decoder(config.input)  # the pipelines' decoder (same config): one decode per consume call
        self._needs_restore: set[int] = set()
        # Bumped whenever partition p's pipeline is replaced or dropped: rows consumed under an older one
        # are never processed (see _process).
        self._epoch: dict[int, int] = {}
        self._in_flight: _InFlight | None = None
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="truesli-decode")
        self._dirty = False
        self._worker_id = worker_id
        self._kafka_log = logging.getLogger(LIBRDKAFKA_LOGGER)
        self.consumer = self._new_consumer()
        self.txn = TransactionalProducer(config, transactional_id, stats=self.stats, on_error=self._on_error,
                                         kafka_log=self._kafka_log, stop=self._stop)
        # Remote-write is delivered before each commit: offsets never pass what the receiver has.
        self.sink = make_sink(config.remote_write) if config.remote_write.url else None
        self._paused_until = 0.0

    def _new_consumer(self) -> Consumer:
        k = self.config.kafka
        return Consumer(consumer_conf(
            k, **{"group.id": k.group_id, "group.instance.id": f"{k.group_id}-stage-a-{self._worker_id}",
                  "session.timeout.ms": 10_000, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": "read_committed", "enable.partition.eof": False,
                  "error_cb": self._on_error, "logger": self._kafka_log}))

    # -- lifecycle ---------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def _on_error(self, err: KafkaError) -> None:
        # Counted, not logged: during an outage every client reports every retry. The broker probe logs
        # the outage once (streams.kafka.health); librdkafka's own lines are rate-limited.
        self.stats.broker_errors += 1
        self.stats.last_error = err.str()

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.topics.requests], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _rebuild_consumer(self, why: str) -> None:
        """Replace a consumer that reported a fatal error and restore every partition from the changelog.

        After an outage longer than the session timeout, librdkafka rejoins the group with the static
        ``group.instance.id`` and can be fenced by its own new membership — a fatal, unrecoverable
        consumer error. A fresh consumer with the same instance id takes the partitions back; whatever
        the old one had not committed is rolled back, so nothing is lost or counted twice.
        """
        log.warning("Kafka consumer failed (%s); starting a new one and restoring from the last committed "
                    "state", why)
        if self.txn.in_txn:
            self._abort()
        self._dirty = False
        self._parts.clear()
        self._needs_restore.clear()
        self._in_flight = None  # consumed by the failed consumer: the restore refetches it
        self.stats.tallies.clear()
        self.stats.state_ips.clear()
        try:
            self.consumer.close()
        except Exception as exc:  # a fenced consumer may refuse to leave the group cleanly
            log.debug("closing the failed consumer: %s", exc)
        self.consumer = self._new_consumer()
        self._subscribe()
        self.stats.consumer_rebuilds += 1

    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        """Consume, process and commit until :meth:`stop`; ``on_tick`` is called on this thread once per
        loop (between batches, while the stats are consistent). The broker probe is the caller's."""
        k = self.config.kafka
        self.txn.init(first=True)
        self._subscribe()
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
                if on_tick is not None:
                    on_tick()
                try:
                    if time.monotonic() < self._paused_until:
                        # The remote-write receiver is down: wait at the last committed state (the restore
                        # rewinds the partitions). A few seconds without consume() is far inside
                        # max.poll.interval.ms; heartbeats run on librdkafka's own thread.
                        if self._needs_restore:
                            self._restore_pending()
                        time.sleep(0.2)
                        continue
                    msgs = self.consumer.consume(num_messages=k.batch_max_messages,
                                                 timeout=k.batch_timeout_ms / 1000)
                    # Messages of partitions awaiting restore are dropped: the seek after restore refetches them.
                    self._process(msgs)
                    if self._needs_restore:
                        self._restore_pending()
                except ConsumerFailed as exc:
                    self._rebuild_consumer(str(exc))
                    continue
                if self._dirty and time.monotonic() - last_commit >= k.commit_interval_ms / 1000:
                    self._commit()
                    last_commit = time.monotonic()
            if self._dirty:
                self._commit()
        finally:
            if self.txn.in_txn:
                self._abort()
            self._reader.shutdown(wait=True, cancel_futures=True)
            self.consumer.close()
            self.txn.close()

    # -- rebalance -------------------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._needs_restore.update(tp.partition for tp in partitions)
        consumer.pause(partitions)  # nothing is processed until the partition's state is back

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Abort, do not commit: the next owner restores from the last committed state. Simple and exact.
        if self.txn.in_txn:
            self._abort()
            # Other partitions we keep must also roll back to their committed state.
            self._needs_restore.update(p for p in self._parts if p not in {tp.partition for tp in partitions})
        for tp in partitions:
            self._epoch[tp.partition] = self._epoch.get(tp.partition, 0) + 1
            self._parts.pop(tp.partition, None)
            self._needs_restore.discard(tp.partition)
            self.stats.tallies.pop(tp.partition, None)
            self.stats.next_close_ms.pop(tp.partition, None)

    def _restore_pending(self) -> None:
        """Rebuild the pending partitions' pipelines from the changelog and seek to their offsets.

        The changelog unreadable (broker outage): the partitions stay paused and pending, retried on the
        next loop. The consumer refusing a seek (it failed fatally): :class:`ConsumerFailed`.
        """
        pending = sorted(self._needs_restore)
        self._needs_restore.clear()
        try:
            self._restore(pending)
        except ChangelogUnavailable as exc:
            self._needs_restore.update(pending)
            log.warning("cannot read the state changelog yet (%s); partitions %s stay paused, retrying",
                        exc, pending)
            time.sleep(1.0)
        except KafkaException as exc:
            self._needs_restore.update(pending)
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() in _UNREACHABLE:
                time.sleep(1.0)  # committed() timed out: the broker is away, try again
                return
            raise ConsumerFailed(err.str() if isinstance(err, KafkaError) else str(exc)) from None

    def _restore(self, pending: list[int]) -> None:
        # The start of a restore is a contract of the log (tests SIGKILL a worker on this line).
        log.info("restoring partitions %s from the state changelog", pending)
        tps = []
        ips = 0
        starts: list[str] = []
        changed: list[tuple[int, str]] = []
        for p in pending:
            state = restore_partition(self.config, p, read_changelog(self.config, p, self._kafka_log),
                                      remote_write=self.sink is not None)
            self._parts[p] = state
            self._epoch[p] = self._epoch.get(p, 0) + 1
            offset = state.next_offset
            if offset is None:
                committed = self.consumer.committed([TopicPartition(self.topics.requests, p)], timeout=30)[0]
                offset = committed.offset if committed.offset >= 0 else OFFSET_BEGINNING
            tp = TopicPartition(self.topics.requests, p, offset)
            self.consumer.seek(tp)
            self.stats.restores += 1
            tps.append(tp)
            ips += len(state.pipeline.filters.store)
            if state.written_under is not None and state.written_under != state.fingerprint:
                changed.append((p, state.written_under))
            starts.append("start" if offset == OFFSET_BEGINNING else f"{offset:,}")
        self.consumer.resume(tps)
        # One line per assignment, in words: librdkafka's -2 is "the beginning", not an offset.
        where = ("from the start (nothing committed yet)" if all(o == "start" for o in starts)
                 else "from the last committed offsets" if len(pending) > 6
                 else "from offset " + ", ".join(f"p{p} {o}" for p, o in zip(pending, starts)))
        log.info("%s partitions %s assigned: %s of filter state restored; reading %s", self.topics.requests,
                 pending, f"{ips:,} client IP{'s' if ips != 1 else ''}", where)
        if changed:
            # Not refused: a deliberate config change (a new objective, a filter tweak) resumes this way too.
            log.warning("partitions %s hold state written under another config (fingerprint %s; this worker's is "
                        "%s): counting continues from it under the new definition. If that is not intended, "
                        "stop and start with the --config that wrote it, or use a new kafka.group_id and topics",
                        [p for p, _ in changed], ", ".join(sorted({f for _, f in changed})),
                        self._parts[changed[0][0]].fingerprint)

    # -- processing ---------------------------------------------------------------------------------------
    def _process(self, msgs: list) -> None:
        """Hand this consume call's records to the decode thread and run the pipelines on the previous
        call's (one call in flight: Arrow's parse of the next call, which releases the GIL, overlaps
        the core on this one).

        A call's rows of partition p are processed only if p's pipeline is still the one that was current
        when they were consumed (``_epoch``): a revoke, a restore or a rollback in between replaces the
        pipeline and seeks p back to its committed offset, which refetches them."""
        kept = []
        parts, restoring = self._parts, self._needs_restore
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.fatal() or err.code() == KafkaError._FATAL:
                    raise ConsumerFailed(err.str())
                log.warning("consume error: %s", err.str())
                continue
            p = m.partition()
            if p not in parts or p in restoring:
                continue
            kept.append(m)
        epoch = self._epoch
        flight = _InFlight(self._reader.submit(read_by_partition, kept, self._decoder, True) if kept else None,
                           {p: epoch.get(p, 0) for p in parts if p not in restoring}, bool(msgs))
        held, self._in_flight = self._in_flight, flight
        self._run_pipelines(held)

    def _run_pipelines(self, held: "_InFlight | None") -> None:
        now = self.now_ms()
        t0 = time.perf_counter()
        decoded = {}
        if held is not None and held.read is not None:
            read = held.read.result()  # Messages are not kept past read_by_partition
            decoded = finish_by_partition(read, self._decoder)
        epoch = self._epoch
        for p, state in self._parts.items():
            if p in self._needs_restore:
                continue
            if p in decoded and held.epochs.get(p) == epoch.get(p, 0):
                batch, offsets = decoded[p]
                out = state.pipeline.process(batch, now, Origin(self.topics.requests, p, offsets=offsets))
                state.next_offset = offsets[-1] + 1
                self._dirty = True
            else:
                out = state.pipeline.process([], now)  # idle: lets the injected clock close windows
            anomalies = []
            if state.abuse is not None:
                for flag in out.flags:
                    anomalies.extend(state.abuse.observe(flag))
                if state.abuse.open and state.pipeline.windows.max_ts is not None:
                    anomalies.extend(state.abuse.advance(state.pipeline.windows.max_ts))
            if anomalies:
                self._publish_anomalies(anomalies)
                self._dirty = True
            if out.counters or out.dead_letters:
                self._publish(out, now)
                if state.exporter is not None:
                    for labels, ts, value in state.exporter.observe(out.counters):
                        self.sink.add(labels, ts, value)
                self._dirty = True
            self.stats.tallies[p] = state.pipeline.tally
            self.stats.next_close_ms[p] = state.pipeline.windows.next_close_ms(now)
            self.stats.state_ips[p] = len(state.pipeline.filters.store)
        if held is not None and held.had_messages:
            took = time.perf_counter() - t0
            self.stats.batches += 1
            self.stats.last_batch_seconds = took
            self.stats.batch_seconds_sum += took
        self.stats.last_ok_monotonic = time.monotonic()

    def _recover(self, why: str) -> None:
        """Roll every partition back to its last committed state (after a failed or wedged transaction)."""
        log.warning("%s; rolling back to the last committed state", why)
        self._dirty = False
        self._needs_restore.update(self._parts)

    def _publish(self, out: Outputs, now: int) -> None:
        self.txn.begin()
        produce = self.txn.produce
        topics = self.topics
        for c in out.counters:
            produce(topics.partials, c.key.encode(), orjson.dumps(counter_to_dict(c, now)),
                    partial_partition(c.journey, c.slo, self.partials_partitions))
        for d in out.dead_letters:
            produce(topics.deadletter, f"{d.partition}|{d.offset}".encode(),
                    orjson.dumps(dead_letter_to_dict(d, now)))
        self.txn.poll()

    def _publish_anomalies(self, anomalies: list) -> None:
        self.txn.begin()
        for a in anomalies:
            self.txn.produce(self.topics.anomalies, a.id.encode(), orjson.dumps(a.to_dict()))
        self.stats.anomalies += len(anomalies)

    def _commit(self) -> None:
        """State changelog + offsets + everything published since the last commit, atomically."""
        self.txn.begin()
        if self.sink is not None and not self._deliver_remote_write():
            return
        offsets = []
        for p, state in self._parts.items():
            for key, value in changelog_records(state):
                self.txn.produce(self.topics.state, key, value, p)
            if state.next_offset is not None:
                offsets.append(TopicPartition(self.topics.requests, p, state.next_offset))
        try:
            self.txn.commit(offsets, self.consumer.consumer_group_metadata())
            self._dirty = False
            self.stats.transactions += 1
            self._update_lag()
        except ProducerWedged:
            self._replace_producer("the transactional producer stopped responding (broker outage?)")
        except KafkaException as exc:
            err = exc.args[0]
            if written_off(err):  # fatal to this producer only (transactions.written_off)
                self._replace_producer(f"the transactional producer failed ({err.str()}); replaced")
                return
            if err.fatal():
                raise
            self._abort()
            self._recover(f"transaction failed ({err.str()})")

    def _replace_producer(self, why: str) -> None:
        """A new transactional producer (its init fences the old one and aborts its transaction), then every
        partition back to its last committed state."""
        self.txn.replace()
        self.txn.init()
        self.stats.aborts += 1
        self._recover(why)

    def _deliver_remote_write(self) -> bool:
        """Flush remote-write before committing. False (and everything rolled back to the last commit,
        consumption paused for a while) when the receiver did not take it all: nothing is committed
        past what was delivered. Samples rejected with a 4xx are counted drops and do not block."""
        report = self.sink.flush()
        self.stats.remote_write_sent += report.samples_sent
        for reason, n in report.dropped.items():
            self.stats.remote_write_dropped[reason] = self.stats.remote_write_dropped.get(reason, 0) + n
        undelivered = {r: n for r, n in report.dropped.items() if r != "rejected_4xx"}
        if not undelivered:
            return True
        self._abort()
        self._recover(f"remote-write receiver did not take {sum(undelivered.values())} samples "
                      f"({report.last_error}); holding offsets")
        self._paused_until = time.monotonic() + 5.0
        return False

    def _abort(self) -> None:
        self.txn.abort()
        self._dirty = False
        self.stats.aborts += 1

    def _update_lag(self) -> None:
        for p, state in self._parts.items():
            if state.next_offset is None:
                continue
            try:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(self.topics.requests, p),
                                                              cached=True)
            except KafkaException:
                continue
            if high >= 0:
                self.stats.lag[p] = max(0, high - state.next_offset)
