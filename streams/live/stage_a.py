"""Stage A of the live worker: requests.raw → the core → per-partition partial counters, exactly once.

One consumer in the group, one Pipeline per assigned partition, one transactional producer. Everything a
batch produces — partial counters, dead letters, the changelog of the pipeline's state, and the consumer
offsets — is committed in one Kafka transaction. After a crash the partition's state is rebuilt from the
changelog (``truesli.state``, partition p holds the state of input partition p) and consumption resumes at
the offset stored with it, so every record is reflected exactly once. Readers use read_committed.

Transport-only: all SLI logic is in ``streams.core``; this module moves bytes and commits.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from streams.kafka.health import LIBRDKAFKA_LOGGER, BrokerProbe, Reachability
from streams.config import Config
from streams.core import snapshot
from streams.core.detect import AbuseEpisodes
from streams.core.pipeline import Origin, Outputs, Pipeline, Tally
from streams.kafka.clients import client_conf, send
from streams.sinks.cumulative import CumulativeExporter
from streams.sinks.publish import make_sink
from streams.sinks.serialize import counter_to_dict, dead_letter_to_dict

log = logging.getLogger("truesli.stage_a")


def partial_partition(journey: str, slo: str, partitions: int) -> int:
    """All partials of one journey/SLO go to one partials partition: Stage B's table stays local and one
    Stage B worker sees the SLO's whole history, which its detectors (burn windows up to 30 days) need."""
    return zlib.crc32(f"{journey}|{slo}".encode()) % partitions


@dataclass(slots=True)
class PartitionState:
    pipeline: Pipeline
    next_offset: int | None = None  # first offset not yet reflected in the pipeline
    exporter: CumulativeExporter | None = None  # remote-write running sums, when remote_write.url is set
    abuse: AbuseEpisodes | None = None  # scanner / credential-stuffing episodes of this partition's flags


@dataclass(slots=True)
class StageAStats:
    """What /metrics shows about Stage A. Written by the Stage A thread, read by the web thread."""

    batches: int = 0
    transactions: int = 0
    aborts: int = 0
    restores: int = 0
    anomalies: int = 0  # abuse anomalies published (scanner, credential_stuffing)
    change_dead_letters: int = 0  # Stage B: ops.changes records that were not change events
    detection_errors: int = 0  # Stage B: detection steps that raised (logged; Stage B goes on)
    last_batch_seconds: float = 0.0
    batch_seconds_sum: float = 0.0
    lag: dict[int, int] = field(default_factory=dict)
    tallies: dict[int, Tally] = field(default_factory=dict)
    state_ips: dict[int, int] = field(default_factory=dict)
    broker_errors: int = 0
    producer_replacements: int = 0
    stage_b_skipped: int = 0
    remote_write_sent: int = 0
    remote_write_dropped: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    last_ok_monotonic: float = 0.0
    consumer_rebuilds: int = 0
    broker: Reachability = field(default_factory=Reachability)


class ConsumerFailed(Exception):
    """The consumer reported a fatal error (e.g. its static membership was fenced after an outage)."""


class ChangelogUnavailable(Exception):
    """The state changelog could not be read (the broker is unreachable); the restore is retried."""


_UNREACHABLE = (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)


def read_until(reader: Consumer, position: int, high: int, *, stall_s: float,
               clock: Callable[[], float] = time.monotonic) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of every record an assigned ``reader`` delivers from ``position`` until ``high`` (or the
    end of the partition), in order.

    Raises :class:`ChangelogUnavailable` when neither a record nor the end of the partition arrives for
    ``stall_s`` seconds: a broker that disappears mid-read makes ``consume`` return nothing, forever (its
    transport errors go to the error callback, not to the caller), and the restore must give up and be
    retried with the partitions paused rather than hang. The deadline restarts with every record, so a
    long changelog read at any pace completes; only silence ends it. A record error raises KafkaException.
    """
    records: list[tuple[bytes, bytes | None]] = []
    deadline = clock() + stall_s
    while position < high:
        msgs = reader.consume(num_messages=10_000, timeout=min(1.0, stall_s))
        if msgs:
            deadline = clock() + stall_s
        elif clock() >= deadline:
            raise ChangelogUnavailable(f"no record for {stall_s:g} s at offset {position} of {high} "
                                       "(kafka.connect_timeout_s)")
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    position = high
                    continue
                raise KafkaException(err)
            records.append((m.key(), m.value()))
            position = m.offset() + 1
    return records


class ProducerWedged(Exception):
    """A transactional call did not return within its deadline."""


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
        self._needs_restore: set[int] = set()
        self._in_txn = False
        self._dirty = False
        self._worker_id = worker_id
        self._kafka_log = logging.getLogger(LIBRDKAFKA_LOGGER)
        self.consumer = self._new_consumer()
        self._transactional_id = transactional_id
        self._txn_timeout_s = k.transaction_timeout_ms / 1000
        self._txn_executor = ThreadPoolExecutor(1, thread_name_prefix="truesli-txn")
        self.producer = self._new_producer()
        # Remote-write is delivered before each commit: offsets never pass what the receiver has.
        self.sink = make_sink(config.remote_write) if config.remote_write.url else None
        self._first_slo = {j.name: j.slos[0].name for j in config.journeys}
        self._paused_until = 0.0

    def _new_consumer(self) -> Consumer:
        k = self.config.kafka
        return Consumer(client_conf(
            k, **{"group.id": k.group_id, "group.instance.id": f"{k.group_id}-stage-a-{self._worker_id}",
                  "session.timeout.ms": 10_000, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": "read_committed", "enable.partition.eof": False,
                  "error_cb": self._on_error, "logger": self._kafka_log}))

    def _new_producer(self) -> Producer:
        return Producer(client_conf(
            self.config.kafka, **{"transactional.id": self._transactional_id, "enable.idempotence": True,
                                  "linger.ms": 20, "transaction.timeout.ms": self.config.kafka.transaction_timeout_ms,
                                  "message.max.bytes": 16 << 20, "error_cb": self._on_error,
                                  "logger": self._kafka_log}))

    def _txn(self, call: Callable, *args: object) -> None:
        """Run a transactional call with a hard deadline.

        librdkafka can leave send_offsets/commit blocked past their own timeout when the broker restarts
        mid-call (reproduced with confluent-kafka 2.16 against Kafka 3.9). Past the deadline the producer
        is written off: a new one with the same transactional.id fences it and aborts its transaction,
        and every partition is restored from the last committed state.
        """
        future = self._txn_executor.submit(call, *args)
        try:
            future.result(timeout=self._txn_timeout_s * 2)
        except FutureTimeout:
            raise ProducerWedged() from None

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
        if self._in_txn:
            self._abort()
        self._dirty = False
        self._parts.clear()
        self._needs_restore.clear()
        self.stats.tallies.clear()
        self.stats.state_ips.clear()
        try:
            self.consumer.close()
        except Exception as exc:  # a fenced consumer may refuse to leave the group cleanly
            log.debug("closing the failed consumer: %s", exc)
        self.consumer = self._new_consumer()
        self._subscribe()
        self.stats.consumer_rebuilds += 1

    def run(self) -> None:
        k = self.config.kafka
        probe = BrokerProbe(client_conf(k), self.stats.broker, topic=k.topics.requests).start()
        self._init_producer(first=True)
        self._subscribe()
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
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
            probe.stop()
            if self._in_txn:
                self._abort()
            self.consumer.close()
            self.producer.flush(10)
            self._txn_executor.shutdown(wait=False)

    # -- rebalance -------------------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._needs_restore.update(tp.partition for tp in partitions)
        consumer.pause(partitions)  # nothing is processed until the partition's state is back

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Abort, do not commit: the next owner restores from the last committed state. Simple and exact.
        if self._in_txn:
            self._abort()
            # Other partitions we keep must also roll back to their committed state.
            self._needs_restore.update(p for p in self._parts if p not in {tp.partition for tp in partitions})
        for tp in partitions:
            self._parts.pop(tp.partition, None)
            self._needs_restore.discard(tp.partition)
            self.stats.tallies.pop(tp.partition, None)

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
        for p in pending:
            state = PartitionState(Pipeline(self.config, partition=p, track_state_changes=True))
            state.next_offset, extra = snapshot.restore(state.pipeline, self._read_changelog(p))
            state.abuse = AbuseEpisodes(self.config)
            if extra and extra.get("abuse"):
                state.abuse.load(extra["abuse"])
            if self.sink is not None:
                state.exporter = CumulativeExporter(p, self.config.windows.retain_closed_s * 1000, self._first_slo)
                if extra and extra.get("remote_write"):
                    state.exporter.load(extra["remote_write"])
            self._parts[p] = state
            offset = state.next_offset
            if offset is None:
                committed = self.consumer.committed([TopicPartition(self.topics.requests, p)], timeout=30)[0]
                offset = committed.offset if committed.offset >= 0 else OFFSET_BEGINNING
            tp = TopicPartition(self.topics.requests, p, offset)
            self.consumer.seek(tp)
            self.stats.restores += 1
            tps.append(tp)
            log.info("partition %d restored (%d IPs in state), resuming at offset %s", p,
                     len(state.pipeline.filters.store), offset)
        self.consumer.resume(tps)

    def _read_changelog(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        """Every committed changelog record of one state partition, in write order."""
        try:
            return self._read_changelog_records(partition)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else exc
            raise ChangelogUnavailable(err.str() if hasattr(err, "str") else str(err)) from None

    def _read_changelog_records(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        reader = Consumer(client_conf(self.config.kafka, **{
            "group.id": f"{self.config.kafka.group_id}-restore", "enable.auto.commit": False,
            "isolation.level": "read_committed", "enable.partition.eof": True, "logger": self._kafka_log}))
        try:
            tp = TopicPartition(self.topics.state, partition, OFFSET_BEGINNING)
            # For a read_committed reader the high watermark is the last stable offset.
            low, high = reader.get_watermark_offsets(tp, timeout=30, cached=False)
            if high <= low:
                return []
            reader.assign([tp])
            return read_until(reader, low, high, stall_s=self.config.kafka.connect_timeout_s)
        finally:
            reader.close()

    # -- processing ---------------------------------------------------------------------------------------
    def _process(self, msgs: list) -> None:
        by_part: dict[int, tuple[list[bytes], list[int]]] = {}
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.fatal() or err.code() == KafkaError._FATAL:
                    raise ConsumerFailed(err.str())
                log.warning("consume error: %s", err.str())
                continue
            if m.partition() not in self._parts or m.partition() in self._needs_restore:
                continue
            values, offsets = by_part.setdefault(m.partition(), ([], []))
            value = m.value()
            values.append(value if value is not None else b"")
            offsets.append(m.offset())
        now = self.now_ms()
        t0 = time.perf_counter()
        for p, state in self._parts.items():
            if p in self._needs_restore:
                continue
            if p in by_part:
                values, offsets = by_part[p]
                out = state.pipeline.process(values, now, Origin(self.topics.requests, p, offsets=offsets))
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
            self.stats.state_ips[p] = len(state.pipeline.filters.store)
        if msgs:
            took = time.perf_counter() - t0
            self.stats.batches += 1
            self.stats.last_batch_seconds = took
            self.stats.batch_seconds_sum += took
        self.stats.last_ok_monotonic = time.monotonic()

    def _init_producer(self, first: bool = False) -> None:
        """init_transactions, retried until it works or we are stopped (fences any older producer)."""
        while not self._stop.is_set():
            try:
                self._txn(self.producer.init_transactions, self._txn_timeout_s)
                return
            except ProducerWedged:
                log.warning("init_transactions did not complete; retrying with a new producer")
                self._replace_producer()
            except KafkaException as exc:
                if exc.args[0].fatal() or first and not exc.args[0].retriable():
                    raise
                log.warning("init_transactions failed (%s); retrying", exc.args[0].str())
                time.sleep(1)

    def _replace_producer(self) -> None:
        """Write off a wedged producer (its blocked call keeps its thread) and start a fresh one."""
        self.stats.producer_replacements += 1
        self._txn_executor.shutdown(wait=False)
        self._txn_executor = ThreadPoolExecutor(1, thread_name_prefix="truesli-txn")
        self.producer = self._new_producer()
        self._in_txn = False

    def _recover(self, why: str) -> None:
        """Roll every partition back to its last committed state (after a failed or wedged transaction)."""
        log.warning("%s; rolling back to the last committed state", why)
        self._dirty = False
        self._needs_restore.update(self._parts)

    def _begin(self) -> None:
        if not self._in_txn:
            self.producer.begin_transaction()
            self._in_txn = True

    def _publish(self, out: Outputs, now: int) -> None:
        self._begin()
        produce = self._produce
        topics = self.topics
        for c in out.counters:
            produce(topics.partials, c.key.encode(), orjson.dumps(counter_to_dict(c, now)),
                    partial_partition(c.journey, c.slo, self.partials_partitions))
        for d in out.dead_letters:
            produce(topics.deadletter, f"{d.partition}|{d.offset}".encode(),
                    orjson.dumps(dead_letter_to_dict(d, now)))
        self.producer.poll(0)

    def _publish_anomalies(self, anomalies: list) -> None:
        self._begin()
        for a in anomalies:
            self._produce(self.topics.anomalies, a.id.encode(), orjson.dumps(a.to_dict()))
        self.stats.anomalies += len(anomalies)

    def _commit(self) -> None:
        """State changelog + offsets + everything published since the last commit, atomically."""
        self._begin()
        if self.sink is not None and not self._deliver_remote_write():
            return
        offsets = []
        for p, state in self._parts.items():
            for key, value in snapshot.ip_changes(state.pipeline):
                self._produce(self.topics.state, key, value, p)
            if state.next_offset is not None:
                extra = {"abuse": state.abuse.state() if state.abuse is not None else []}
                if state.exporter is not None:
                    state.exporter.expire(state.pipeline.windows.closed_through)
                    extra["remote_write"] = state.exporter.state()
                self._produce(self.topics.state, snapshot.META_KEY,
                              snapshot.meta_record(state.pipeline, state.next_offset, extra), p)
                offsets.append(TopicPartition(self.topics.requests, p, state.next_offset))
        try:
            if offsets:
                self._txn(self.producer.send_offsets_to_transaction, offsets,
                          self.consumer.consumer_group_metadata(), self._txn_timeout_s)
            self._txn(self.producer.commit_transaction, self._txn_timeout_s)
            self._in_txn = False
            self._dirty = False
            self.stats.transactions += 1
            self._update_lag()
        except ProducerWedged:
            self._replace_producer()
            self._init_producer()
            self.stats.aborts += 1
            self._recover("the transactional producer stopped responding (broker outage?)")
        except KafkaException as exc:
            err = exc.args[0]
            if err.fatal():
                raise
            self._abort()
            self._recover(f"transaction failed ({err.str()})")

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

    def _produce(self, topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        send(self.producer, topic, key, value, **({} if partition is None else {"partition": partition}))

    def _abort(self) -> None:
        try:
            self._txn(self.producer.abort_transaction, self._txn_timeout_s)
        except ProducerWedged:
            self._replace_producer()
            self._init_producer()
        except KafkaException as exc:
            if exc.args[0].fatal():
                raise
            log.warning("abort failed (%s); replacing the producer", exc.args[0].str())
            self._replace_producer()
            self._init_producer()
        self._in_txn = False
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
