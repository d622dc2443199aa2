"""Files and stdin → batches of raw records with their positions.

- JSON lines and Common/Combined Log Format lines (gzip is recognised by its magic bytes, not the name, and
  decompressed); blank lines are not records.
- Parquet files and archives: ``streams.sources.parquet`` (sizes checked in Arrow before conversion).
Positions are 1-based line numbers (row numbers for Parquet), so dead letters and verdicts point at the
exact line.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from streams.core.batch_columns import KnownLines
from streams.core.line_arrays import ArrowLines, split_lines
from streams.core.pipeline import Origin
from streams.sources.limits import Cap, GuardedReader, InputLimits

BATCH_LINES = 20_000
BATCH_BYTES = 16 << 20
"""A batch is yielded at BATCH_LINES records or this many bytes, whichever comes first: 20,000 lines at
the 64 KiB cap would otherwise be 1.3 GB in one batch. 20,000 rather than 5,000: the batch core's cost is
per batch and per distinct value in it (IPs, paths), so larger batches cost less per record — `truesli
process` 1.3–1.5× faster for +80 MB of peak RSS; 50,000 gained nothing more for +150 MB
(docs/benchmarks.md, sixth round). ``late``/``revision`` depend on batch boundaries (docs/design.md §4)."""
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


def _line_lists(f: BinaryIO, cap: int) -> Iterator[KnownLines]:
    """Lines of ``f``, one list per read, line endings (``\n``, trailing ``\r``) removed; a line longer
    than ``cap`` bytes comes as an :class:`OverlongLine` (at most ``cap + 1`` bytes are ever held for it).
    Lists, not lines: the split and the length checks of a whole read run in C. Each list knows whether
    it is plain (no OverlongLine), an upper bound of its longest line and of its total bytes."""
    keep = cap + 1
    pending = b""       # start of the current line (≤ keep bytes when over-long)
    seen = 0            # > 0 while inside an over-long line: its length so far
    while True:
        chunk = f.read(_READ_HINT)
        if not chunk:
            break
        parts = chunk.split(b"\n")
        tail = parts.pop()  # the unfinished line at the end of this read
        out = KnownLines(nbytes=len(pending) + len(chunk))
        rest = parts
        plain = True
        longest = 0
        if parts and (pending or seen):  # the first part ends the line the last read left open
            part = parts[0]
            rest = parts[1:]
            if seen:
                out.append(OverlongLine(pending, seen + len(part)))
                plain, longest = False, len(pending)
            else:
                part = pending + part
                longest = len(part)
                if longest < keep:
                    out.append(part.rstrip(b"\r"))
                else:
                    out.append(OverlongLine(part[:keep], len(part)))
                    plain = False
            pending, seen = b"", 0
        if rest:
            top = max(map(len, rest))
            longest = max(longest, top)
            if top < keep:
                out.extend([p.rstrip(b"\r") for p in rest] if b"\r" in chunk else rest)
            else:
                out.extend(p.rstrip(b"\r") if len(p) < keep else OverlongLine(p[:keep], len(p)) for p in rest)
                plain = False
        if seen:
            seen += len(tail)
        else:
            tail = pending + tail if pending else tail
            if len(tail) >= keep:
                pending, seen = tail[:keep], len(tail)
            else:
                pending = tail
        if out:
            out.plain, out.longest = plain, longest
            yield out
    if seen:
        yield KnownLines([OverlongLine(pending, seen)], plain=False, longest=len(pending), nbytes=len(pending))
    elif pending:
        yield KnownLines([pending.rstrip(b"\r")], longest=len(pending), nbytes=len(pending))


_BLANK_FIRST = (b" ", b"\t", b"\x0b", b"\x0c")


class _Prefixed:
    """``read(n)``: ``prefix`` first (whole), then ``f`` — the list reader's input after the Arrow reader
    handed over (sources/files.py ``iter_line_batches``)."""

    __slots__ = ("_prefix", "_f")

    def __init__(self, prefix: bytes, f: Any) -> None:
        self._prefix = prefix
        self._f = f

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            out, self._prefix = self._prefix, b""
            return out
        return self._f.read(n)


class _ArrowReader:
    """The plain start of an input as :class:`ArrowLines` batches of exactly ``batch_lines`` lines (the
    last may be shorter), each read split by Arrow without the GIL.

    Plain: no CR anywhere, every line non-empty, not starting with whitespace, under ``cap + 1`` bytes
    (so no line is blank or over-long and line numbers are contiguous), every batch under
    ``BATCH_BYTES`` and within ``max_lines``. The list reader makes the same batches of such input. At the
    first read where that does not hold, :meth:`batches` stops before yielding the batch it was making:
    ``rest`` is then the input's bytes from that batch's first line up to what was read, ``line_no``
    the lines yielded before it. ``rest`` None: the input ended plain, every line yielded."""

    __slots__ = ("_f", "_name", "_batch_lines", "_keep", "_max_lines", "rest", "line_no")

    def __init__(self, f: Any, name: str, batch_lines: int, cap: int, max_lines: int) -> None:
        self._f, self._name, self._batch_lines = f, name, batch_lines
        self._keep, self._max_lines = cap + 1, max_lines
        self.rest: bytes | None = None
        self.line_no = 0

    def _plain_line(self, line: bytes) -> bool:
        return 0 < len(line) < self._keep and line[:1] not in _BLANK_FIRST and b"\r" not in line

    def batches(self) -> Iterator[tuple[ArrowLines, Origin]]:
        keep, batch_lines, name = self._keep, self._batch_lines, self._name
        pieces: list[pa.Array] = []  # the lines of the batch being made
        count = 0  # lines in pieces
        bound = 0  # bytes read into the batch being made: an upper bound of its lines' bytes
        carry = b""  # the start of the line the last read left open

        def hand_over(unread: bytes) -> None:
            done = b"\n".join(ArrowLines.of(pieces).items()) + b"\n" if pieces else b""
            self.rest = done + carry + unread

        while True:
            chunk = self._f.read(_READ_HINT)
            if not chunk:
                break
            first = chunk.find(b"\n")
            if first < 0:  # inside one long line
                if len(carry) + len(chunk) >= keep:
                    hand_over(chunk)
                    return
                carry += chunk
                continue
            head = carry + chunk[:first]
            last = chunk.rfind(b"\n")
            lines = None
            if (b"\r" in chunk or not self._plain_line(head) or len(chunk) - last - 1 >= keep
                    or bound + len(carry) + len(chunk) >= BATCH_BYTES
                    or (first < last and (lines := split_lines(memoryview(chunk)[first + 1:last], keep)) is None)):
                hand_over(chunk)
                return
            new = 1 + (len(lines) if lines is not None else 0)
            if self.line_no + count + new > self._max_lines:
                hand_over(chunk)
                return
            bound += len(carry) + len(chunk)
            carry = chunk[last + 1:]
            for arr in (pa.array([head], pa.large_binary()), lines):
                while arr is not None and len(arr):
                    room = batch_lines - count
                    part = arr if len(arr) <= room else arr.slice(0, room)
                    pieces.append(part)
                    count += len(part)
                    arr = arr.slice(len(part)) if len(arr) > len(part) else None
                    if count == batch_lines:
                        yield ArrowLines.of(pieces), Origin(source=name, first=self.line_no + 1)
                        self.line_no += count
                        # What is left of this read starts the next batch: the whole read bounds its bytes.
                        pieces, count, bound = [], 0, len(chunk) + len(head)
        if carry:
            if not self._plain_line(carry) or self.line_no + count + 1 > self._max_lines:
                hand_over(b"")
                return
            pieces.append(pa.array([carry], pa.large_binary()))
            count += 1
        if count:
            yield ArrowLines.of(pieces), Origin(source=name, first=self.line_no + 1)
            self.line_no += count


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


def iter_line_batches(path: str, batch_lines: int = BATCH_LINES, max_line_bytes: int = 65_536,
                      limits: InputLimits = InputLimits(), caps: list[Cap] | None = None,
                      arrow: bool = False) -> Iterator[tuple[Sequence[bytes], Origin]]:
    """Yield (records, origin) with at most ``batch_lines`` records (or ``BATCH_BYTES``) each; line
    endings stripped.

    Lines longer than ``max_line_bytes`` come as :class:`OverlongLine` prefixes (see there). The input
    stops at the ``limits`` (bytes after decompression, lines, compression ratio); each cap hit is
    appended to ``caps``. Batches are :class:`KnownLines`; with ``arrow``, as long as the input is plain
    (below) they are :class:`ArrowLines` (core/line_arrays.py) instead — the same items, origins and caps.

    ``arrow``: the reads are split and measured by Arrow (:class:`_ArrowReader`) while every line is plain —
    no CR, none blank or starting with whitespace, none over the cap — and the batches stay under
    ``BATCH_BYTES`` and the line cap; from the batch where that first fails, the list reader below reads
    the rest of the input (re-reading that batch's bytes), so both make exactly the same batches."""
    name = "<stdin>" if path == "-" else path
    f = _open(path)
    caps = caps if caps is not None else []
    inner = getattr(f, "fileobj", None)  # a GzipFile's compressed stream: its position = bytes consumed
    guarded = GuardedReader(f, name, limits, caps, inner.tell if inner is not None else None)
    try:
        source: Any = guarded
        line_no = 0
        if arrow:
            fast = _ArrowReader(guarded, name, batch_lines, max_line_bytes + 2, limits.max_lines)
            yield from fast.batches()
            if fast.rest is None:
                return
            source, line_no = _Prefixed(fast.rest, guarded), fast.line_no
        yield from _list_batches(source, name, batch_lines, max_line_bytes, limits, caps, line_no)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # a read failing mid-input, either reader's
        raise InputError(f"cannot read {name}: {exc}") from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _list_batches(source: Any, name: str, batch_lines: int, max_line_bytes: int, limits: InputLimits,
                  caps: list[Cap], line_no: int) -> Iterator[tuple[KnownLines, Origin]]:
    """The list reader: :func:`iter_line_batches`' batches of ``source`` whose first line is line
    ``line_no + 1`` of the input."""
    batch = KnownLines()
    numbers: list[int] = []
    contiguous = True
    held = 0  # bytes of the batch's lines, or (``held_exact`` False) an upper bound of them
    held_exact = True
    lists = _line_lists(source, max_line_bytes + 2)  # + "\r\n" room
    cut = False  # lines of the last list left unread by max_input_lines
    while True:
        if line_no >= limits.max_lines:
            if cut or next(lists, None) is not None:
                caps.append(Cap(name, "max_input_lines", f"not read past line {line_no:,}"))
            break
        lines = next(lists, None)  # a read error: InputError, raised by iter_line_batches
        if lines is None:
            break
        if len(lines) > limits.max_lines - line_no:
            lines, cut = KnownLines(lines[:limits.max_lines - line_no], lines.plain, lines.longest,
                                    lines.nbytes), True
        if all(lines) and not any(map(bytes.isspace, lines)):
            # No blank line: whole slices, cut exactly where the per-line rule below would cut.
            batch.plain = batch.plain and lines.plain
            batch.longest = max(batch.longest, lines.longest)
            i = 0
            while i < len(lines):
                seg = lines[i:i + batch_lines - len(batch)]
                if held + lines.nbytes < BATCH_BYTES:
                    # This whole read fits under the byte bound: only the line count can cut.
                    held += lines.nbytes
                    held_exact = False
                else:
                    if not held_exact:
                        held, held_exact = sum(map(len, batch)), True
                    sizes = list(itertools.accumulate(map(len, seg), initial=held))
                    if sizes[-1] >= BATCH_BYTES:
                        seg = seg[:bisect.bisect_left(sizes, BATCH_BYTES, 1)]
                    held = sizes[len(seg)]
                batch.extend(seg)
                numbers.extend(range(line_no + 1, line_no + 1 + len(seg)))
                line_no += len(seg)
                i += len(seg)
                if len(batch) >= batch_lines or (held_exact and held >= BATCH_BYTES):
                    yield batch, _origin(name, numbers, contiguous)
                    batch, numbers, contiguous, held, held_exact = KnownLines(), [], True, 0, True
                    batch.plain, batch.longest = lines.plain, lines.longest
            continue
        for line in lines:
            line_no += 1
            if not line.strip():
                contiguous = False
                continue
            batch.append(line)
            batch.plain = batch.plain and type(line) is bytes
            batch.longest = max(batch.longest, len(line))
            numbers.append(line_no)
            if not held_exact:
                held, held_exact = sum(map(len, batch)) - len(line), True
            held += len(line)
            if len(batch) >= batch_lines or held >= BATCH_BYTES:
                yield batch, _origin(name, numbers, contiguous)
                batch, numbers, contiguous, held, held_exact = KnownLines(), [], True, 0, True
    if batch:
        yield batch, _origin(name, numbers, contiguous)


def _origin(name: str, numbers: list[int], contiguous: bool) -> Origin:
    if contiguous:
        return Origin(source=name, first=numbers[0])
    return Origin(source=name, first=numbers[0], offsets=numbers)


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
