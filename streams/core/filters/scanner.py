"""Scanners: scanner user agents, probe paths, or an IP producing many distinct 404s.

Scanner user agents come from the traffic classifier's scanner layer (attack tools, word-bounded;
typo-squatted browser tokens; exploit payloads) — :mod:`streams.core.filters.traffic`. Probe paths come
from :mod:`streams.core.filters.probes` (any depth, normalised, site profile). An empty or ``-`` user agent
on a request answered 404 is a probe too: no browser sends an empty UA, and the 404 says it was guessing.

A scanner user agent, a probe path or the 404 threshold flags the IP for ``cooldown_s`` (event time): the rest of a scan is
dropped too, not only the requests that gave it away. Further 404s or probes during the cooldown extend
it, so a slow scanner does not get a fresh allowance of 404s every cooldown period.
"""

from __future__ import annotations

from streams.config import ScannerFilter
from streams.core.filters.ipstate import IpState
from streams.core.filters.probes import ProbeMatcher
from streams.core.model import IpFlag, Request

_CACHE_LIMIT = 100_000


class ScannerCheck:
    reason = "scanner"
    __slots__ = ("_scanner_ua", "_probes", "_threshold", "_window_ms", "_cooldown_ms", "_ua_cache", "_rule_404",
                 "_empty_404")

    def __init__(self, cfg: ScannerFilter, scanner_ua=None, serves: dict | None = None) -> None:
        self._scanner_ua = scanner_ua  # str -> rule | None (the classifier's scanner layer)
        self._probes = ProbeMatcher(cfg.probe_paths, builtin=cfg.builtin_probes, serves=serves)
        self._empty_404 = cfg.empty_user_agent_on_404
        self._threshold = cfg.distinct_404_threshold
        self._window_ms = cfg.window_s * 1000
        self._cooldown_ms = cfg.cooldown_s * 1000
        self._ua_cache: dict[str, str | None] = {}
        self._rule_404 = f"distinct_404>{cfg.distinct_404_threshold}/{cfg.window_s}s"

    def _ua_rule(self, ua: str) -> str | None:
        rule = self._ua_cache.get(ua, 0)
        if rule == 0:
            rule = self._scanner_ua(ua) if self._scanner_ua is not None and ua else None
            if len(self._ua_cache) >= _CACHE_LIMIT:
                self._ua_cache.clear()
            self._ua_cache[ua] = rule
        return rule

    def check(self, req: Request, st: IpState, flags: list[IpFlag]) -> str | None:
        rule = self._ua_rule(req.user_agent)
        if rule is not None:
            x = st.x
            if x is not None and req.ts_ms < x.scan_until:
                return rule
            # A scanner tool's first request flags its IP like a probe does: the security team gets one
            # scanner episode per network, and the IP's next requests (any user agent) are the scan too.
            return self._flag(req, st, rule, flags)
        ts = req.ts_ms
        probe = self._probes.rule(req.path, req.status)
        x = st.x
        if x is not None and ts < x.scan_until:
            # Still scanning: fresh evidence keeps the IP in cooldown, so a slow scan is not let back in.
            if req.status == 404 or probe is not None:
                x.scan_until = ts + self._cooldown_ms
            return x.scan_rule
        if probe is not None:
            return self._flag(req, st, probe, flags)
        if self._empty_404 and req.status == 404 and (not req.user_agent or req.user_agent == "-"):
            return self._flag(req, st, "empty_user_agent+404", flags)
        if req.status == 404 and self._count_404(st, ts, req.path) > self._threshold:
            return self._flag(req, st, self._rule_404, flags)
        return None

    def _count_404(self, st: IpState, ts: int, path: str) -> int:
        """Distinct 404 paths in the current and previous bucket (each capped at threshold + 1).

        Two buckets, like the rate limiter's, so a scan straddling a bucket boundary is still seen whole;
        an out-of-order 404 joins its bucket and never resets the evidence.
        """
        idx = ts // self._window_ms
        cap = self._threshold + 1
        x = st.extra()
        cur, prev = x.nf_paths, x.nf_prev
        if cur is None or idx > x.nf_idx + 1:
            cur, prev = set(), None
            x.nf_idx = idx
        elif idx == x.nf_idx + 1:
            cur, prev = set(), cur
            x.nf_idx = idx
        target = prev if idx < x.nf_idx and prev is not None else cur
        if len(target) < cap:
            target.add(path)
        x.nf_paths, x.nf_prev = cur, prev
        return len(cur | prev) if prev else len(cur)

    def _flag(self, req: Request, st: IpState, rule: str, flags: list[IpFlag]) -> str:
        x = st.extra()
        x.scan_until = req.ts_ms + self._cooldown_ms
        x.scan_rule = rule
        x.nf_paths = x.nf_prev = None
        flags.append(IpFlag(req.ts_ms, req.client_ip, self.reason, rule, x.scan_until))
        return rule
