"""Replay on several cores: input partitions replayed side by side, one worker process per group of them.

Why it is exact: per-IP state, watermarks and windows belong to one input partition (one Pipeline per
partition, as in the live worker), so partitions are independent, and a partition replayed alone gives
the same Outputs as inside a one-process replay.

Archives (``replay_archive``): one task per partition's files. The parent publishes the Outputs in the
order one process would: partition by partition in replay (file) order — a partition finished early
waits, whole, in the parent — then every pipeline's flush in the order the partitions were first seen.
So the RunResult, the counters and dead-letter files and the ``on_output`` sequence are the same for any
number of workers. That needs each file to hold one partition and each partition's files to be
contiguous in replay order (``archive_files`` sorts by ``p<partition>-<offset>`` names):
:func:`partition_groups` reads it from the files' Parquet statistics and answers None when it cannot be
sure (no statistics, nulls, two partitions in a file, a file named out of order); the caller then
replays in one process.

Topics (``replay_topic``): the partitions with records are dealt into one group per worker
(:func:`balanced`), each read by its own consumer. Within a partition the records and their order are
the topic's, so the merged counters and totals are the one-process replay's; how consume calls cut a
partition into batches was never fixed (it depends on fetch timing), so ``late`` counts and the order
in which partitions' outputs interleave may differ, as between two one-process replays.

Processes are forked (Linux; elsewhere, or with one usable CPU, one process): the config and the code are
inherited, a task is a list of paths or partitions, a result is the group's Outputs (pickled once, at its
end). Kafka clients are never shared across the fork: the parent closes its consumer first and each
worker makes its own. Memory: a worker holds its group's Outputs until it is done, and the parent holds
the finished groups ahead of the one it is publishing. An error in a worker (an unreadable file, a lost
broker) is raised in the parent when that group's turn comes, after the groups before it were published.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq

T = TypeVar("T")
R = TypeVar("R")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(requested: int | None, groups: int) -> int:
    """Processes to use: ``requested`` (None = the usable CPUs), never more than ``groups``; 1 when
    processes cannot be forked here."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(requested if requested is not None else usable_cpus(), groups))


def partition_groups(files: list[Path]) -> list[list[Path]] | None:
    """``files`` (replay order) cut into runs of one input partition each, or None if some file's
    partition is unknown, mixed or out of order (module docstring). Reads only Parquet footers."""
    groups: list[list[Path]] = []
    seen: set[int] = set()
    last: int | None = None
    for f in files:
        try:
            p = _file_partition(f)
        except Exception:  # not readable here: the one-process replay names the problem
            return None
        if p is None:
            return None
        if p == -1:  # no rows: it belongs to whichever run it is in
            if groups:
                groups[-1].append(f)
            else:
                groups.append([f])
            continue
        if p != last:
            if p in seen:
                return None
            if groups and last is None:  # leading row-less files join the first partition
                groups[-1].append(f)
            else:
                groups.append([f])
            seen.add(p)
            last = p
        else:
            groups[-1].append(f)
    return groups


def _file_partition(path: Path) -> int | None:
    """The one ``kafka_partition`` of every row of ``path`` by its footer statistics; -1 for a file
    without rows; None when the statistics do not prove a single non-null value."""
    md = pq.read_metadata(path)
    if md.num_rows == 0:
        return -1
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    if "kafka_partition" not in names:
        return None
    col = names.index("kafka_partition")
    value: int | None = None
    for rg in range(md.num_row_groups):
        chunk = md.row_group(rg)
        if chunk.num_rows == 0:
            continue
        st = chunk.column(col).statistics
        if st is None or not st.has_min_max or not st.has_null_count or st.null_count != 0:
            return None
        if st.min != st.max or not isinstance(st.min, int) or (value is not None and st.min != value):
            return None
        value = st.min
    return value if value is not None else -1


_RUN: Callable[[Any], Any] | None = None
"""The forked workers' task (set in the parent just before the fork; inherited, never pickled)."""


def _task(group: Any) -> Any:
    assert _RUN is not None
    return _RUN(group)


def replay_groups(groups: Sequence[T], workers: int, run: Callable[[T], R], *,
                  on_wait: Callable[[], None] | None = None, wait_s: float = 1.0) -> Iterator[R]:
    """``run(group)`` of every group, computed by ``workers`` forked processes, yielded in group order;
    ``on_wait()`` is called every ``wait_s`` seconds spent waiting (progress)."""
    global _RUN
    _RUN = run
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(_task, groups)
            for _ in range(len(groups)):
                while True:
                    try:
                        got = results.next(wait_s)
                        break
                    except multiprocessing.TimeoutError:
                        if on_wait is not None:
                            on_wait()
                yield got
    finally:
        _RUN = None


def balanced(sizes: dict[int, int], n: int) -> list[list[int]]:
    """Keys of ``sizes`` (partition → records) dealt into ``n`` groups of about equal total, largest
    first, each group in key order; no empty group unless there are fewer keys than ``n``."""
    groups: list[list[int]] = [[] for _ in range(min(n, len(sizes)))]
    totals = [0] * len(groups)
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        i = totals.index(min(totals))
        groups[i].append(key)
        totals[i] += sizes[key]
    return [sorted(g) for g in groups]


__all__ = ["balanced", "partition_groups", "replay_groups", "usable_cpus", "worker_count"]
