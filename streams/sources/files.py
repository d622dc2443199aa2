"""Files and stdin → batches of raw records with their positions.

- JSON lines and Common/Combined Log Format lines (gzip is recognised by its magic bytes, not the name, and
  decompressed); blank lines are not records.
- Parquet archives (the Arrow schema of ``streams.sources.archive_schema``), read by record batch.
Positions are 1-based line numbers (row numbers for Parquet), so dead letters and verdicts point at the
exact line.
"""

from __future__ import annotations

import gzip
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from streams.core.pipeline import Origin

BATCH_LINES = 5_000
_READ_HINT = 1 << 20


class OverlongLine(bytes):
    """The first ``cap + 1`` bytes of a line longer than the record cap; ``size`` is its full length
    (line ending excluded).

    The reader never holds a whole over-long line: a hostile gigabyte without a newline costs the cap in
    memory, not a gigabyte. The decoder dead-letters it as ``oversized``, quoting ``size``.
    """

    size: int

    def __new__(cls, head: bytes, size: int) -> "OverlongLine":
        obj = super().__new__(cls, head)
        obj.size = size
        return obj


def _bounded_lines(f: BinaryIO, cap: int) -> Iterator[bytes]:
    """Lines of ``f`` with their line ending kept; a line longer than ``cap`` bytes comes as an
    :class:`OverlongLine` (at most ``cap + 1`` bytes are ever held for it)."""
    keep = cap + 1
    pending = b""       # start of the current line (≤ keep bytes when over-long)
    seen = 0            # > 0 while inside an over-long line: its length so far
    while True:
        chunk = f.read(_READ_HINT)
        if not chunk:
            break
        parts = chunk.split(b"\n")
        last = len(parts) - 1
        for i, part in enumerate(parts):
            if seen:
                seen += len(part)
                if i < last:
                    yield OverlongLine(pending, seen)
                    pending, seen = b"", 0
                continue
            if pending:
                part = pending + part
            if i < last:
                pending = b""
                yield part + b"\n" if len(part) < keep else OverlongLine(part[:keep], len(part))
            elif len(part) >= keep:
                pending, seen = part[:keep], len(part)
            else:
                pending = part
    if seen:
        yield OverlongLine(pending, seen)
    elif pending:
        yield pending


class InputError(Exception):
    """An input that cannot be read at all (missing file, permission, not Parquet…)."""


GZIP_MAGIC = b"\x1f\x8b"
# Other compressions we do not read: named, so the fix is one line instead of a file of invalid_utf8.
_OTHER_MAGIC = ((b"\x28\xb5\x2f\xfd", "zstd", "zstdcat"), (b"BZh", "bzip2", "bzcat"),
                (b"\xfd7zXZ\x00", "xz", "xzcat"))


def _is_gzip(f: BinaryIO, name: str) -> bool:
    """Whether ``f``'s first bytes (peeked, not consumed) are gzip's magic — whatever the file is called
    (a rotated ``access.log.1`` is often gzip). Other compressions are an InputError naming them."""
    head = f.peek(6)[:6] if hasattr(f, "peek") else b""
    if head[:2] == GZIP_MAGIC:
        return True
    for magic, kind, tool in _OTHER_MAGIC:
        if head.startswith(magic):
            raise InputError(f"{name} is {kind}-compressed, which truesli does not read: "
                             f"`{tool} {name if name != '<stdin>' else 'FILE'} | truesli process -`")
    return False


def _open(path: str) -> BinaryIO:
    if path == "-":
        stdin = sys.stdin.buffer
        return gzip.GzipFile(fileobj=stdin, mode="rb") if _is_gzip(stdin, "<stdin>") else stdin  # type: ignore[return-value]
    p = Path(path)
    try:
        f = p.open("rb")
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input is a directory, not a file: {path} (use --format parquet for archives)") from None
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror}") from None
    try:
        gz = _is_gzip(f, path)
    except BaseException:
        f.close()
        raise
    if not gz:
        return f
    f.close()
    return gzip.open(p, "rb")  # type: ignore[return-value]


def iter_line_batches(path: str, batch_lines: int = BATCH_LINES,
                      max_line_bytes: int = 65_536) -> Iterator[tuple[list[bytes], Origin]]:
    """Yield (records, origin) with at most ``batch_lines`` records each; line endings stripped.

    Lines longer than ``max_line_bytes`` come as :class:`OverlongLine` prefixes (see there)."""
    name = "<stdin>" if path == "-" else path
    f = _open(path)
    line_no = 0
    batch: list[bytes] = []
    numbers: list[int] = []
    contiguous = True
    try:
        lines = _bounded_lines(f, max_line_bytes + 2)  # + room for "\r\n": the decoder applies the cap
        while True:
            try:
                chunk = list(itertools.islice(lines, batch_lines))
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise InputError(f"cannot read {name}: {exc}") from None
            if not chunk:
                break
            for raw in chunk:
                line_no += 1
                line = raw if type(raw) is OverlongLine else raw.rstrip(b"\r\n")
                if not line.strip():
                    contiguous = False
                    continue
                batch.append(line)
                numbers.append(line_no)
                if len(batch) >= batch_lines:
                    yield batch, _origin(name, numbers, contiguous)
                    batch, numbers, contiguous = [], [], True
        if batch:
            yield batch, _origin(name, numbers, contiguous)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _origin(name: str, numbers: list[int], contiguous: bool) -> Origin:
    if contiguous:
        return Origin(source=name, first=numbers[0])
    return Origin(source=name, first=numbers[0], offsets=numbers)


def iter_parquet_batches(path: str, batch_rows: int = BATCH_LINES) -> Iterator[tuple[list[dict], Origin]]:
    """Rows of a Parquet file (or every ``*.parquet`` under a directory, sorted) as dicts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise InputError(f"no .parquet files under {path}")
    for file in files:
        try:
            pf = pq.ParquetFile(file)
        except FileNotFoundError:
            raise InputError(f"input file not found: {file}") from None
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"{file} is not a readable Parquet file: {exc}") from None
        row = 1
        for rb in pf.iter_batches(batch_size=batch_rows):
            cols = _columns(rb)
            rows = [dict(zip(cols, values)) for values in zip(*cols.values())]
            yield rows, Origin(source=str(file), first=row)
            row += len(rows)


def _columns(rb) -> dict[str, list]:
    """A record batch as Python lists per column; timestamps as epoch ms, so the decoder sees the same
    values as from JSON."""
    import pyarrow as pa

    return {name: (col.cast(pa.int64()) if pa.types.is_timestamp(col.type) else col).to_pylist()
            for name, col in zip(rb.schema.names, rb.columns)}


def sniff_format(path: str) -> str:
    """'parquet' for Parquet files/directories, else 'lines' (JSON vs CLF is decided per line)."""
    if path == "-":
        return "lines"
    p = Path(path)
    if p.is_dir() or p.suffix == ".parquet":
        return "parquet"
    try:
        with p.open("rb") as f:
            if f.read(4) == b"PAR1":
                return "parquet"
    except OSError:
        pass
    return "lines"


ARCHIVE_COLUMNS = ("raw", "dead_letter_reason", "kafka_partition", "kafka_offset")
_DECODED_FIELDS = ("ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent",
                   "rate_limited", "synthetic", "forwarded_for")
"""The request fields the decoder reads (the archive also has columns it ignores)."""


def archive_files(paths: list[str]) -> list[Path] | None:
    """The ``truesli archive`` files under ``paths`` in replay order — by input partition, then offset —
    or None when they are plain request-log Parquet files (no partition/offset columns)."""
    import pyarrow.parquet as pq

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


def iter_archive_batches(files: list[Path], batch_rows: int = BATCH_LINES, *, from_ms: int | None = None,
                         to_ms: int | None = None):
    """(partition, records, Origin) in offset order: raw bytes for records that did not decode when
    archived, request-field dicts for the rest — the same inputs the live worker saw. With a time range,
    only rows whose ``ts`` (event time; message time for undecodable rows) is in [from, to)."""
    import pyarrow.parquet as pq

    lo = from_ms if from_ms is not None else -(1 << 62)
    hi = to_ms if to_ms is not None else 1 << 62
    wanted = list(_DECODED_FIELDS) + list(ARCHIVE_COLUMNS)
    for file in files:
        pf = pq.ParquetFile(file)
        columns = [c for c in wanted if c in pf.schema_arrow.names]
        fields = [c for c in columns if c in _DECODED_FIELDS]
        for rb in pf.iter_batches(batch_size=batch_rows, columns=columns):
            # Column-wise conversion, then one small dict per row: several times faster than
            # Table.to_pylist() over every archive column.
            data = _columns(rb)
            keep = [i for i, t in enumerate(data["ts"]) if t is None or lo <= t < hi]
            if not keep:
                continue
            raws, parts, offs = data["raw"], data["kafka_partition"], data["kafka_offset"]
            values = [data[f] for f in fields]
            items = [raws[i] if raws[i] is not None else {f: v[i] for f, v in zip(fields, values)} for i in keep]
            partition = parts[keep[0]]  # one partition per archive file
            yield partition, items, Origin(source=str(file), partition=partition, offsets=[offs[i] for i in keep])
