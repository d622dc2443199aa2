"""Parquet files → batches of rows, with every size checked in Arrow before a Python string exists.

Two kinds of input: request-log Parquet (the Arrow schema of ``streams.sources.archive_schema``) and
``truesli archive`` files (request fields + raw bytes + Kafka partition/offset). Both are untrusted: a
10 KB file can hold a dictionary-encoded 1 MiB user agent repeated on every row, and turning that into
Python strings row by row costs a gigabyte per thousand rows.

Contract (per file, per row group):
- Text and binary columns are read as Arrow dictionaries (``read_dictionary``), so a dictionary page is
  never expanded into one copy per row. Only the columns the decoder reads are read at all.
- Each row's size — the bytes of its text/binary fields plus 8 per other field — is computed with
  ``pyarrow.compute`` on the lengths (on the dictionary, then taken by index) before any conversion.
  A row larger than ``max_row_bytes`` (``input.max_line_bytes``) is not converted: it comes as an
  :class:`~streams.core.decode.OversizedRow` carrying its size, its largest field and a bounded excerpt,
  and the decoder dead-letters it as ``oversized`` at its row position. No field of a converted row can
  exceed the cap either (a field is part of its row).
- Batches are bounded by bytes, not only rows: rows are read in groups sized from the row group's
  declared uncompressed size, and the converted rows of one yielded batch total at most ``BATCH_BYTES``
  (or a single row).
Positions are 1-based row numbers (files) or Kafka offsets (archives), as for lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from streams.core.arrays import filled
from streams.core.decode import OversizedRow
from streams.core.pipeline import Origin
from streams.sources.files import BATCH_LINES, InputError
from streams.sources.limits import Cap, InputLimits

BATCH_ROWS = BATCH_LINES  # the batch core's cost per batch and per distinct value: files.BATCH_LINES says why
BATCH_BYTES = 16 << 20
"""Converted bytes per yielded batch (the Python strings of ≤ 20,000 ordinary rows are ~4–8 MB)."""
RATIO_MIN_GROUP_BYTES = BATCH_BYTES
"""A row group's compression ratio is judged once it declares more than this (up to it, it is read)."""
EXCERPT_CHARS = 256
"""Characters kept of each field in an oversized row's excerpt."""

REQUEST_FIELDS = ("ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent",
                  "rate_limited", "synthetic", "forwarded_for")
"""The request fields the decoder reads from a row (files may have more columns; they are not read)."""
ARCHIVE_COLUMNS = ("raw", "dead_letter_reason", "kafka_partition", "kafka_offset")

_FIXED = 8  # counted per non-text field: what a number or flag costs in a JSON line, roughly


class NestedValue:
    """Stands for a list/struct/map cell: its contents are never converted (they may be any size). The
    decoder rejects it as ``bad_type:<field>`` like any other wrong type."""

    __slots__ = ("arrow_type",)

    def __init__(self, arrow_type: str) -> None:
        self.arrow_type = arrow_type

    def __repr__(self) -> str:
        return f"<{self.arrow_type}>"


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t) or getattr(pa.types, "is_string_view", lambda _: False)(t)
            or getattr(pa.types, "is_binary_view", lambda _: False)(t))


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or (pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type))


def _lengths(col: pa.Array) -> pa.Array:
    """Bytes per cell (int64, nulls 0) of a text, binary or fixed-width column — without decoding it."""
    t = col.type
    if pa.types.is_dictionary(t):
        if _is_text(t.value_type):
            per_value = pc.binary_length(col.dictionary).cast(pa.int64())
            return pc.fill_null(pc.take(per_value, col.indices), 0)
        t = t.value_type
    if _is_text(t):
        return pc.fill_null(pc.binary_length(col).cast(pa.int64()), 0)
    if pa.types.is_fixed_size_binary(t):
        return filled(t.byte_width, len(col), pa.int64())
    return filled(_FIXED, len(col), pa.int64())


def _cut(col: pa.Array) -> pa.Array:
    """The column with every text/binary value cut to ``EXCERPT_CHARS`` (on the dictionary if any)."""
    t = col.type
    if pa.types.is_dictionary(t) and _is_text(t.value_type):
        return pa.DictionaryArray.from_arrays(col.indices, _cut(col.dictionary))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.utf8_slice_codeunits(col, 0, EXCERPT_CHARS)
    if _is_text(t) or pa.types.is_fixed_size_binary(t):
        return pc.binary_slice(col, 0, EXCERPT_CHARS)
    return col


def _values(col: pa.Array) -> list:
    """Python values of one (already size-checked) column; timestamps as epoch ms, like JSON input."""
    t = col.type
    if _is_nested(t):
        name = str(t)
        return [None if null else NestedValue(name) for null in col.is_null().to_pylist()]
    if pa.types.is_dictionary(t):
        # Safe to expand now: every row was checked, and the batch is bounded by BATCH_BYTES. (Arrow's
        # dictionary to_pylist goes value by value: several times slower than expanding first.)
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_timestamp(t):
        return col.cast(pa.int64()).to_pylist()
    return col.to_pylist()


def _excerpt_value(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "backslashreplace")
    return v


def _oversized(rb: pa.RecordBatch, rows: list[int], sizes: list[int], lengths: dict[str, list[int]]
               ) -> dict[int, OversizedRow]:
    """row index → its OversizedRow (size, largest field, excerpt with every value cut short)."""
    idx = pa.array(rows, pa.int64())
    names = rb.schema.names
    cut = {n: _values(_cut(c).take(idx)) for n, c in zip(names, rb.columns)}
    out: dict[int, OversizedRow] = {}
    for k, i in enumerate(rows):
        field, biggest = max(((n, lengths[n][i]) for n in names), key=lambda x: x[1])
        doc = {n: _excerpt_value(cut[n][k]) for n in names}
        excerpt = orjson.dumps(doc, default=repr, option=orjson.OPT_NON_STR_KEYS)
        out[i] = OversizedRow(excerpt, sizes[i], field, biggest,
                              {n: v for n, v in doc.items() if type(v) is int})
    return out


def _declared(pf: pq.ParquetFile, rg: int, columns: list[str]) -> tuple[int, int, int]:
    """(rows, uncompressed bytes, compressed bytes) that row group ``rg`` declares for ``columns``: the
    encoded column data as stored (a dictionary-encoded column counts its dictionary once, which is what
    reading it as a dictionary costs)."""
    meta = pf.metadata.row_group(rg)
    want = set(columns)
    chunks = [meta.column(c) for c in range(meta.num_columns)
              if meta.column(c).path_in_schema.split(".", 1)[0] in want]
    return (meta.num_rows, sum(max(0, c.total_uncompressed_size) for c in chunks),
            sum(max(0, c.total_compressed_size) for c in chunks))


def _rows_per_read(rows: int, declared: int, batch_rows: int) -> int:
    """Rows to read at once: about ``BATCH_BYTES`` of declared column data, at least 1."""
    if rows <= 0:
        return batch_rows
    return max(1, min(batch_rows, BATCH_BYTES // max(1, declared // rows)))


def _open(file: Path, wanted: tuple[str, ...]) -> tuple[pq.ParquetFile, list[str]]:
    try:
        names = pq.read_schema(file)
    except FileNotFoundError:
        raise InputError(f"input file not found: {file}") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{file} is not a readable Parquet file: {exc}") from None
    columns = [c for c in wanted if c in names.names]
    as_dictionary = [c for c in columns if _is_text(names.field(c).type)]
    try:
        return pq.ParquetFile(file, read_dictionary=as_dictionary), columns
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{file} is not a readable Parquet file: {exc}") from None


def iter_checked_batches(file: Path, wanted: tuple[str, ...], max_row_bytes: int,
                         batch_rows: int = BATCH_ROWS, limits: InputLimits = InputLimits(),
                         caps: list[Cap] | None = None) -> Iterator[tuple[int, list[dict | OversizedRow]]]:
    """(index of the first row in the file, rows) with the sizes checked (module contract). Rows are dicts
    of the ``wanted`` columns the file has, or OversizedRow in place of a row over the cap."""
    for first, part in iter_checked_parts(file, wanted, max_row_bytes, batch_rows, limits, caps):
        yield first, _convert(*part)


Part = tuple[pa.RecordBatch, int, int, dict[int, OversizedRow]]
"""(record batch, start, end, oversized rows by index in the record batch): rows [start, end) of one
yielded batch, not yet converted (sources/parquet_columns.py reads them as columns)."""


def iter_checked_parts(file: Path, wanted: tuple[str, ...], max_row_bytes: int,
                       batch_rows: int = BATCH_ROWS, limits: InputLimits = InputLimits(),
                       caps: list[Cap] | None = None) -> Iterator[tuple[int, Part]]:
    """:func:`iter_checked_batches` before conversion: (index of the first row in the file, Part).

    The file stops (a Cap in ``caps``) before a row group whose declared data would pass
    ``limits.max_bytes`` for the file, or that declares more than ``RATIO_MIN_GROUP_BYTES`` expanding more
    than ``limits.max_ratio`` times (a page is decompressed whole, whatever the batch size); and at
    ``limits.max_lines`` rows."""
    caps = caps if caps is not None else []
    pf, columns = _open(file, wanted)
    first = 0
    total = 0
    for rg in range(pf.metadata.num_row_groups):
        rows, declared, packed = _declared(pf, rg, columns)
        if total + declared > limits.max_bytes:
            caps.append(Cap(str(file), "max_input_bytes", f"not read past row {first:,}: row group {rg} would "
                                                          f"take it to {total + declared:,} bytes"))
            return
        if declared > RATIO_MIN_GROUP_BYTES and declared > limits.max_ratio * max(1, packed):
            caps.append(Cap(str(file), "max_compression_ratio",
                            f"not read past row {first:,}: row group {rg} declares {declared:,} bytes from "
                            f"{packed:,} compressed ({declared / max(1, packed):,.0f}×, more than "
                            f"{limits.max_ratio:g}×)"))
            return
        total += declared
        step = _rows_per_read(rows, declared, batch_rows)
        try:
            for rb in pf.iter_batches(batch_size=step, row_groups=[rg], columns=columns):
                room = limits.max_lines - first
                if rb.num_rows > room:
                    rb = rb.slice(0, room)
                yield from _split(rb, first, max_row_bytes)
                first += rb.num_rows
                if first >= limits.max_lines:
                    more = rg + 1 < pf.metadata.num_row_groups or first < pf.metadata.num_rows
                    if more:
                        caps.append(Cap(str(file), "max_input_lines", f"not read past row {first:,}"))
                    return
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read {file}: {exc}") from None


def _split(rb: pa.RecordBatch, first: int, cap: int) -> Iterator[tuple[int, Part]]:
    """One record batch → byte-bounded parts, oversized rows replaced. Row sizes are summed in Arrow
    (text columns by their bytes, every other column a constant); Python sees them only when a row is
    over ``cap`` or the batch is over ``BATCH_BYTES`` (then it is cut greedily, row by row)."""
    names = rb.schema.names
    if not names or rb.num_rows == 0:
        return
    n_rows = rb.num_rows
    total, fixed = None, 0
    for c in rb.columns:
        width = _width(c.type)
        if width is not None:
            fixed += width
            continue
        length = _lengths(c)
        total = length if total is None else pc.add(total, length)
    total = filled(fixed, n_rows, pa.int64()) if total is None else pc.add(total, fixed)
    over = pc.greater(total, cap)
    replaced: dict[int, OversizedRow] = {}
    sizes: list[int] | None = None
    if pc.any(over).as_py():
        sizes = total.to_pylist()
        big = pc.indices_nonzero(over).to_pylist()
        lengths = {n: _lengths(c).to_pylist() for n, c in zip(names, rb.columns)}
        replaced = _oversized(rb, big, sizes, lengths)
        held = pc.sum(pc.if_else(over, 0, total)).as_py()
    else:
        held = pc.sum(total).as_py()
    if held <= BATCH_BYTES:  # the greedy cut below would not cut: one part
        yield first, (rb, 0, n_rows, replaced)
        return
    if sizes is None:
        sizes = total.to_pylist()
    start = 0
    while start < n_rows:
        end, acc = start, 0
        while end < n_rows and (end == start or acc + (0 if end in replaced else sizes[end]) <= BATCH_BYTES):
            acc += 0 if end in replaced else sizes[end]
            end += 1
        yield first + start, (rb, start, end, replaced)
        start = end


def _width(t: pa.DataType) -> int | None:
    """What :func:`_lengths` counts for every cell of a column of type ``t``, or None for text (per cell)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if _is_text(t):
        return None
    return t.byte_width if pa.types.is_fixed_size_binary(t) else _FIXED


def _convert(rb: pa.RecordBatch, start: int, end: int, replaced: dict[int, OversizedRow]) -> list:
    """Rows [start, end) as dicts, the replaced ones as their OversizedRow (never converted)."""
    part = rb.slice(start, end - start)
    keep = [i for i in range(start, end) if i not in replaced]
    if len(keep) < end - start:
        part = part.take(pa.array([i - start for i in keep], pa.int64()))
    names = part.schema.names
    cols = [_values(c) for c in part.columns]
    dicts = iter([dict(zip(names, values)) for values in zip(*cols)])
    return [replaced[i] if i in replaced else next(dicts) for i in range(start, end)]


def parquet_files(path: str) -> list[Path]:
    p = Path(path)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise InputError(f"no .parquet files under {path}")
    return files


def iter_parquet_batches(path: str, max_row_bytes: int = 65_536, batch_rows: int = BATCH_ROWS,
                         limits: InputLimits = InputLimits(),
                         caps: list[Cap] | None = None) -> Iterator[tuple[list, Origin]]:
    """Rows of a request-log Parquet file (or every ``*.parquet`` under a directory, sorted); the limits
    apply per file."""
    for file in parquet_files(path):
        for first, rows in iter_checked_batches(file, REQUEST_FIELDS, max_row_bytes, batch_rows, limits, caps):
            yield rows, Origin(source=str(file), first=first + 1)


def archive_files(paths: list[str]) -> list[Path] | None:
    """The ``truesli archive`` files under ``paths`` in replay order — by input partition, then offset —
    or None when they are plain request-log Parquet files (no partition/offset columns)."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        files.extend(sorted(p.rglob("*.parquet")) if p.is_dir() else [p])
    if not files:
        raise InputError(f"no .parquet files under {', '.join(paths)}")
    try:
        names = pq.read_schema(files[0]).names
    except FileNotFoundError:
        raise InputError(f"input file not found: {files[0]}") from None
    except Exception as exc:  # pyarrow raises several types for "not Parquet"
        raise InputError(f"{files[0]} is not a readable Parquet file: {exc}") from None
    if "kafka_partition" not in names:
        return None
    return sorted(files, key=lambda f: f.name)  # p<partition:05d>-<first offset:020d>.parquet


def archive_item(row: dict):
    """What the worker decoded for one archive row (a dict): its raw bytes if it had not decoded, else its
    request fields (the archive's own columns removed, in place)."""
    raw = row.pop("raw", None)
    for k in ARCHIVE_COLUMNS:
        row.pop(k, None)
    return raw if raw is not None else row


def archive_batch(rows: list, lo: int, hi: int) -> tuple[int | None, list, list] | None:
    """(partition, items, offsets) of one converted archive part's rows with ``ts`` null or in [lo, hi),
    or None when no row is."""
    items: list = []
    offsets: list[int] = []
    partition = None
    for row in rows:
        if type(row) is OversizedRow:
            where = row.where
            ts, part, off = where.get("ts"), where.get("kafka_partition"), where.get("kafka_offset")
            item = row
        else:
            ts, part, off = row.get("ts"), row.get("kafka_partition"), row.get("kafka_offset")
            item = archive_item(row)
        if ts is not None and not (type(ts) is int and lo <= ts < hi):
            continue
        partition = part if partition is None else partition
        items.append(item)
        offsets.append(off)
    return (partition, items, offsets) if items else None
