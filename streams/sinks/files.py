"""JSON-lines file sinks: counters, dead letters, verdicts (``add`` collects, ``close`` flushes); and
``write_json`` for one pretty JSON document (summaries, comparisons)."""

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

    def __init__(self, path: str, append: bool = False) -> None:
        import sys

        if path == "-":
            self._f: BinaryIO = sys.stdout.buffer
            self._own = False
        else:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._f = open(path, "ab" if append else "wb")
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


class OutputFiles:
    """A run's optional JSON-lines outputs — counters, dead letters, verdicts — fed with core Outputs.
    ``stamp_ms`` is the clock reading written as ``emitted_at``/``ts`` (the only non-event time)."""

    __slots__ = ("_counters", "_dead", "_verdicts", "_stamp")

    def __init__(self, counters: str | None = None, dead_letters: str | None = None, verdicts: str | None = None,
                 stamp_ms: int = 0) -> None:
        self._counters = JsonLinesSink(counters) if counters else None
        self._dead = JsonLinesSink(dead_letters) if dead_letters else None
        self._verdicts = JsonLinesSink(verdicts) if verdicts else None
        self._stamp = stamp_ms

    def add(self, out) -> None:
        from streams.sinks.serialize import counter_to_dict, dead_letter_to_dict

        if self._counters is not None and out.counters:
            self._counters.add(counter_to_dict(c, self._stamp) for c in out.counters)
        if self._dead is not None and out.dead_letters:
            self._dead.add(dead_letter_to_dict(d, self._stamp) for d in out.dead_letters)
        if self._verdicts is not None and out.verdicts:
            self._verdicts.add(v.to_dict() for v in out.verdicts)

    def close(self) -> None:
        for sink in (self._counters, self._dead, self._verdicts):
            if sink is not None:
                sink.close()


def write_json(path: str, doc: dict) -> None:
    """One pretty-printed JSON document (2-space indent, trailing newline) to ``path`` ('-' = stdout),
    creating its directory; OutputError when it cannot be written."""
    import sys

    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    if path == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
