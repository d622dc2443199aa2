"""The ``user_report`` contract (schemas/user_report.schema.json): evidence of user pain from outside the
request log — support tickets, complaints, RUM error counts, status-page posts — and its parser.

A report names its journey directly, or a ``service`` and ``route`` that the config's journey rules map to
one (the first journey of that service whose match accepts the route, the same order requests are
routed in). ``count`` is how many reports the record stands for (a RUM exporter sends one record per
minute with the count of the errors it saw). Times are event-time epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.config import Config
from streams.core.detect.changes import json_object
from streams.core.journeys import route_predicate
from streams.core.timeparse import format_rfc3339, parse_message_ts

KINDS = ("support_ticket", "complaint", "rum_error", "status_page", "other")
MAX_COUNT = 1_000_000
"""One record stands for at most this many reports: a larger count is a unit mistake, not pain."""


@dataclass(frozen=True, slots=True)
class UserReport:
    ts_ms: int
    journey: str
    kind: str
    count: int = 1
    id: str = ""
    source: str = ""

    def to_dict(self) -> dict:
        doc: dict = {"ts": format_rfc3339(self.ts_ms), "journey": self.journey, "kind": self.kind,
                     "count": self.count}
        if self.id:
            doc["id"] = self.id
        if self.source:
            doc["source"] = self.source
        return doc


class ReportMapper:
    """Maps ``service`` + ``route`` to a journey with the config's journey rules. Owned by one reader."""

    __slots__ = ("journeys", "_by_service")

    def __init__(self, config: Config) -> None:
        self.journeys = frozenset(j.name for j in config.journeys)
        self._by_service: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...], object]]] = {}
        for j in config.journeys:
            self._by_service.setdefault(j.service or j.name, []).append(
                (j.name, tuple(j.match.methods) or ("GET",), tuple(j.match.hosts), route_predicate(j.match)))

    def journey_of(self, service: str, route: str, host: str | None) -> str | None:
        """The journey of ``service`` whose match accepts ``route`` ("/path" or "METHOD /path"), or None."""
        method, _, path = route.strip().partition(" ")
        if not path:
            method, path = "", method
        path = path.strip().split("?", 1)[0]
        for name, methods, hosts, pred in self._by_service.get(service, []):
            h = host if host is not None else (hosts[0].lstrip("*.") if hosts else "")
            if any(pred(m, h, path) for m in ((method.upper(),) if method else methods)):
                return name
        return None


def parse_user_report(item: bytes | str | dict, mapper: ReportMapper) -> UserReport | str:
    """A user report, or the reason it is not one (never raises)."""
    item = json_object(item)
    if item is None:
        return "not a JSON object"
    kind, count = item.get("kind"), item.get("count", 1)
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        return f"count must be a whole number from 1 to {MAX_COUNT:,}"
    ts = item.get("ts")
    ts_ms = parse_message_ts(ts)
    if isinstance(ts_ms, str):
        return ts_ms
    journey = item.get("journey")
    if journey is not None:
        if journey not in mapper.journeys:
            return "journey is not a journey of the config"
    else:
        service, route, host = item.get("service"), item.get("route"), item.get("host")
        if not isinstance(service, str) or not service or not isinstance(route, str) or not route:
            return "journey, or service and route, are required"
        if host is not None and not isinstance(host, str):
            return "host must be a string"
        journey = mapper.journey_of(service, route, host)
        if journey is None:
            return "service and route match no journey of the config"
    rid, source = item.get("id", ""), item.get("source", "")
    if not isinstance(rid, str) or not isinstance(source, str):
        return "id and source must be strings"
    return UserReport(ts_ms, journey, kind, count, rid[:200], source[:200])
