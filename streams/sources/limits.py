"""Input caps (``limits:``) and the record of every cap a run hit.

Readers stop an input early — at ``max_input_bytes`` decompressed, ``max_input_lines`` lines/rows, or a
compression ratio above ``max_compression_ratio`` — and append a :class:`Cap` to the run's list; the
summary prints each one. Stopping is at a line boundary where there is one, so no half record is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

RATIO_MIN_BYTES = 1 << 20
"""A text input's ratio is judged once it has produced this much (small files may compress very well)."""


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_bytes: int = 64 << 30
    max_lines: int = 500_000_000
    max_ratio: float = 100.0

    @classmethod
    def of(cls, limits) -> "InputLimits":
        """From a ``LimitsConfig``."""
        return cls(limits.max_input_bytes, limits.max_input_lines, limits.max_compression_ratio)


@dataclass(frozen=True, slots=True)
class Cap:
    """One limit that stopped or thinned a run's input or output. ``limit`` is the config key."""

    source: str
    limit: str
    detail: str

    def to_dict(self) -> dict:
        return {"source": self.source, "limit": self.limit, "detail": self.detail}

    def line(self) -> str:
        return f"{self.source}: {self.detail} (limits.{self.limit})"


class GuardedReader:
    """``read(n)`` of a (possibly decompressing) binary stream, cut off at the byte cap or once the
    decompressed/compressed ratio exceeds the cap. ``compressed`` gives the compressed bytes consumed so
    far (None: not compressed). After a cut, ``read`` returns b"" and the Cap is in ``caps``."""

    __slots__ = ("_f", "_name", "_limits", "_caps", "_compressed", "produced", "stopped")

    def __init__(self, f: BinaryIO, name: str, limits: InputLimits, caps: list[Cap],
                 compressed: Callable[[], int] | None = None) -> None:
        self._f, self._name, self._limits, self._caps = f, name, limits, caps
        self._compressed = compressed
        self.produced = 0
        self.stopped = False

    def read(self, n: int = -1) -> bytes:
        if self.stopped:
            return b""
        chunk = self._f.read(n)
        room = self._limits.max_bytes - self.produced
        if len(chunk) > room:
            chunk = _cut(chunk, room)
            self._stop("max_input_bytes", f"not read past {self.produced + len(chunk):,} bytes")
        self.produced += len(chunk)
        if self._compressed is not None and not self.stopped and self.produced >= RATIO_MIN_BYTES:
            packed = max(1, self._compressed())
            if self.produced > self._limits.max_ratio * packed:
                self._stop("max_compression_ratio",
                           f"not read past {self.produced:,} bytes: {packed:,} compressed bytes expanded "
                           f"{self.produced / packed:,.0f}× (more than {self._limits.max_ratio:g}×)")
        return chunk

    def _stop(self, limit: str, detail: str) -> None:
        self.stopped = True
        self._caps.append(Cap(self._name, limit, detail))


def _cut(chunk: bytes, room: int) -> bytes:
    """At most ``room`` bytes of ``chunk``, ending after its last newline if there is one."""
    end = chunk.rfind(b"\n", 0, room)
    return chunk[: end + 1] if end >= 0 else chunk[:room]
