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

import multiprocessing
import sys
import time
import uuid
from collections.abc import Callable, Iterator

from confluent_kafka import Consumer

from streams.config import Config
from streams.core.decode import Decoder
from streams.core.merge import CounterBook
from streams.core.pipeline import Origin, Outputs, Pipeline, Tally
from streams.runs.detection import AbuseCollector
from streams.runs.embedded import run_embedded
from streams.runs.result import RunResult
from streams.kafka.clients import consumer_conf, preflight, topic_partitions
from streams.sources.kafka import PartitionReader, ReadRecords, finish_by_partition, offset_ranges, \
    read_by_partition
from streams.sources.prefetch import prefetched


MIN_SLACK_MS = 300_000


def replay_topic(config: Config, topic: str, *, from_ms: int | None = None, to_ms: int | None = None,
                 on_output: Callable[[Outputs], None] | None = None, now_ms: int | None = None,
                 progress: Callable[[int, int, float], None] | None = None,
                 workers: int | None = None) -> RunResult:
    """Recompute counters from ``topic`` (raises KafkaUnavailable for broker/topic problems).
    ``workers``: processes reading partitions side by side, each with its own consumer (None = the
    usable CPUs, at most one per partition with records; runs/replay_workers.py)."""
    from streams.runs.replay_workers import balanced, replay_groups, worker_count

    k = config.kafka
    partitions = topic_partitions(preflight(k), k, topic)
    consumer = _replay_consumer(config)
    result = RunResult(Tally(), CounterBook(), [f"topic {topic}"], abuse=AbuseCollector(config))
    t0 = time.monotonic()
    try:
        slack = max(config.windows.allowed_lateness_s * 1000, MIN_SLACK_MS)
        ranges = offset_ranges(consumer, topic, partitions, None if from_ms is None else from_ms - slack,
                               None if to_ms is None else to_ms + slack, k.connect_timeout_s)
        lo = from_ms if from_ms is not None else -(1 << 62)
        hi = to_ms if to_ms is not None else 1 << 62
        total = sum(stop - start for start, stop in ranges.values())
        sizes = {p: ranges[p][1] - ranges[p][0] for p in partitions if ranges[p][1] > ranges[p][0]}
        n = worker_count(workers, len(sizes)) if workers != 1 else 1
        if n == 1:
            done = 0

            def counted(kept: int) -> None:
                nonlocal done
                done += kept
                if progress is not None:
                    progress(done, total, time.monotonic() - t0)

            for _, out in _topic_outputs(config, consumer, topic, ranges, partitions, lo, hi, now_ms, counted,
                                         read_ahead=True):
                _publish(result, out, on_output)
            return result
    finally:
        consumer.close()  # before any fork: a worker process makes its own client

    groups = balanced(sizes, n)
    groups[0] = sorted(set(groups[0]) | (set(partitions) - set(sizes)))  # empty ones: flushed, as above
    done = multiprocessing.get_context("fork").Value("q", 0)

    def tick(kept: int) -> None:
        with done.get_lock():
            done.value += kept

    def run(group: list[int]) -> list[tuple[int | None, Outputs]]:
        c = _replay_consumer(config)
        try:
            return list(_topic_outputs(config, c, topic, {p: ranges[p] for p in group}, group, lo, hi, now_ms,
                                       tick, read_ahead=False))
        finally:
            c.close()

    def waiting() -> None:
        if progress is not None:
            progress(done.value, total, time.monotonic() - t0)

    flushes: dict[int, Outputs] = {}
    for outs in replay_groups(groups, n, run, on_wait=waiting):
        for flushed, out in outs:
            if flushed is None:
                _publish(result, out, on_output)
            else:
                flushes[flushed] = out
        waiting()
    for p in partitions:  # every pipeline's flush after every batch, in partition order, as one process
        _publish(result, flushes[p], on_output)
    return result


def _replay_consumer(config: Config) -> Consumer:
    """A consumer of committed records only, in a throwaway group (offsets are never committed)."""
    return Consumer(consumer_conf(config.kafka, **{"group.id": f"truesli-replay-{uuid.uuid4().hex[:8]}",
                                                 "enable.auto.commit": False, "isolation.level": "read_committed",
                                                 "enable.partition.eof": True}))


def _topic_outputs(config: Config, consumer: Consumer, topic: str, ranges: dict[int, tuple[int, int]],
                   partitions: list[int], lo: int, hi: int, now_ms: int | None, counted: Callable[[int], None],
                   read_ahead: bool) -> Iterator[tuple[int | None, Outputs]]:
    """One consumer's replay of ``ranges``: (None, Outputs) of every batch as consumed, then (partition,
    Outputs) of every partition's flush in ``partitions`` order; ``counted(n)`` after each consume call
    with the records kept (progress). ``read_ahead``: consume and read on a second thread — for one replay
    process; with a process per core the second threads only compete (docs/benchmarks.md)."""
    k = config.kafka
    pipelines = {p: Pipeline(config, partition=p) for p in partitions}
    reader = PartitionReader.bounded(consumer, topic, ranges)
    decoder = Decoder(config.input)  # the pipelines' decoder (same config): one decode per consume call
    unbounded = lo <= -(1 << 62) and hi >= 1 << 62  # replay_topic's bounds when no --from/--to was given

    def reads() -> Iterator[ReadRecords]:
        # With read_ahead, consuming and Arrow's read of the next call's records (mostly C, the GIL
        # released) run on the read-ahead thread while this one counts the previous call's, as embedded
        # mode reads files; the consumer is then used by that thread alone until the reading ends.
        for msgs in reader.batches(k.batch_max_messages, timeout=1.0):
            yield read_by_partition(msgs if unbounded else (m for m in msgs if lo <= m.timestamp()[1] < hi),
                                    decoder)

    for read in prefetched(reads()) if read_ahead else reads():
        # One decode per consume call, split per partition (as the live worker does).
        decoded = finish_by_partition(read, decoder)
        kept = 0
        for p, (batch, offsets) in sorted(decoded.items()):
            yield None, pipelines[p].process(batch, now_ms, Origin(topic, p, offsets=offsets))
            kept += len(offsets)  # progress counts kept records against the offset span (an estimate)
        counted(kept)
    for p in partitions:
        yield p, pipelines[p].flush()


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
                   on_output: Callable[[Outputs], None] | None = None, now_ms: int | None = None,
                   workers: int | None = None) -> RunResult:
    """Recompute counters from ``truesli archive`` files: per input partition, in offset order, keeping
    the rows whose ``ts`` is in [from, to). ``workers``: processes replaying partitions side by side
    (None = the usable CPUs; runs/replay_workers.py) — the result and the ``on_output`` sequence are the
    same for any number."""
    from streams.runs.replay_workers import partition_groups, replay_groups, worker_count

    files = list(files)
    result = RunResult(Tally(), CounterBook(), [str(f) for f in files], abuse=AbuseCollector(config))
    groups = partition_groups(files) if workers != 1 else None
    n = worker_count(workers, len(groups)) if groups else 1
    if n == 1:
        for _, out in _archive_outputs(config, files, from_ms, to_ms, now_ms, result.capped):
            _publish(result, out, on_output)
        return result

    def run(group: list) -> tuple[list[tuple[bool, Outputs]], list]:
        caps: list = []
        return list(_archive_outputs(config, group, from_ms, to_ms, now_ms, caps)), caps

    flushes: list[Outputs] = []
    for outs, caps in replay_groups(groups, n, run):
        result.capped.extend(caps)
        for is_flush, out in outs:
            if is_flush:
                flushes.append(out)  # after every partition's batches, as one process flushes
            else:
                _publish(result, out, on_output)
    for out in flushes:
        _publish(result, out, on_output)
    return result


def _archive_outputs(config: Config, files: list, from_ms: int | None, to_ms: int | None, now_ms: int | None,
                     caps: list) -> Iterator[tuple[bool, Outputs]]:
    """One process's replay of ``files``: (False, Outputs) of every batch in file order, then (True,
    Outputs) of every pipeline's flush in the order its partition was first seen; caps go to ``caps``."""
    from streams.sources.limits import InputLimits
    from streams.sources.parquet_columns import iter_archive_columns

    pipelines: dict[int, Pipeline] = {}
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
        yield False, pipeline.process(items, now_ms, origin)
    for pipeline in pipelines.values():
        yield True, pipeline.flush()


def replay_history(config: Config, *, topic: str | None = None, parquet: list[str] | None = None,
                   from_ms: int | None = None, to_ms: int | None = None, now_ms: int | None = None,
                   counters_path: str | None = None, dead_letters_path: str | None = None,
                   progress: Callable[[int, int, float], None] | None = None,
                   workers: int | None = None) -> RunResult:
    """One pass over a topic, a truesli archive (``workers`` processes: :func:`replay_archive`), or plain
    request-log Parquet files (embedded mode, file order, no time range); writes counters/dead letters as
    they come. ``result.inputs`` names what was
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
                                    now_ms=now_ms, workers=workers)
            result.inputs = list(parquet or [])
        else:
            assert topic is not None
            result = replay_topic(config, topic, from_ms=from_ms, to_ms=to_ms, on_output=files.add,
                                  now_ms=now_ms, progress=progress, workers=workers)
    finally:
        files.close()
    result.capped.extend(files.caps())
    return result
