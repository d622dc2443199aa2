"""Change events (``change_event`` JSON lines: deploys, config changes, freezes…) read from files.

The one reader of change-event files, for every command that takes them. Lines come from
``streams.sources.files.iter_line_batches`` (``.gz`` and ``-`` = stdin work, blank lines are not events,
positions are 1-based line numbers) and each goes through ``streams.core.detect.parse_change``, the
detectors' parser, so one file is accepted or rejected by the same rules everywhere. What differs is what a
bad line does, and the caller says which it wants:

* ``strict=False`` (``process``, ``demo``, ``replay``): the line becomes a ``bad_change_event`` dead letter
  with its reason and the run goes on — bad input never stops a run and is never silently dropped;
* ``strict=True`` (``report``): the first bad line raises :class:`InputError` naming ``file:line`` and the
  reason — a review report that silently skipped a deploy would draw a wrong picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from streams.core.detect import ChangeEvent, parse_change
from streams.core.model import DeadLetter
from streams.sources.files import InputError, iter_line_batches

CHANGE_DEAD_LETTER = "bad_change_event"


@dataclass(slots=True)
class ChangeInput:
    """Change events in file order (files in the order given), and the lines that were not change events
    (dead letters; always empty after a strict read)."""

    events: list[ChangeEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def in_time_order(self) -> list[ChangeEvent]:
        """The events sorted by ``ts_ms`` (stable: equal times keep file order)."""
        return sorted(self.events, key=lambda e: e.ts_ms)


def read_changes(paths: Iterable[str], *, strict: bool) -> ChangeInput:
    """Read every file of ``paths``. InputError for a file that cannot be read (either mode) and, when
    ``strict``, for the first line that is not a change event."""
    out = ChangeInput()
    for path in paths:
        for batch, origin in iter_line_batches(path):
            for i, line in enumerate(batch):
                ev = parse_change(line)
                if not isinstance(ev, str):
                    out.events.append(ev)
                elif strict:
                    raise InputError(f"{origin.source}:{origin.position(i)}: {_explain(line, ev)}")
                else:
                    out.dead_letters.append(DeadLetter(CHANGE_DEAD_LETTER, ev, bytes(line[:4096]).decode(
                        "utf-8", "backslashreplace"), origin.source, None, origin.position(i), None))
    return out


def _explain(line: bytes, reason: str) -> str:
    """A strict read stops at the line, so its message can afford the JSON parser's detail (where the
    line broke); a dead letter keeps parse_change's short, countable reason."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not JSON ({exc}); changes files hold one JSON object per line"
    if not isinstance(doc, dict):
        return f"expected a JSON object per line, got {type(doc).__name__}"
    return reason
