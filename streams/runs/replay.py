"""Replay history through the same core: a Kafka topic by time range, or Parquet archives.

Time range: ``[from, to)`` in epoch ms, applied to each record's Kafka message timestamp (producers of
``requests.raw`` stamp records with their event time, or CreateTime ≈ event time for live streams).
Timestamps within a partition are only roughly ordered, so every partition is read from
``offsets_for_times(from − slack)`` to ``offsets_for_times(to + slack)`` (slack = the larger of
``windows.allowed_lateness_s`` and 5 minutes) and each record is kept only if its timestamp is in range —
exact as long as records are out of order by less than the slack. Reading stops at the end offset captured when the
replay starts, so records arriving meanwhile are not chased.

One Pipeline per input partition, exactly like the live worker (per-IP state is partition-local and each
partition has its own watermark), merged with a CounterBook; so a replay, the live worker and
``truesli process`` over the same records give identical counters. Nothing here is live: offsets are
never committed (the reader has its own throwaway group).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer

from streams.config import Config
from streams.core.decode import Decoder
from streams.core.merge import CounterBook
from streams.core.pipeline import Origin, Outputs, Pipeline, Tally
from streams.runs.detection import AbuseCollector
from streams.runs.embedded import run_embedded
from streams.runs.result import RunResult
from streams.kafka.clients import client_conf, preflight, topic_partitions
from streams.sources.kafka import PartitionReader, decoded_by_partition, offset_ranges


MIN_SLACK_MS = 300_000


def replay_topic(config: Config, topic: str, *, from_ms: int | None = None, to_ms: int | None = None,
                 on_output: Callable[[Outputs], None] | None = None, now_ms: int | None = None,
                 progress: Callable[[int, int, float], None] | None = None) -> RunResult:
    """Recompute counters from ``topic`` (raises KafkaUnavailable for broker/topic problems)."""
    k = config.kafka
    partitions = topic_partitions(preflight(k), k, topic)
    consumer = Consumer(client_conf(k, **{"group.id": f"truesli-replay-{uuid.uuid4().hex[:8]}",
                                          "enable.auto.commit": False, "isolation.level": "read_committed",
                                          "enable.partition.eof": True}))
    result = RunResult(Tally(), CounterBook(), [f"topic {topic}"], abuse=AbuseCollector(config))
    t0 = time.monotonic()
    try:
        slack = max(config.windows.allowed_lateness_s * 1000, MIN_SLACK_MS)
        ranges = offset_ranges(consumer, topic, partitions, None if from_ms is None else from_ms - slack,
                               None if to_ms is None else to_ms + slack, k.connect_timeout_s)
        lo = from_ms if from_ms is not None else -(1 << 62)
        hi = to_ms if to_ms is not None else 1 << 62
        total = sum(stop - start for start, stop in ranges.values())
        pipelines = {p: Pipeline(config, partition=p) for p in partitions}
        reader = PartitionReader.bounded(consumer, topic, ranges)
        done = 0
        decoder = Decoder(config.input)  # the pipelines' decoder (same config): one decode per consume call
        for msgs in reader.batches(k.batch_max_messages, timeout=1.0):
            # One decode per consume call, split per partition (as the live worker does).
            decoded = decoded_by_partition((m for m in msgs if lo <= m.timestamp()[1] < hi), decoder)
            for p, (batch, offsets) in sorted(decoded.items()):
                _publish(result, pipelines[p].process(batch, now_ms, Origin(topic, p, offsets=offsets)),
                         on_output)
                done += len(offsets)  # progress counts kept records against the offset span (an estimate)
            if progress is not None:
                progress(done, total, time.monotonic() - t0)
        for p in partitions:
            _publish(result, pipelines[p].flush(), on_output)
    finally:
        consumer.close()
    return result


def _publish(result: RunResult, out: Outputs, on_output: Callable[[Outputs], None] | None) -> None:
    result.collect(out)
    if on_output is not None:
        on_output(out)


class Progress:
    """Progress on stderr: a bar on a terminal, a plain line every ``every_s`` seconds otherwise."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self._last = -every_s
        self._tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        pct = 100.0 * done / total if total else 100.0
        if self._tty:
            bar = "#" * int(pct / 5)
            sys.stderr.write(f"\r[{bar:<20}] {pct:5.1f}% {done:,}/{total:,} {rate:,.0f} events/s ETA {eta:,.0f}s")
            if done >= total:
                sys.stderr.write("\n")
        elif seconds - self._last >= self.every_s or done >= total:
            self._last = seconds
            sys.stderr.write(f"replay: {done:,}/{total:,} ({pct:.1f}%) {rate:,.0f} events/s, ETA {eta:,.0f}s\n")
        sys.stderr.flush()


def replay_archive(config: Config, files, *, from_ms: int | None = None, to_ms: int | None = None,
                   on_output: Callable[[Outputs], None] | None = None, now_ms: int | None = None) -> RunResult:
    """Recompute counters from ``truesli archive`` files: per input partition, in offset order, keeping
    the rows whose ``ts`` is in [from, to)."""
    from streams.sources.limits import InputLimits
    from streams.sources.parquet_columns import iter_archive_columns

    pipelines: dict[int, Pipeline] = {}
    result = RunResult(Tally(), CounterBook(), [str(f) for f in files], abuse=AbuseCollector(config))
    caps = result.capped
    # Columns straight from the archive into the batch core (one decoder: it is the config's, stateless
    # across partitions but for bounded caches).
    decoder = Decoder(config.input)
    for partition, items, origin in iter_archive_columns(files, decoder, from_ms=from_ms, to_ms=to_ms,
                                                         max_row_bytes=config.input.max_line_bytes,
                                                         limits=InputLimits.of(config.limits), caps=caps):
        if not items:
            continue
        pipeline = pipelines.get(partition)
        if pipeline is None:
            pipeline = pipelines[partition] = Pipeline(config, partition=partition)
        _publish(result, pipeline.process(items, now_ms, origin), on_output)
    for pipeline in pipelines.values():
        _publish(result, pipeline.flush(), on_output)
    return result


def replay_history(config: Config, *, topic: str | None = None, parquet: list[str] | None = None,
                   from_ms: int | None = None, to_ms: int | None = None, now_ms: int | None = None,
                   counters_path: str | None = None, dead_letters_path: str | None = None,
                   progress: Callable[[int, int, float], None] | None = None) -> RunResult:
    """One pass over a topic, a truesli archive, or plain request-log Parquet files (embedded mode, file
    order, no time range); writes counters/dead letters as they come. ``result.inputs`` names what was
    read. Raises InputError/OutputError/KafkaUnavailable for unusable inputs, outputs or brokers."""
    from streams.sinks.files import OutputFiles
    from streams.sources.files import InputError
    from streams.sources.parquet import archive_files

    archive = archive_files(parquet) if parquet else None
    if parquet and archive is None:
        if from_ms is not None or to_ms is not None:
            raise InputError("--from/--to select from a topic or a truesli archive; plain Parquet files are "
                             "replayed whole")
        return run_embedded(config, parquet, now_ms=now_ms, fmt="parquet", counters_path=counters_path,
                            dead_letters_path=dead_letters_path)
    files = OutputFiles(counters_path, dead_letters_path, stamp_ms=now_ms if now_ms is not None else 0,
                        max_dead_letters=config.limits.max_dead_letters)
    try:
        if archive is not None:
            result = replay_archive(config, archive, from_ms=from_ms, to_ms=to_ms, on_output=files.add,
                                    now_ms=now_ms)
            result.inputs = list(parquet or [])
        else:
            assert topic is not None
            result = replay_topic(config, topic, from_ms=from_ms, to_ms=to_ms, on_output=files.add,
                                  now_ms=now_ms, progress=progress)
    finally:
        files.close()
    result.capped.extend(files.caps())
    return result
