"""Stage A's transactional producer: every transactional call under a hard deadline, replaced when wedged.

librdkafka can leave send_offsets/commit blocked past their own timeout when the broker restarts mid-call
(reproduced with confluent-kafka 2.16 against Kafka 3.9). Past the deadline (2 × the transaction
timeout) the producer is written off: a new one with the same ``transactional.id`` fences it and aborts
its transaction, and Stage A restores every partition from the last committed state (docs/design.md §6).

State: the current producer, its call thread and whether a transaction is open. Owned by the Stage A
thread; nothing here decides what is committed — that is Stage A's job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from streams.config import Config
from streams.kafka.clients import client_conf, send

if TYPE_CHECKING:
    from streams.live.stage_a import StageAStats

log = logging.getLogger("truesli.stage_a")


class ProducerWedged(Exception):
    """A transactional call did not return within its deadline."""


_CURED_BY_A_NEW_PRODUCER = frozenset({KafkaError.INVALID_TXN_STATE})
"""Fatal errors that leave this producer unusable but not the worker. INVALID_TXN_STATE is what librdkafka
raises when the broker restarts while AddOffsetsToTxn times out and the abort that follows finds a
transaction it no longer tracks (seen in CI under load: tests/integration/test_live.py
``test_broker_restart_mid_run``). A new producer with the same ``transactional.id`` fences this one and
aborts its transaction, as for a wedged call. Being fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) stays
fatal: a newer instance owns the id, and taking it back would fence that one."""


def written_off(err: KafkaError) -> bool:
    """Whether ``err`` is fatal to the producer alone: replace it and restore, instead of stopping."""
    return err.fatal() and err.code() in _CURED_BY_A_NEW_PRODUCER


class TransactionalProducer:
    """One transactional producer of one Stage A (``transactional.id`` fixed for the worker)."""

    def __init__(self, config: Config, transactional_id: str, *, stats: StageAStats,
                 on_error: Callable[[KafkaError], None], kafka_log: logging.Logger, stop: threading.Event) -> None:
        self.config = config
        self.stats = stats  # counts producer_replacements
        self._transactional_id = transactional_id
        self._on_error = on_error
        self._kafka_log = kafka_log
        self._stop = stop
        self.timeout_s = config.kafka.transaction_timeout_ms / 1000
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="truesli-txn")
        self.producer = self._new_producer()
        self.in_txn = False

    def _new_producer(self) -> Producer:
        return Producer(client_conf(
            self.config.kafka, **{"transactional.id": self._transactional_id, "enable.idempotence": True,
                                  "linger.ms": 20, "transaction.timeout.ms": self.config.kafka.transaction_timeout_ms,
                                  "message.max.bytes": 16 << 20, "error_cb": self._on_error,
                                  "logger": self._kafka_log}))

    def _call(self, call: Callable, *args: object) -> None:
        """Run a transactional call with the hard deadline; ProducerWedged past it."""
        future = self._executor.submit(call, *args)
        try:
            future.result(timeout=self.timeout_s * 2)
        except FutureTimeout:
            raise ProducerWedged() from None

    def init(self, first: bool = False) -> None:
        """init_transactions, retried until it works or Stage A is stopped (fences any older producer).
        ``first``: a non-retriable error (e.g. not authorised) is raised instead of retried."""
        while not self._stop.is_set():
            try:
                self._call(self.producer.init_transactions, self.timeout_s)
                return
            except ProducerWedged:
                log.warning("init_transactions did not complete; retrying with a new producer")
                self.replace()
            except KafkaException as exc:
                if exc.args[0].fatal() or first and not exc.args[0].retriable():
                    raise
                log.warning("init_transactions failed (%s); retrying", exc.args[0].str())
                time.sleep(1)

    def replace(self) -> None:
        """Write off a wedged producer (its blocked call keeps its thread) and start a fresh one."""
        self.stats.producer_replacements += 1
        self._executor.shutdown(wait=False)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="truesli-txn")
        self.producer = self._new_producer()
        self.in_txn = False

    def begin(self) -> None:
        if not self.in_txn:
            self.producer.begin_transaction()
            self.in_txn = True

    def produce(self, topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        send(self.producer, topic, key, value, **({} if partition is None else {"partition": partition}))

    def poll(self) -> None:
        self.producer.poll(0)

    def commit(self, offsets: list[TopicPartition], group_metadata: object) -> None:
        """Add the consumer offsets (when any) and commit. Raises ProducerWedged or KafkaException (the
        transaction is then still open or wedged: the caller aborts or replaces)."""
        if offsets:
            self._call(self.producer.send_offsets_to_transaction, offsets, group_metadata, self.timeout_s)
        self._call(self.producer.commit_transaction, self.timeout_s)
        self.in_txn = False

    def abort(self) -> None:
        """Abort the open transaction; a producer that cannot abort is replaced (which aborts it too)."""
        try:
            self._call(self.producer.abort_transaction, self.timeout_s)
        except ProducerWedged:
            self.replace()
            self.init()
        except KafkaException as exc:
            err = exc.args[0]
            if err.fatal() and not written_off(err):
                raise
            log.warning("abort failed (%s); replacing the producer", err.str())
            self.replace()
            self.init()
        self.in_txn = False

    def close(self) -> None:
        self.producer.flush(10)
        self._executor.shutdown(wait=False)
