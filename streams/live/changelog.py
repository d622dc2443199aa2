"""Stage A's state changelog (``truesli.state``): what a commit writes and how a partition is restored.

Partition p of the changelog holds the state of input partition p: one record per client IP whose
filter state changed (``core.snapshot.ip_changes``) and a meta record (``snapshot.META_KEY``) with the
windows, the tally, the next input offset and the extras (abuse episodes, remote-write running sums).
They are written in Stage A's transaction with the outputs and offsets they reflect, and read back
read_committed, in write order, to rebuild a :class:`PartitionState` after a crash or an assignment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from streams.config import Config
from streams.core import snapshot
from streams.core.detect import AbuseEpisodes
from streams.core.pipeline import Pipeline
from streams.kafka.clients import consumer_conf
from streams.sinks.cumulative import CumulativeExporter


def config_fingerprint(config: Config) -> str:
    """12 hex digits naming the SLI definition (input, journeys, exclusions, filters, state, windows,
    detection) — not where it runs (kafka, worker, remote_write). Recorded with each partition's state,
    so a worker restored under a different definition says so."""
    import hashlib

    doc = config.model_dump_json(include={"input", "journeys", "exclusions", "filters", "state", "windows",
                                          "detection"})
    return hashlib.sha256(doc.encode()).hexdigest()[:12]


@dataclass(slots=True)
class PartitionState:
    """Everything Stage A holds for one input partition (owned by the Stage A thread)."""

    pipeline: Pipeline
    next_offset: int | None = None  # first offset not yet reflected in the pipeline
    exporter: CumulativeExporter | None = None  # remote-write running sums, when remote_write.url is set
    abuse: AbuseEpisodes | None = None  # scanner / credential-stuffing episodes of this partition's flags
    fingerprint: str = ""  # config_fingerprint of the config this state is built with now
    written_under: str | None = None  # the fingerprint recorded with the restored state (None: none recorded)


class ChangelogUnavailable(Exception):
    """The state changelog could not be read (the broker is unreachable); the restore is retried."""


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


def read_changelog(config: Config, partition: int, kafka_log: logging.Logger) -> list[tuple[bytes, bytes | None]]:
    """Every committed changelog record of one state partition, in write order. Raises
    :class:`ChangelogUnavailable` when the broker cannot serve them (the restore is retried)."""
    try:
        return _read_records(config, partition, kafka_log)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else exc
        raise ChangelogUnavailable(err.str() if hasattr(err, "str") else str(err)) from None


def _read_records(config: Config, partition: int, kafka_log: logging.Logger) -> list[tuple[bytes, bytes | None]]:
    k = config.kafka
    reader = Consumer(consumer_conf(k, **{
        "group.id": f"{k.group_id}-restore", "enable.auto.commit": False,
        "isolation.level": "read_committed", "enable.partition.eof": True, "logger": kafka_log}))
    try:
        tp = TopicPartition(k.topics.state, partition, OFFSET_BEGINNING)
        # For a read_committed reader the high watermark is the last stable offset.
        low, high = reader.get_watermark_offsets(tp, timeout=30, cached=False)
        if high <= low:
            return []
        reader.assign([tp])
        return read_until(reader, low, high, stall_s=k.connect_timeout_s)
    finally:
        reader.close()


def restore_partition(config: Config, partition: int, records: list[tuple[bytes, bytes | None]], *,
                      remote_write: bool) -> PartitionState:
    """A partition's state rebuilt from its changelog records; ``next_offset`` None when it has none yet.
    ``remote_write``: also rebuild the remote-write running sums."""
    state = PartitionState(Pipeline(config, partition=partition, track_state_changes=True),
                           fingerprint=config_fingerprint(config))
    state.next_offset, extra = snapshot.restore(state.pipeline, records)
    state.written_under = extra.get("config") if extra else None
    state.abuse = AbuseEpisodes(config)
    if extra and extra.get("abuse"):
        state.abuse.load(extra["abuse"])
    if remote_write:
        first_slo = {j.name: j.slos[0].name for j in config.journeys}
        state.exporter = CumulativeExporter(partition, config.windows.retain_closed_s * 1000, first_slo)
        if extra and extra.get("remote_write"):
            state.exporter.load(extra["remote_write"])
    return state


def changelog_records(state: PartitionState) -> Iterator[tuple[bytes, bytes]]:
    """What a commit writes for one partition: the IP state changes since the last commit, then — once the
    partition has consumed anything — the meta record with ``next_offset`` and the extras. Expires the
    exporter's closed windows first, so the extras stay bounded."""
    yield from snapshot.ip_changes(state.pipeline)
    if state.next_offset is not None:
        extra = {"abuse": state.abuse.state() if state.abuse is not None else [], "config": state.fingerprint}
        if state.exporter is not None:
            state.exporter.expire(state.pipeline.windows.closed_through)
            extra["remote_write"] = state.exporter.state()
        yield snapshot.META_KEY, snapshot.meta_record(state.pipeline, state.next_offset, extra)
