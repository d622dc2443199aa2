"""Change events (deploy, config, upstream, freeze, unfreeze) — the ``change_event`` contract — and the
per-service log the detectors query."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass

import orjson

from streams.core.timeparse import format_rfc3339, parse_message_ts

KINDS = ("deploy", "config", "upstream", "freeze", "unfreeze")
EXPLAINING_KINDS = frozenset(("deploy", "config", "upstream"))
"""Kinds that can explain a burn spike (a freeze cannot)."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    ts_ms: int
    service: str
    kind: str
    id: str
    description: str = ""

    def to_dict(self) -> dict:
        doc = {"ts": format_rfc3339(self.ts_ms), "service": self.service, "kind": self.kind, "id": self.id}
        if self.description:
            doc["description"] = self.description
        return doc


def json_object(item: bytes | str | dict) -> dict | None:
    """``item`` as a dict (parsed when it is JSON text), or None when it is not a JSON object. Never raises;
    shared by the change-event and user-report parsers."""
    if isinstance(item, dict):
        return item
    try:
        doc = orjson.loads(item)
    except (orjson.JSONDecodeError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def parse_change(item: bytes | str | dict) -> ChangeEvent | str:
    """A change event, or the reason it is not one (never raises)."""
    item = json_object(item)
    if item is None:
        return "not a JSON object"
    ts, service, kind, cid = item.get("ts"), item.get("service"), item.get("kind"), item.get("id")
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not isinstance(service, str) or not service:
        return "service must be a non-empty string"
    if not isinstance(cid, str) or not cid:
        return "id must be a non-empty string"
    ts_ms = parse_message_ts(ts)
    if isinstance(ts_ms, str):
        return ts_ms
    desc = item.get("description")
    return ChangeEvent(ts_ms, service, kind, cid, desc[:500] if isinstance(desc, str) else "")


class ChangeLog:
    """Change events by service, ordered by time; a replayed event (same service and id) is kept once —
    the same id on two services (a monorepo commit deployed twice) is two changes."""

    __slots__ = ("_by_service", "_ids")

    def __init__(self) -> None:
        self._by_service: dict[str, list[tuple[int, str, ChangeEvent]]] = {}
        self._ids: set[tuple[str, str]] = set()

    def add(self, ev: ChangeEvent) -> bool:
        if (ev.service, ev.id) in self._ids:
            return False
        self._ids.add((ev.service, ev.id))
        insort(self._by_service.setdefault(ev.service, []), (ev.ts_ms, ev.id, ev))
        return True

    def __len__(self) -> int:
        return len(self._ids)

    def between(self, service: str, start_ms: int, end_ms: int, kinds: frozenset[str] = EXPLAINING_KINDS
                ) -> list[ChangeEvent]:
        """Events of ``service`` with start ≤ ts ≤ end of the given kinds, in time order."""
        evs = self._by_service.get(service, [])
        lo = bisect_left(evs, (start_ms,))
        hi = bisect_right(evs, (end_ms, "\U0010ffff"))
        return [e for _, _, e in evs[lo:hi] if e.kind in kinds]

    def last_freeze(self, service: str, at_ms: int) -> tuple[int | None, bool]:
        """(time of the last freeze at or before ``at_ms``, whether the service is frozen at ``at_ms``)."""
        evs = self._by_service.get(service, [])
        i = bisect_right(evs, (at_ms, "\U0010ffff")) - 1
        frozen: bool | None = None
        # Walk back over deploys/config changes to the newest freeze (and unfreeze): O(changes since it).
        while i >= 0:
            ts, _, e = evs[i]
            if e.kind == "unfreeze" and frozen is None:
                frozen = False
            elif e.kind == "freeze":
                return ts, frozen is None
            i -= 1
        return None, False
