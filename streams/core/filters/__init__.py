"""The filter chain: synthetic → ip_deny → bot_ua → rate_limited → scanner → credential_stuffing.

Each filter answers "which rule drops this request", or None. The first answer wins and names the
record's reason. The first three are pure functions of the request; the last three read and update the
request's per-IP state, which is touched only for requests that reach them.

``bot_ua`` names its verdict by traffic class (crawler, ai_crawler, automation, monitoring, preview,
feed_reader, headless); a journey that keeps a class (``journeys[].keep``, plus ``filters.bot_ua.keep``
for all) lets such a request through to the stateful filters instead. ``scanner`` is a class too: a
journey keeping it ignores scanner verdicts (the IP's evidence is still recorded for other journeys).
"""

from __future__ import annotations

from streams.config import FiltersConfig, StateConfig
from streams.core.filters.bot_ua import BotUaCheck
from streams.core.filters.traffic import UaClassifier
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

    __slots__ = ("_stateless", "_verdicts", "_stateful", "stateful_checks", "store", "_ua_parts", "_synthetic_flag", "_ua_verdicts", "_keep",
                 "_keep_default")

    def __init__(self, cfg: FiltersConfig, state: StateConfig, *, track_changes: bool = False,
                 keep: tuple[frozenset[str], ...] = (), serves: dict | None = None) -> None:
        stateless: list = []
        if cfg.synthetic.enabled:
            stateless.append(SyntheticCheck(cfg.synthetic))
        if cfg.ip_deny.enabled and cfg.ip_deny.deny:
            stateless.append(IpDenyCheck(cfg.ip_deny))
        bot = None
        if cfg.bot_ua.enabled:
            bot = BotUaCheck(cfg.bot_ua, cfg.scanner)
            stateless.append(bot)
        stateful: list = []
        if cfg.rate_limited.enabled:
            stateful.append(RateLimitCheck(cfg.rate_limited))
        if cfg.scanner.enabled:
            classifier = bot.classifier if bot is not None else UaClassifier(
                lists=(), scanner_tools=tuple(cfg.scanner.user_agents),
                scanner_heuristics=cfg.scanner.ua_heuristics, shape_rule=False)
            stateful.append(ScannerCheck(cfg.scanner, classifier.scanner, serves))
        if cfg.credential_stuffing.enabled:
            stateful.append(CredentialStuffingCheck(cfg.credential_stuffing))
        # Every stateless check answers (reason, rule): bot_ua's reason is the traffic class.
        self._stateless = tuple((f.reason, f.check) for f in stateless)  # the filters, for introspection
        self._verdicts = tuple(_as_verdict(f) for f in stateless)
        # The usual configuration lists no IPs in the stateless filters (no synthetic-agent CIDRs, an empty
        # deny list): past the synthetic flag their combined verdict is then a function of the user agent
        # alone, cached per UA — one lookup per request instead of one call per filter.
        if stateless and all(getattr(f, "ua_only", False) for f in stateless):
            self._ua_parts: tuple | None = tuple(_ua_verdict_of(f) for f in stateless)
        else:
            self._ua_parts = None
        global_keep = frozenset(cfg.bot_ua.keep)
        self._keep = tuple(k | global_keep for k in keep)
        self._keep_default = global_keep
        self._synthetic_flag = cfg.synthetic.enabled and cfg.synthetic.honor_flag
        self._ua_verdicts: dict[str, tuple[str, str] | None] = {}
        self._stateful = tuple((f.reason, f.check) for f in stateful)
        self.stateful_checks = tuple(stateful)  # the per-IP rules themselves (core/filters/ip_batch.py)
        self.store = IpStateStore(state.max_tracked_ips, state.ip_ttl_s, track_changes=track_changes)

    def check(self, req: Request, flags: list[IpFlag], journey: int = -1) -> tuple[str, str] | None:
        """(reason, rule) of the first filter that drops ``req``, or None for a real user.

        ``journey`` is the index of the request's journey (-1: none): its ``keep`` classes are not drops.
        The per-record composition of :meth:`stateless` and :meth:`stateful`; the batch core calls the
        parts itself (the stateless verdict per distinct user agent when :attr:`ua_only`)."""
        verdict = self.stateless(req, journey)
        if verdict is not None:
            return verdict
        return self.stateful(req, flags, journey)

    @property
    def ua_only(self) -> bool:
        """True when the stateless verdict is a function of (synthetic flag, user agent) alone: then
        :meth:`ua_verdict` + :attr:`synthetic_flag` + :meth:`kept` answer it per distinct value."""
        return self._ua_parts is not None

    @property
    def synthetic_flag(self) -> bool:
        """Whether a request's own ``synthetic`` flag drops it (before any user-agent verdict)."""
        return self._synthetic_flag

    @property
    def stuffing(self) -> CredentialStuffingCheck | None:
        return next((c for c in self.stateful_checks if isinstance(c, CredentialStuffingCheck)), None)

    @property
    def has_stateful(self) -> bool:
        return bool(self._stateful)

    def kept(self, journey: int, reason: str) -> bool:
        """Whether ``journey`` (-1: none) counts requests of this drop reason (traffic class) as users."""
        keep = self._keep[journey] if 0 <= journey < len(self._keep) else self._keep_default
        return bool(keep) and reason in keep

    def ua_verdict(self, ua: str) -> tuple[str, str] | None:
        """The stateless filters' verdict on ``ua`` (``ua_only`` chains), before ``keep``; cached."""
        verdict = self._ua_verdicts.get(ua, _MISS)
        return self._ua_verdict(ua) if verdict is _MISS else verdict

    def stateless(self, req: Request, journey: int = -1) -> tuple[str, str] | None:
        """The first stateless filter's drop of ``req`` that ``journey`` does not keep, or None."""
        keep = self._keep[journey] if 0 <= journey < len(self._keep) else self._keep_default
        if self._ua_parts is not None:
            if self._synthetic_flag and req.synthetic:
                return _SYNTHETIC_FLAG  # synthetic runs first, and its flag before its UA list
            verdict = self._ua_verdicts.get(req.user_agent, _MISS)
            if verdict is _MISS:
                verdict = self._ua_verdict(req.user_agent)
            if verdict is not None and not (keep and verdict[0] in keep):
                return verdict
            return None
        for check in self._verdicts:
            verdict = check(req)
            if verdict is not None and not (keep and verdict[0] in keep):
                return verdict
        return None

    def stateful(self, req: Request, flags: list[IpFlag], journey: int = -1) -> tuple[str, str] | None:
        """The per-IP filters on a request the stateless ones let through: reads and updates its IP's
        state (touching it), in request order. No client address: no per-IP evidence, None."""
        if self._stateful and req.client_ip:
            keep = self._keep[journey] if 0 <= journey < len(self._keep) else self._keep_default
            st = self.store.touch(req.client_ip, req.ts_ms)
            for reason, check in self._stateful:
                rule = check(req, st, flags)
                if rule is not None and not (keep and reason in keep):
                    return reason, rule
        return None

    def _ua_verdict(self, ua: str) -> tuple[str, str] | None:
        """The stateless filters' verdict on ``ua``, in chain order; remembered (bounded)."""
        verdict = None
        for ua_verdict in self._ua_parts or ():
            verdict = ua_verdict(ua)
            if verdict is not None:
                break
        if len(self._ua_verdicts) >= _UA_CACHE_LIMIT:
            self._ua_verdicts.clear()
        self._ua_verdicts[ua] = verdict
        return verdict


def _as_verdict(f):
    """``f.check`` as a function returning (reason, rule) | None."""
    return f.check if isinstance(f, BotUaCheck) else _tagged(f.reason, f.check)


def _ua_verdict_of(f):
    """``f``'s verdict on a user agent alone, as (reason, rule) | None."""
    return f.ua_verdict if isinstance(f, BotUaCheck) else _tagged(f.reason, f.ua_rule)


def _tagged(reason: str, rule_of):
    """``rule_of`` (answering a rule or None) as a function answering (reason, rule) or None."""
    def verdict(x) -> tuple[str, str] | None:
        rule = rule_of(x)
        return None if rule is None else (reason, rule)
    return verdict
