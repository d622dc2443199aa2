"""Route rules: request → excluded(reason) | journey | unmatched.

Exclusion rules are checked first, in order, then journey rules, in order; the first match wins.
Route decisions are cached per (method, host, path) and user-agent conditions per user-agent string; both
caches are bounded (cleared when full) because paths can carry IDs and be high-cardinality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from streams.config import Config, ExclusionRule, RouteMatch
from streams.core.regex import compile_re2

_CACHE_LIMIT = 50_000  # routes carry IDs: bound the cache, not the traffic
_CACHEABLE_PATH = 256  # longer paths are classified every time: 50,000 cached 2 KB paths would be 100+ MB


def route_predicate(match: RouteMatch) -> Callable[[str, str, str], bool]:
    """A predicate over (method, host, path) for one RouteMatch; the empty match accepts everything."""
    methods = frozenset(match.methods)
    exact_hosts = frozenset(h for h in match.hosts if not h.startswith("*."))
    host_suffixes = tuple(h[1:] for h in match.hosts if h.startswith("*."))
    paths = frozenset(match.paths)
    prefixes = tuple(match.path_prefixes)
    regex = compile_re2(match.path_regex) if match.path_regex else None
    any_path = not (paths or prefixes or regex)

    def predicate(method: str, host: str, path: str) -> bool:
        if methods and method not in methods:
            return False
        if (exact_hosts or host_suffixes) and host not in exact_hosts and not (
                host_suffixes and host.endswith(host_suffixes)):
            return False
        if any_path:
            return True
        return path in paths or (bool(prefixes) and path.startswith(prefixes)) or (
            regex is not None and regex.search(path) is not None)

    return predicate


@dataclass(frozen=True, slots=True)
class _Exclusion:
    reason: str
    rule: str
    route: Callable[[str, str, str], bool]
    ua_needles: tuple[str, ...]
    ua_regex: Any

    @property
    def has_ua_condition(self) -> bool:
        return bool(self.ua_needles) or self.ua_regex is not None

    def ua_matches(self, ua: str) -> bool:
        low = ua.lower()
        if any(n in low for n in self.ua_needles):
            return True
        return self.ua_regex is not None and self.ua_regex.search(ua) is not None


def _compile_exclusion(index: int, rule: ExclusionRule) -> _Exclusion:
    return _Exclusion(
        reason=rule.reason,
        rule=f"exclusions[{index}]",
        route=route_predicate(rule.match),
        ua_needles=tuple(n.lower() for n in rule.user_agents),
        ua_regex=compile_re2(rule.user_agent_regex) if rule.user_agent_regex else None,
    )


class Router:
    """Classifies requests. ``classify`` returns (journey index or -1, exclusion reason or None, rule)."""

    __slots__ = ("journey_names", "_exclusions", "_journeys", "_route_cache", "_ua_cache")

    def __init__(self, config: Config) -> None:
        self.journey_names = tuple(j.name for j in config.journeys)
        self._exclusions = tuple(_compile_exclusion(i, r) for i, r in enumerate(config.exclusions))
        self._journeys = tuple(route_predicate(j.match) for j in config.journeys)
        self._route_cache: dict[tuple[str, str, str], tuple[tuple[_Exclusion, ...], int]] = {}
        self._ua_cache: dict[tuple[int, str], bool] = {}

    def _route(self, method: str, host: str, path: str) -> tuple[tuple[_Exclusion, ...], int]:
        key = (method, host, path)
        hit = self._route_cache.get(key)
        if hit is not None:
            return hit
        candidates: list[_Exclusion] = []
        for ex in self._exclusions:
            if ex.route(method, host, path):
                candidates.append(ex)
                if not ex.has_ua_condition:
                    break  # an unconditional route exclusion ends the search
        journey = -1
        for i, pred in enumerate(self._journeys):
            if pred(method, host, path):
                journey = i
                break
        hit = (tuple(candidates), journey)
        if len(path) <= _CACHEABLE_PATH:
            if len(self._route_cache) >= _CACHE_LIMIT:
                self._route_cache.clear()
            self._route_cache[key] = hit
        return hit

    def classify(self, method: str, host: str, path: str, ua: str) -> tuple[int, str | None, str | None]:
        candidates, journey = self._route(method, host, path)
        for ex in candidates:
            if not ex.has_ua_condition:
                return -1, ex.reason, ex.rule
            key = (id(ex), ua)
            hit = self._ua_cache.get(key)
            if hit is None:
                hit = ex.ua_matches(ua)
                if len(self._ua_cache) >= _CACHE_LIMIT:
                    self._ua_cache.clear()
                self._ua_cache[key] = hit
            if hit:
                return -1, ex.reason, ex.rule
        if journey < 0:
            return -1, None, None
        return journey, None, f"journeys[{journey}]"
