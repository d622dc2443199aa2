"""The filter chain: synthetic → ip_deny → bot_ua → rate_limited → scanner → credential_stuffing.

Each filter answers "which rule drops this request", or None. The first answer wins and names the
record's reason. The first three are pure functions of the request; the last three read and update the
request's per-IP state, which is touched only for requests that reach them.
"""

from __future__ import annotations

from streams.config import FiltersConfig, StateConfig
from streams.core.filters.bot_ua import BotUaCheck
from streams.core.filters.credential_stuffing import CredentialStuffingCheck
from streams.core.filters.ip_lists import IpDenyCheck
from streams.core.filters.ipstate import IpStateStore
from streams.core.filters.rate_limit import RateLimitCheck
from streams.core.filters.scanner import ScannerCheck
from streams.core.filters.synthetic import SyntheticCheck
from streams.core.model import IpFlag, Request


_UA_CACHE_LIMIT = 100_000  # user agents are capped at input.max_user_agent_chars: a bounded footprint
_MISS = object()
_SYNTHETIC_FLAG = ("synthetic", "flag")


class FilterChain:
    """Owns the filters and the per-IP state of one pipeline."""

    __slots__ = ("_stateless", "_stateful", "store", "_ua_parts", "_synthetic_flag", "_ua_verdicts")

    def __init__(self, cfg: FiltersConfig, state: StateConfig, *, track_changes: bool = False) -> None:
        stateless: list = []
        if cfg.synthetic.enabled:
            stateless.append(SyntheticCheck(cfg.synthetic))
        if cfg.ip_deny.enabled and cfg.ip_deny.deny:
            stateless.append(IpDenyCheck(cfg.ip_deny))
        if cfg.bot_ua.enabled:
            scanner_uas = cfg.scanner.user_agents if cfg.scanner.enabled else ()
            stateless.append(BotUaCheck(cfg.bot_ua, scanner_uas))
        stateful: list = []
        if cfg.rate_limited.enabled:
            stateful.append(RateLimitCheck(cfg.rate_limited))
        if cfg.scanner.enabled:
            stateful.append(ScannerCheck(cfg.scanner))
        if cfg.credential_stuffing.enabled:
            stateful.append(CredentialStuffingCheck(cfg.credential_stuffing))
        self._stateless = tuple((f.reason, f.check) for f in stateless)
        # The usual configuration lists no IPs in the stateless filters (no synthetic-agent CIDRs, an empty
        # deny list): past the synthetic flag their combined verdict is then a function of the user agent
        # alone, cached per UA — one lookup per request instead of one call per filter.
        if stateless and all(getattr(f, "ua_only", False) for f in stateless):
            self._ua_parts: tuple | None = tuple((f.reason, f.ua_rule) for f in stateless)
        else:
            self._ua_parts = None
        self._synthetic_flag = cfg.synthetic.enabled and cfg.synthetic.honor_flag
        self._ua_verdicts: dict[str, tuple[str, str] | None] = {}
        self._stateful = tuple((f.reason, f.check) for f in stateful)
        self.store = IpStateStore(state.max_tracked_ips, state.ip_ttl_s, track_changes=track_changes)

    def check(self, req: Request, flags: list[IpFlag]) -> tuple[str, str] | None:
        """(reason, rule) of the first filter that drops ``req``, or None for a real user."""
        if self._ua_parts is not None:
            if self._synthetic_flag and req.synthetic:
                return _SYNTHETIC_FLAG  # synthetic runs first, and its flag before its UA list
            verdict = self._ua_verdicts.get(req.user_agent, _MISS)
            if verdict is _MISS:
                verdict = self._ua_verdict(req.user_agent)
            if verdict is not None:
                return verdict
        else:
            for reason, check in self._stateless:
                rule = check(req)
                if rule is not None:
                    return reason, rule
        if self._stateful and req.client_ip:  # no client address logged: no per-IP evidence to keep
            st = self.store.touch(req.client_ip, req.ts_ms)
            for reason, check in self._stateful:
                rule = check(req, st, flags)
                if rule is not None:
                    return reason, rule
        return None

    def _ua_verdict(self, ua: str) -> tuple[str, str] | None:
        """The stateless filters' verdict on ``ua``, in chain order; remembered (bounded)."""
        verdict = None
        for reason, ua_rule in self._ua_parts or ():
            rule = ua_rule(ua)
            if rule is not None:
                verdict = (reason, rule)
                break
        if len(self._ua_verdicts) >= _UA_CACHE_LIMIT:
            self._ua_verdicts.clear()
        self._ua_verdicts[ua] = verdict
        return verdict
