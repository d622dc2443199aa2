"""JSON-lines file sinks: counters, dead letters, verdicts. ``add`` collects, ``close`` flushes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import orjson


class OutputError(Exception):
    """An output path that cannot be written."""


class JsonLinesSink:
    """Appends one JSON document per line to ``path`` ('-' = stdout)."""

    __slots__ = ("_f", "_own", "written")

    def __init__(self, path: str) -> None:
        import sys

        if path == "-":
            self._f: BinaryIO = sys.stdout.buffer
            self._own = False
        else:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._f = open(path, "wb")
            except OSError as exc:
                raise OutputError(f"cannot write {path}: {exc.strerror}") from None
            self._own = True
        self.written = 0

    def add(self, docs: Iterable[dict]) -> None:
        dumps = orjson.dumps
        buf = b"".join(dumps(d) + b"\n" for d in docs)
        if buf:
            self._f.write(buf)
            self.written += buf.count(b"\n")

    def close(self) -> None:
        if self._own:
            self._f.close()
        else:
            self._f.flush()
