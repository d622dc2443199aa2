"""Synthetic probes (uptime checkers, synthetic monitoring): real traffic shapes, not real users."""

from __future__ import annotations

from streams.config import SyntheticFilter
from streams.core.filters.ip_lists import CidrSet
from streams.core.model import Request

_CACHE_LIMIT = 100_000


class SyntheticCheck:
    reason = "synthetic"
    __slots__ = ("_flag", "_needles", "_ips", "_cache")

    def __init__(self, cfg: SyntheticFilter) -> None:
        self._flag = cfg.honor_flag
        self._needles = tuple((n.lower(), n) for n in cfg.user_agents)
        self._ips = CidrSet(cfg.ips) if cfg.ips else None
        self._cache: dict[str, str | None] = {}

    def ua_rule(self, ua: str) -> str | None:
        """The rule that makes ``ua`` a synthetic probe's user agent, or None. Cached per UA."""
        rule = self._cache.get(ua, 0)
        if rule == 0:
            low = ua.lower()
            rule = next((f"user_agent:{name}" for needle, name in self._needles if needle in low), None)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[ua] = rule
        return rule

    @property
    def ua_only(self) -> bool:
        """True when, past the synthetic flag, the verdict depends on the user agent alone (no IP list)."""
        return self._ips is None

    def check(self, req: Request) -> str | None:
        if self._flag and req.synthetic:
            return "flag"
        rule = self.ua_rule(req.user_agent)
        if rule is not None:
            return rule
        if self._ips is not None:
            net = self._ips.lookup(req.client_ip)
            if net is not None:
                return f"ip:{net}"
        return None
