"""The transactional producer's error rules, with a stand-in for librdkafka's Producer: which fatal errors
cost only the producer (replaced, the transaction aborted by the new one's init) and which stop Stage A."""

from __future__ import annotations

import logging
import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.config import Config
from streams.live import transactions
from streams.live.stage_a import StageAStats


class _Producer:
    def __init__(self, abort_error: KafkaError | None) -> None:
        self.abort_error = abort_error
        self.calls: list[str] = []

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")
        if self.abort_error is not None:
            raise KafkaException(self.abort_error)

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")


def _txn(monkeypatch, abort_error: KafkaError | None) -> tuple[transactions.TransactionalProducer, list]:
    made: list[_Producer] = []

    def new(self) -> _Producer:
        made.append(_Producer(abort_error if not made else None))
        return made[-1]
    monkeypatch.setattr(transactions.TransactionalProducer, "_new_producer", new)
    txn = transactions.TransactionalProducer(Config(), "t-1", stats=StageAStats(), on_error=lambda e: None,
                                             kafka_log=logging.getLogger("test"), stop=threading.Event())
    txn.in_txn = True
    return txn, made


def test_an_abort_in_a_state_the_producer_lost_track_of_replaces_it(monkeypatch) -> None:
    txn, made = _txn(monkeypatch, KafkaError(KafkaError.INVALID_TXN_STATE, "EndTxn abort failed", fatal=True))
    txn.abort()
    assert [p.calls for p in made] == [["abort"], ["init"]]  # the new producer's init aborts the old txn
    assert txn.producer is made[1] and not txn.in_txn and txn.stats.producer_replacements == 1


@pytest.mark.parametrize("code", [KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
                                  KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED])
def test_a_fenced_or_unauthorised_producer_still_stops_stage_a(monkeypatch, code: int) -> None:
    txn, made = _txn(monkeypatch, KafkaError(code, "fatal", fatal=True))
    with pytest.raises(KafkaException):
        txn.abort()
    assert len(made) == 1 and txn.stats.producer_replacements == 0


def test_a_retriable_abort_failure_replaces_the_producer(monkeypatch) -> None:
    txn, made = _txn(monkeypatch, KafkaError(KafkaError._TIMED_OUT, "timed out"))
    txn.abort()
    assert len(made) == 2 and txn.stats.producer_replacements == 1


def test_written_off_only_for_fatal_errors_a_new_producer_cures() -> None:
    assert transactions.written_off(KafkaError(KafkaError.INVALID_TXN_STATE, "x", fatal=True))
    assert not transactions.written_off(KafkaError(KafkaError.INVALID_TXN_STATE, "x"))
    assert not transactions.written_off(KafkaError(KafkaError.PRODUCER_FENCED, "x", fatal=True))
