"""Kafka topics as batches of records: offset ranges by time and the one consume loop.

Shared by replay (``runs/replay.py``), ``truesli archive`` (``runs/archive.py``) and the live worker's
change feed (``live/detection.ChangeFeed``). The caller owns the consumer (its settings, group and
``close``); this module assigns the partitions and reads them. Transport only: what a record means is the
caller's business.

Two modes of :class:`PartitionReader`, one loop:

- **bounded** (replay, archive): each partition is read from its start to its stop offset, records at or
  past the stop are not delivered, and the reading ends once every partition reached its stop. A record
  error other than end-of-partition raises :class:`confluent_kafka.KafkaException`.
- **follow** (change feed): every partition is read from the beginning and on, until ``stop`` is set;
  ``at_ends`` tells when every partition has been read up to the end it had when the reader was made.
  Record errors are skipped: librdkafka reconnects by itself, and the feed must not end.

A partition reaches its end on the record just before the end offset, on end-of-partition (consumers made
with ``enable.partition.eof``), or — when a consume call returns nothing — once the consumer's position
is at the end: the last offsets may be a transaction marker or a compacted-away record, never delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, Message, TopicPartition

from streams.core.columns import ColumnBatch

if TYPE_CHECKING:
    from streams.core.decode import Decoder


def offset_ranges(consumer: Consumer, topic: str, partitions: list[int], from_ms: int | None, to_ms: int | None,
                  timeout: float) -> dict[int, tuple[int, int]]:
    """partition → [start offset, stop offset) for the message-timestamp range [from_ms, to_ms) (None: the
    start / the end of the partition); the stop is capped at the end the partition has now."""
    out: dict[int, tuple[int, int]] = {}
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            for p in partitions}

    def lookup(ms: int | None, default: Callable[[int], int]) -> dict[int, int]:
        if ms is None:
            return {p: default(p) for p in partitions}
        found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in partitions], timeout=timeout)
        # -1 (OFFSET_END): no record at or after ms in that partition → use the end
        return {tp.partition: (ends[tp.partition][1] if tp.offset in (-1, OFFSET_END) else tp.offset)
                for tp in found}

    starts = lookup(from_ms, lambda p: ends[p][0])
    stops = lookup(to_ms, lambda p: ends[p][1])
    for p in partitions:
        stop = min(stops[p], ends[p][1])
        out[p] = (starts[p], max(starts[p], stop))
    return out


def by_partition(msgs: Iterable[Message]) -> tuple[list[bytes], dict[int, tuple[list[int], list[int]]]]:
    """The records' values in delivery order (a null value as ``b""``) and, per partition, the positions
    of its records in that list and their offsets — a consume call's records, grouped for one decode and
    a pipeline per partition (live Stage A, replay from a topic)."""
    values: list[bytes] = []
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for m in msgs:
        rows, offsets = groups.setdefault(m.partition(), ([], []))
        value = m.value()
        rows.append(len(values))
        values.append(value if value is not None else b"")
        offsets.append(m.offset())
    return values, groups


ReadRecords = tuple[list[bytes], dict[int, tuple[list[int], list[int]]], Any]
"""What :func:`read_by_partition` hands to :func:`finish_by_partition`: values, groups, Arrow's read."""


def read_by_partition(msgs: Iterable[Message], decoder: "Decoder", parallel: bool = False) -> ReadRecords:
    """The half of a consume call's decode a read-ahead thread can do (mostly C without the GIL): the
    records grouped by partition and Arrow's read of their values (``parallel``: on Arrow's CPU pool, as
    live Stage A asks). No Message is kept past this call. Live Stage A and replay from a topic run it on
    a thread of their own, and :func:`finish_by_partition` on the thread that owns the pipelines."""
    values, groups = by_partition(msgs)
    return values, groups, decoder.read_raw(values, parallel) if groups else None


def finish_by_partition(read: ReadRecords, decoder: "Decoder") -> dict[int, tuple[ColumnBatch, list[int]]]:
    """The other half: partition → (its rows as a ColumnBatch, their offsets), one decode for the whole
    call, equal to decoding each partition's records alone (``Decoder.finish_groups``)."""
    values, groups, raw = read
    batches = decoder.finish_groups(raw, values, {p: rows for p, (rows, _) in groups.items()})
    return {p: (batches[p], offsets) for p, (_, offsets) in groups.items()}


class PartitionReader:
    """Reads assigned partitions of one topic in batches (see the module docstring for the two modes).

    Build it with :meth:`bounded` or :meth:`follow`, then iterate :meth:`batches`. State: the offset every
    partition still has to reach (``_ends``), owned by the thread that iterates."""

    __slots__ = ("consumer", "topic", "_starts", "_ends", "_follow")

    def __init__(self, consumer: Consumer, topic: str, starts: dict[int, int], ends: dict[int, int], *,
                 follow: bool) -> None:
        self.consumer = consumer
        self.topic = topic
        self._starts = starts  # partition → first offset to read (assigned in this order)
        self._ends = dict(ends)  # partition → end offset not reached yet
        self._follow = follow

    @classmethod
    def bounded(cls, consumer: Consumer, topic: str, ranges: dict[int, tuple[int, int]]) -> PartitionReader:
        """Read ``ranges`` (partition → [start, stop)); empty ranges are not assigned at all."""
        todo = sorted(p for p, (start, stop) in ranges.items() if stop > start)
        return cls(consumer, topic, {p: ranges[p][0] for p in todo}, {p: ranges[p][1] for p in todo},
                   follow=False)

    @classmethod
    def follow(cls, consumer: Consumer, topic: str, partitions: list[int], timeout: float) -> PartitionReader:
        """Read every partition from the beginning and on; the ends to reach are the high watermarks now."""
        ends: dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                ends[p] = high
        return cls(consumer, topic, {p: OFFSET_BEGINNING for p in partitions}, ends, follow=True)

    @property
    def at_ends(self) -> bool:
        """Every partition has been read up to its end offset."""
        return not self._ends

    def batches(self, max_messages: int, timeout: float, stop: threading.Event | None = None
                ) -> Iterator[list[Message]]:
        """One list of records per consume call, in partition order as delivered (possibly empty, so a
        caller can report progress). Bounded: ends when every partition reached its stop. Follow: ends
        when ``stop`` is set."""
        consumer, ends, follow = self.consumer, self._ends, self._follow
        consumer.assign([TopicPartition(self.topic, p, start) for p, start in self._starts.items()])
        while not (stop is not None and stop.is_set()) if follow else ends:
            msgs = consumer.consume(num_messages=max_messages, timeout=timeout)
            if not msgs and ends:
                for tp in consumer.position([TopicPartition(self.topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        del ends[tp.partition]
            kept: list[Message] = []
            for m in msgs:
                err = m.error()
                p = m.partition()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        ends.pop(p, None)  # the end moved below what we captured (deleted records)
                    elif not follow:
                        raise KafkaException(err)
                    continue
                end = ends.get(p)
                if end is None:
                    if not follow:
                        continue  # past the stop of a bounded range
                elif m.offset() + 1 >= end:
                    del ends[p]
                    if not follow and m.offset() >= end:
                        continue
                kept.append(m)
            yield kept
