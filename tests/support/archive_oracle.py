"""The archive replay's input the dict way: the reference ``iter_archive_columns`` is checked against
(tests/unit/sources/test_archive_columns.py). It is what the replay read before the batch core took
archives as columns."""

from __future__ import annotations

from pathlib import Path

from streams.core.pipeline import Origin
from streams.sources.limits import Cap, InputLimits
from streams.sources.parquet import ARCHIVE_COLUMNS, BATCH_ROWS, REQUEST_FIELDS, archive_batch, iter_checked_batches


def iter_archive_batches(files: list[Path], batch_rows: int = BATCH_ROWS, *, from_ms: int | None = None,
                         to_ms: int | None = None, max_row_bytes: int = 65_536,
                         limits: InputLimits = InputLimits(), caps: list[Cap] | None = None):
    """(partition, records, Origin) in offset order: raw bytes for records that did not decode when
    archived, request-field dicts for the rest — the same inputs the live worker saw. With a time range,
    only rows whose ``ts`` (event time; message time for undecodable rows) is in [from, to). A row over
    ``max_row_bytes`` comes as an OversizedRow (``oversized``, as the live worker judged its message).
    The replay reads archives as columns (sources/parquet_columns.py ``iter_archive_columns``, the same
    batches): this dict form is its reference."""
    lo = from_ms if from_ms is not None else -(1 << 62)
    hi = to_ms if to_ms is not None else 1 << 62
    for file in files:
        for _, rows in iter_checked_batches(file, REQUEST_FIELDS + ARCHIVE_COLUMNS, max_row_bytes, batch_rows,
                                            limits, caps):
            out = archive_batch(rows, lo, hi)
            if out is not None:  # one partition per archive file
                yield out[0], out[1], Origin(source=str(file), partition=out[0], offsets=out[2])
