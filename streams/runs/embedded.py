"""Embedded mode: files or stdin → the core → file sinks and a report, in one process.

Stage A and Stage B run together: one Pipeline (one "partition"), and a CounterBook that keeps the latest
revision of every window. The wall clock enters only through ``now_ms`` (injected by the CLI, fixed by
tests), used to reject far-future timestamps; windows are closed by the watermark and by ``flush`` at end
of input, never by the clock, so the same files always give the same counters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from streams.config import Config
from streams.core.columns import ColumnBatch
from streams.core.decode import Decoder
from streams.core.merge import CounterBook
from streams.core.pipeline import Origin, Pipeline, Tally
from streams.runs.detection import AbuseCollector
from streams.runs.result import RunResult
from streams.sinks.files import OutputFiles
from streams.sources.files import BATCH_LINES, InputError, iter_line_batches, sniff_format
from streams.sources.limits import Cap, InputLimits
from streams.sources.parquet_columns import iter_parquet_columns
from streams.sources.prefetch import prefetched


def iter_input_batches(paths: Sequence[str], fmt: str, decoder: Decoder, max_line_bytes: int = 65_536,
                       limits: InputLimits = InputLimits(),
                       caps: list[Cap] | None = None) -> Iterator[tuple[list | ColumnBatch, Origin]]:
    """Batches of every input in order (Parquet already as columns, read by ``decoder``; lines split by
    Arrow while they are plain: sources/files.py); ``limits`` apply per input, the caps hit go to ``caps``."""
    for path in paths:
        if fmt == "parquet" or (fmt == "auto" and sniff_format(path) == "parquet"):
            yield from iter_parquet_columns(path, decoder, max_line_bytes, limits=limits, caps=caps)
        else:
            yield from iter_line_batches(path, max_line_bytes=max_line_bytes, limits=limits, caps=caps, arrow=True)


def read_batches(batches: Iterator[tuple[list | ColumnBatch, Origin]], decoder: Decoder
                 ) -> Iterator[tuple[list | ColumnBatch, Any, Origin]]:
    """Every batch with the first half of its decode (``decoder.read_raw``; None for Parquet batches,
    which are columns already): what the read-ahead thread does. The screen's RE2 pass is left to the
    second half: on a JSON-lines file this thread bounds the run (Arrow's JSON read is ~2/3 of it) and
    the core's thread waits for it, so the pass (~1/5 of it) is moved to where there is room."""
    for batch, origin in batches:
        yield batch, None if type(batch) is ColumnBatch else decoder.read_raw(batch, defer_pattern=True), origin


def as_columns(batch: list | ColumnBatch, raw: Any, decoder: Decoder) -> ColumnBatch:
    """The batch as columns: the second half of its decode (``decoder.finish_raw``) for line batches."""
    return batch if type(batch) is ColumnBatch else ColumnBatch(decoder.finish_raw(raw, batch), batch)


def run_embedded(config: Config, inputs: Sequence[str], *, now_ms: int | None, fmt: str = "auto",
                 counters_path: str | None = None, dead_letters_path: str | None = None,
                 verdicts_path: str | None = None) -> RunResult:
    """Process ``inputs`` in order; raises InputError/OutputError for unreadable/unwritable paths."""
    pipeline = Pipeline(config, collect_verdicts=verdicts_path is not None)
    result = RunResult(Tally(), CounterBook(), list(inputs), abuse=AbuseCollector(config))
    lim = config.limits
    files = OutputFiles(counters_path, dead_letters_path, verdicts_path, now_ms if now_ms is not None else 0,
                        max_dead_letters=lim.max_dead_letters, max_verdicts=lim.max_verdicts)
    try:
        # Reading, screening and Arrow's JSON read run one batch ahead on their own thread
        # (sources/prefetch.py): mostly C with the GIL released, they overlap the core's counting of the
        # previous batch. The rest of the decode (the per-distinct rules of batch_columns.finish) runs
        # here: it holds the GIL wherever it runs, and it was moved here when the read-ahead thread was the
        # longer of the two (benchmarks.md, third round; since the fourth, the main thread bounds the run).
        batches = iter_input_batches(inputs, fmt, pipeline.decoder, config.input.max_line_bytes,
                                     InputLimits.of(lim), result.capped)
        for batch, raw, origin in prefetched(read_batches(batches, pipeline.decoder)):
            out = pipeline.process(as_columns(batch, raw, pipeline.decoder), now_ms, origin)
            result.collect(out)
            files.add(out)
        out = pipeline.flush()
        result.collect(out)
        files.add(out)
    finally:
        files.close()
    result.capped.extend(files.caps())
    return result


def run_records(config: Config, records: Sequence[bytes | str | dict], batch: int = BATCH_LINES,
                now_ms: int | None = None) -> CounterBook:
    """Records in memory → the CounterBook embedded mode ends with (the reference for live and replay)."""
    pipeline = Pipeline(config)
    book = CounterBook()
    for i in range(0, len(records), batch):
        book.add(pipeline.process(records[i:i + batch], now_ms).counters)
    book.add(pipeline.flush().counters)
    return book


__all__ = ["InputError", "run_embedded", "run_records", "iter_input_batches"]
