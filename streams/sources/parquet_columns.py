"""Request-log Parquet → RequestColumns straight from Arrow: no per-row dicts for rows of the common shape.

Contract: ``iter_parquet_columns(path, decoder, …)`` yields the batches ``iter_parquet_batches`` yields
(same boundaries, same Origin, same caps and limits), each as ``RequestColumns`` equal to
``from_decoded([decoder.decode(row) for row in rows])`` of that batch's rows. The size checks are the
same code (``iter_checked_parts``): an oversized row is nulled in every column *before* any value of it
is converted (its dictionary entries are never expanded) and dead-lettered ``oversized`` at its row. The
rules are ``core.batch_columns.finish`` — the one implementation the JSON path uses; a row it does not
accept is converted alone (the same ``_convert`` as the dict path) and decoded per record. A column of a
type ``finish`` does not take (binary, nested, a string status, a float timestamp …), a missing required
column or invalid UTF-8 sends the batch the dict way, whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.arrays import marked
from streams.core.columns import ColumnBatch, RequestColumns
from streams.core.decode import Decoder
from streams.core.pipeline import Origin
from streams.sources.limits import Cap, InputLimits
from pathlib import Path

from streams.core.decode import OversizedRow
from streams.sources.parquet import (ARCHIVE_COLUMNS, BATCH_ROWS, REQUEST_FIELDS, Part, _convert, archive_batch,
                                     archive_item, iter_checked_parts, parquet_files)

_REQUIRED = ("ts", "client_ip", "method", "path", "status")
_STRINGS = ("client_ip", "method", "host", "path", "user_agent", "forwarded_for")
_EXACT_FLOAT = 1 << 53  # integers a float64 holds exactly: float(int) of the dict path equals the cast


class _Rows(Sequence):
    """The part's rows, each converted only when asked for (the per-record rows)."""

    def __init__(self, part: Part) -> None:
        self._rb, self._start, self._end, self._replaced = part

    def __len__(self) -> int:
        return self._end - self._start

    def __getitem__(self, k):  # type: ignore[override]
        i = self._start + k
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._replaced[i] if i in self._replaced else _convert(self._rb, i, i + 1, {})[0]


def _column(name: str, col: pa.Array, over: pa.Array | None) -> pa.Array | None:
    """One field column in ``finish``'s type, oversized rows null; None if its type is not taken."""
    t = col.type
    if pa.types.is_dictionary(t):
        indices = col.indices if over is None else pc.if_else(over, pa.scalar(None, col.indices.type), col.indices)
        col = pa.DictionaryArray.from_arrays(indices, col.dictionary).dictionary_decode()
        t = col.type
    elif over is not None:
        col = pc.if_else(over, pa.scalar(None, t), col)
    if name == "ts":
        if pa.types.is_timestamp(t):
            return col.cast(pa.int64())  # raw units, as the dict path's ints
        return _integer(col) if pa.types.is_integer(t) else _string(col)
    if name == "status":
        return _integer(col) if pa.types.is_integer(t) else None
    if name == "duration_ms":
        if pa.types.is_floating(t):
            return col.cast(pa.float64())
        if not pa.types.is_integer(t) or pa.types.is_uint64(t):
            return None
        top = pc.max(pc.abs_checked(col.cast(pa.int64()))).as_py()
        return col.cast(pa.float64()) if top is None or top < _EXACT_FLOAT else None
    if name in ("rate_limited", "synthetic"):
        return col if pa.types.is_boolean(t) else None
    return _string(col)


def _integer(col: pa.Array) -> pa.Array | None:
    return None if pa.types.is_uint64(col.type) else col.cast(pa.int64())


def _string(col: pa.Array) -> pa.Array | None:
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    try:
        col.validate(full=True)  # invalid UTF-8: the dict path decides what that row is
    except pa.ArrowInvalid:
        return None
    return col.cast(pa.string())


def part_columns(part: Part, decoder: Decoder) -> RequestColumns:
    """One part as RequestColumns (module contract)."""
    rb, start, end, replaced = part
    sliced = rb.slice(start, end - start)
    over = None
    if replaced:
        over = marked({i - start for i in replaced}, end - start)
    return _columns_of(sliced, over, over, _Rows(part), decoder)


def _columns_of(sliced: pa.RecordBatch, over: pa.Array | None, per_record: pa.Array | None, rows: Sequence,
                decoder: Decoder) -> RequestColumns:
    """RequestColumns of a record batch's rows: ``over`` marks the oversized rows (nulled before any
    value is converted), ``per_record`` the rows decoded one by one from ``rows[i]`` whatever their
    values (the oversized ones, and an archive's undecodable records)."""
    names = set(sliced.schema.names)
    raw: dict[str, pa.Array] | None = {}
    if not all(n in names for n in _REQUIRED):
        raw = None
    else:
        try:
            for name in REQUEST_FIELDS:
                if name in names:
                    col = _column(name, sliced.column(name), over)
                    if col is None:
                        raw = None
                        break
                    raw[name] = col
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            raw = None
    return decoder.row_columns(raw, rows, per_record)


def iter_parquet_columns(path: str, decoder: Decoder, max_row_bytes: int = 65_536,
                         batch_rows: int = BATCH_ROWS, limits: InputLimits = InputLimits(),
                         caps: list[Cap] | None = None) -> Iterator[tuple[ColumnBatch, Origin]]:
    """``iter_parquet_batches`` as columns (module contract), each with its rows converted lazily."""
    for file in parquet_files(path):
        for first, part in iter_checked_parts(file, REQUEST_FIELDS, max_row_bytes, batch_rows, limits, caps):
            yield ColumnBatch(part_columns(part, decoder), _Rows(part)), Origin(source=str(file), first=first + 1)


class _ArchiveRows(Sequence):
    """An archive part's kept rows as ``iter_archive_batches`` hands them over, each converted only when
    asked for: the raw bytes of a record that did not decode when archived, the OversizedRow of a row
    over the cap, else the row's fields without the archive's own columns."""

    def __init__(self, rb: pa.RecordBatch, replaced: dict[int, OversizedRow]) -> None:
        self._rb, self._replaced = rb, replaced

    def __len__(self) -> int:
        return self._rb.num_rows

    def __getitem__(self, k):  # type: ignore[override]
        if not 0 <= k < len(self):
            raise IndexError(k)
        if k in self._replaced:
            return self._replaced[k]
        return archive_item(_convert(self._rb, k, k + 1, {})[0])


def iter_archive_columns(files: list[Path], decoder: Decoder, *, from_ms: int | None = None,
                         to_ms: int | None = None, max_row_bytes: int = 65_536, batch_rows: int = BATCH_ROWS,
                         limits: InputLimits = InputLimits(), caps: list[Cap] | None = None
                         ) -> Iterator[tuple[int | None, ColumnBatch | list, Origin]]:
    """``iter_archive_batches`` (same batches, rows, partitions, offsets, caps) with each batch as a
    ColumnBatch read by ``decoder`` — or, for a part whose archive columns are not of the archive
    schema's types, as the item list itself (decoded the per-record way)."""
    lo = from_ms if from_ms is not None else -(1 << 62)
    hi = to_ms if to_ms is not None else 1 << 62
    for file in files:
        for _, part in iter_checked_parts(file, REQUEST_FIELDS + ARCHIVE_COLUMNS, max_row_bytes, batch_rows,
                                          limits, caps):
            rb, start, end, replaced = part
            sliced = rb.slice(start, end - start)
            kept = _kept_rows(sliced, lo, hi)
            if kept is None:  # not the archive's column types: the dict way, row for row
                out = archive_batch(_convert(*part), lo, hi)
                if out is not None:
                    yield out[0], out[1], Origin(source=str(file), partition=out[0], offsets=out[2])
                continue
            if not len(kept):
                continue
            sub = sliced if len(kept) == len(sliced) else sliced.take(kept)
            local: dict[int, OversizedRow] = {}
            if replaced:
                local = {k: replaced[start + i] for k, i in enumerate(kept.to_pylist()) if start + i in replaced}
            over = marked(local, len(kept)) if local else None
            per_record = over
            if "raw" in sub.schema.names:
                undecoded = sub.column("raw").is_valid()
                if pc.any(undecoded).as_py():
                    per_record = undecoded if over is None else pc.or_(undecoded, over)
            parts = pc.drop_null(sub.column("kafka_partition"))
            partition = parts[0].as_py() if len(parts) else None
            offsets = sub.column("kafka_offset").to_pylist()
            rows = _ArchiveRows(sub, local)
            yield (partition, ColumnBatch(_columns_of(sub, over, per_record, rows, decoder), rows),
                   Origin(source=str(file), partition=partition, offsets=offsets))


def _kept_rows(sliced: pa.RecordBatch, lo: int, hi: int) -> pa.Array | None:
    """Indices of the rows whose ``ts`` is null or in [lo, hi) — the dict path's test on the same epoch
    ms values — or None when ``ts``/``kafka_partition``/``kafka_offset`` are not timestamp/integer columns."""
    schema = sliced.schema
    if any(n not in schema.names for n in ("ts", "kafka_partition", "kafka_offset")):
        return None
    t = schema.field("ts").type
    if not (pa.types.is_timestamp(t) or pa.types.is_integer(t)) or pa.types.is_uint64(t) or not all(
            pa.types.is_integer(schema.field(n).type) for n in ("kafka_partition", "kafka_offset")):
        return None
    ts = sliced.column("ts")
    if pa.types.is_dictionary(ts.type):
        return None
    ts = ts.cast(pa.int64())
    keep = pc.fill_null(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)), True)
    return pc.indices_nonzero(keep)
