"""Credential stuffing: an IP with many failed logins (or login attempts) per window on login routes.

The IP is then dropped on every route for ``cooldown_s``: an attacker's 200 OK on a stolen password must
not count as a good real-user login. Counting uses the same two-bucket sliding window as rate limiting.
"""

from __future__ import annotations

from streams.config import CredentialStuffingFilter, expand_statuses
from streams.core.filters.ipstate import IpExtra, IpState, estimate, slide
from streams.core.journeys import route_predicate
from streams.core.regex import compile_re2
from streams.core.model import IpFlag, Request

_CACHE_LIMIT = 50_000


class CredentialStuffingCheck:
    reason = "credential_stuffing"
    __slots__ = ("_routes", "route_matches", "route_regexes", "_failures", "_max_fail", "_max_att", "_window_ms", "_cooldown_ms",
                 "_route_cache", "_rule_fail", "_rule_att")

    def __init__(self, cfg: CredentialStuffingFilter) -> None:
        self._routes = tuple(route_predicate(r) for r in cfg.routes)
        self.route_matches = tuple(cfg.routes)  # the same routes for the batch core (core/route_columns.py)
        self.route_regexes = tuple(compile_re2(r.path_regex) if r.path_regex else None for r in cfg.routes)
        self._failures = expand_statuses(cfg.failure_statuses)
        self._max_fail = cfg.max_failures
        self._max_att = cfg.max_attempts
        self._window_ms = cfg.window_s * 1000
        self._cooldown_ms = cfg.cooldown_s * 1000
        self._route_cache: dict[tuple[str, str, str], bool] = {}
        self._rule_fail = f"login_failures>{cfg.max_failures}/{cfg.window_s}s"
        self._rule_att = f"login_attempts>{cfg.max_attempts}/{cfg.window_s}s"

    def _is_login(self, req: Request) -> bool:
        return self.is_login_route(req.method, req.host, req.path)

    def is_login_route(self, method: str, host: str, path: str) -> bool:
        """Whether (method, host, path) is one of the configured login routes (cached)."""
        key = (method, host, path)
        hit = self._route_cache.get(key)
        if hit is None:
            hit = any(r(method, host, path) for r in self._routes)
            if len(self._route_cache) >= _CACHE_LIMIT:
                self._route_cache.clear()
            self._route_cache[key] = hit
        return hit

    def count(self, x: IpExtra, ts: int, status: int) -> tuple[tuple[int, int, int, int, int], str | None]:
        """One more login attempt at ``ts`` on evidence ``x``: the new (bucket, attempts, previous attempts,
        failures, previous failures) and the rule they pass (None: within both limits). Pure — the caller
        stores the counts (the batch core's steps ask it too, core/filters/ip_batch.py)."""
        w = self._window_ms
        idx, att, att_prev = slide(x.cs_idx, x.cs_att, x.cs_att_prev, ts, w)
        fail, fail_prev = x.cs_fail, x.cs_fail_prev
        if idx != x.cs_idx:  # the attempts counter moved buckets: move failures alongside
            fail, fail_prev = (0, fail) if idx == x.cs_idx + 1 else (0, 0)
        if status in self._failures:
            fail += 1
        rule = None
        if estimate(idx, fail, fail_prev, ts, w) > self._max_fail:
            rule = self._rule_fail
        elif estimate(idx, att, att_prev, ts, w) > self._max_att:
            rule = self._rule_att
        return (idx, att, att_prev, fail, fail_prev), rule

    def check(self, req: Request, st: IpState, flags: list[IpFlag]) -> str | None:
        ts = req.ts_ms
        x = st.x
        if x is not None and ts < x.cs_until:
            # A failed login during the cooldown is more of the same attack: extend it.
            if req.status in self._failures and self._is_login(req):
                x.cs_until = ts + self._cooldown_ms
            return x.cs_rule
        if not self._is_login(req):
            return None
        x = st.extra()
        counts, rule = self.count(x, ts, req.status)
        x.cs_idx, x.cs_att, x.cs_att_prev, x.cs_fail, x.cs_fail_prev = counts
        if rule is None:
            return None
        x.cs_until = ts + self._cooldown_ms
        x.cs_rule = rule
        flags.append(IpFlag(ts, req.client_ip, self.reason, rule, x.cs_until))
        return rule
