"""A batch of input lines held as one Arrow array: split, measured, joined and screened without the GIL.

Why: on a file of JSON lines, the read-ahead thread's Python work — a million ``bytes`` objects split out of
the reads, their lengths and blank-line checks, then joined again for Arrow's JSON reader — held the GIL
for about 0.5 s per million lines, time the core's thread waited for (docs/benchmarks.md, seventh round).
Arrow's kernels do the same work in C and release the GIL; the lines become Python ``bytes`` only when
something asks for one (a dead letter's raw text, a row decoded per record, a batch the screen refuses).

Contract of :class:`ArrowLines`: a read-only sequence equal, item for item, to the list of ``bytes`` lines
the list reader (sources/files.py) would have made — every item exactly ``bytes``, none an
``OverlongLine``, none empty or blank. ``longest`` is the exact longest line; ``nbytes`` the sum of the
lines' lengths (separators excluded).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any, overload

import pyarrow as pa
import pyarrow.compute as pc

_NEWLINE = pa.scalar(b"\n", pa.large_binary())
_BLANK_START = r"^[ \t\x0b\x0c]"
"""A line starting with ASCII whitespace other than CR/LF (those never reach a line): it may be blank,
which the list reader drops. Such a line, or an empty one, is not taken here (:func:`split_lines`)."""


def one_value(data: Any) -> pa.Array:
    """A one-element ``large_binary`` array over ``data`` (bytes, memoryview, pa.Buffer), without a copy."""
    buf = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    offsets = pa.py_buffer(struct.pack("<qq", 0, buf.size))
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buf])


def split_lines(region: Any, below: int) -> pa.Array | None:
    """The lines of ``region`` — bytes of whole lines separated by single ``\\n``, no line ending at its
    end, not empty — as a ``large_binary`` array, or None when one of them is empty, may be blank (starts
    with a space, tab, VT or FF) or has ``below`` bytes or more: those the caller reads the list way."""
    lines = pc.split_pattern(one_value(region), "\n").flatten()
    span = pc.min_max(pc.binary_length(lines))
    if span["min"].as_py() == 0 or span["max"].as_py() >= below:
        return None
    if pc.any(pc.match_substring_regex(lines, _BLANK_START)).as_py():
        return None
    return lines


class ArrowLines(Sequence):
    """Lines of one batch as a ``large_binary`` Arrow array (module contract), ``bytes`` on demand."""

    __slots__ = ("lines", "longest", "nbytes", "_items")
    plain = True  # the facts KnownLines carries (sources/files.py builds both)

    def __init__(self, lines: pa.Array, longest: int, nbytes: int) -> None:
        self.lines = lines
        self.longest = longest
        self.nbytes = nbytes
        self._items: list[bytes] | None = None

    @classmethod
    def of(cls, pieces: Sequence[pa.Array]) -> "ArrowLines":
        """One batch from the reader's pieces (each a ``large_binary`` array of lines), measured in C."""
        lines = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        lengths = pc.binary_length(lines)
        return cls(lines, pc.max(lengths).as_py() or 0, pc.sum(lengths).as_py() or 0)

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i):
        if self._items is not None or type(i) is not int:
            return self.items()[i]
        return self.lines[i].as_py()  # one row (a dead letter, a patched row): no list of them all

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.items())

    def items(self) -> list[bytes]:
        """Every line as ``bytes`` (made once, then kept): for a batch decoded per record."""
        if self._items is None:
            self._items = self.lines.to_pylist()
        return self._items

    def joined(self) -> pa.Array:
        """The lines joined by ``\\n`` (no trailing one) as a one-element ``large_binary`` array."""
        lists = pa.LargeListArray.from_arrays(pa.array([0, len(self.lines)], pa.int64()), self.lines)
        return pc.binary_join(lists, _NEWLINE)


def value_buffer(value: pa.Array) -> pa.Buffer:
    """The bytes of a one-element binary array's value (what Arrow's JSON reader reads), without a copy."""
    start, end = struct.unpack("<qq", value.buffers()[1].to_pybytes()[value.offset * 8:value.offset * 8 + 16])
    return value.buffers()[2].slice(start, end - start)
