"""Route rules: request → excluded(reason) | journey | unmatched.

Exclusion rules are checked first, in order, then journey rules, in order; the first match wins.
Route decisions are cached per (method, host, path) and user-agent conditions per user-agent string (one
bit mask per UA covering every UA-conditioned rule); both caches are bounded (cleared when full) because
paths can carry IDs and be high-cardinality.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    ua_bit: int = 0
    """This rule's bit in the router's per-user-agent match mask; 0 when the rule has no UA condition."""

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


def _with_ua_bits(exclusions: list[_Exclusion]) -> tuple[_Exclusion, ...]:
    """Give every UA-conditioned rule its own bit, so one cached mask per user agent answers them all."""
    out, bit = [], 1
    for ex in exclusions:
        if ex.has_ua_condition:
            ex = replace(ex, ua_bit=bit)
            bit <<= 1
        out.append(ex)
    return tuple(out)


_NO_JOURNEY = (-1, None, None)


class Router:
    """Classifies requests. ``classify`` returns (journey index or -1, exclusion reason or None, rule)."""

    __slots__ = ("journey_names", "_exclusions", "_ua_exclusions", "_journeys", "_route_cache", "_ua_cache",
                 "_journey_matches", "_journey_regexes", "_exclusion_matches", "_exclusion_regexes")

    def __init__(self, config: Config) -> None:
        self.journey_names = tuple(j.name for j in config.journeys)
        self._exclusions = _with_ua_bits([_compile_exclusion(i, r) for i, r in enumerate(config.exclusions)])
        self._ua_exclusions = tuple(ex for ex in self._exclusions if ex.ua_bit)
        self._journeys = tuple(route_predicate(j.match) for j in config.journeys)
        # The same rules for the batch core (core/route_columns.py), which evaluates them over columns.
        self._journey_matches = tuple(j.match for j in config.journeys)
        self._journey_regexes = tuple(compile_re2(m.path_regex) if m.path_regex else None
                                      for m in self._journey_matches)
        self._exclusion_matches = tuple(r.match for r in config.exclusions)
        self._exclusion_regexes = tuple(compile_re2(m.path_regex) if m.path_regex else None
                                        for m in self._exclusion_matches)
        # (method, host, path) → (exclusion candidates, the answer when none of them applies)
        self._route_cache: dict[tuple[str, str, str],
                                tuple[tuple[_Exclusion, ...], tuple[int, str | None, str | None]]] = {}
        self._ua_cache: dict[str, int] = {}  # user agent → mask of the UA-conditioned rules it matches

    def _route(self, method: str, host: str, path: str
               ) -> tuple[tuple[_Exclusion, ...], tuple[int, str | None, str | None]]:
        candidates: list[_Exclusion] = []
        for ex in self._exclusions:
            if ex.route(method, host, path):
                candidates.append(ex)
                if not ex.ua_bit:
                    break  # an unconditional route exclusion ends the search
        answer = _NO_JOURNEY
        for i, pred in enumerate(self._journeys):
            if pred(method, host, path):
                answer = (i, None, f"journeys[{i}]")
                break
        hit = (tuple(candidates), answer)
        if len(path) <= _CACHEABLE_PATH:
            if len(self._route_cache) >= _CACHE_LIMIT:
                self._route_cache.clear()
            self._route_cache[(method, host, path)] = hit
        return hit

    def _ua_mask(self, ua: str) -> int:
        """The bits of the UA-conditioned rules ``ua`` matches (all of them, whatever the route), cached."""
        mask = 0
        for ex in self._ua_exclusions:
            if ex.ua_matches(ua):
                mask |= ex.ua_bit
        if len(self._ua_cache) >= _CACHE_LIMIT:
            self._ua_cache.clear()
        self._ua_cache[ua] = mask
        return mask

    def ua_mask(self, ua: str) -> int:
        """The bits of the UA-conditioned exclusions ``ua`` matches (cached)."""
        mask = self._ua_cache.get(ua, -1)
        return mask if mask >= 0 else self._ua_mask(ua)

    def classify(self, method: str, host: str, path: str, ua: str) -> tuple[int, str | None, str | None]:
        hit = self._route_cache.get((method, host, path))
        if hit is None:
            hit = self._route(method, host, path)
        candidates, answer = hit
        mask = -1  # not looked up yet: most candidates are the one UA rule, so look it up lazily
        for ex in candidates:
            bit = ex.ua_bit
            if bit:
                if mask < 0:
                    mask = self._ua_cache.get(ua, -1)
                    if mask < 0:
                        mask = self._ua_mask(ua)
                if not mask & bit:
                    continue
            return -1, ex.reason, ex.rule
        return answer
