"""Bot user agents: the maintained crawler-user-agents list plus configured patterns; allow-list wins.

User-agent cardinality is low, so each distinct (already length-capped) UA string is classified once and
the verdict cached. The explanation names the rule that matched: ``allow`` never reaches here,
``pattern:<p>`` for a configured pattern, ``crawler-user-agents:<p>`` for a list entry.
User agents on the scanner list are left to the scanner filter (the crawler list also carries sqlmap,
Nikto, zgrab, masscan…): a scanner is the more specific, security-relevant verdict.
"""

from __future__ import annotations

from typing import Any

from streams.config import BotUaFilter
from streams.core.regex import compile_re2
from streams.core.model import Request

_CACHE_LIMIT = 100_000


def crawler_patterns() -> list[str]:
    import crawleruseragents

    return [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]


def _alternation(patterns: list[str]) -> Any:
    return compile_re2("|".join(f"(?:{p})" for p in patterns)) if patterns else None


class BotUaCheck:
    reason = "bot_ua"
    __slots__ = ("_allow", "_user", "_user_any", "_crawler", "_crawler_any", "_empty_is_bot",
                 "_scanner_needles", "_cache")

    def __init__(self, cfg: BotUaFilter, scanner_needles: tuple[str, ...] = ()) -> None:
        self._allow = _alternation(list(cfg.allow))
        self._user = [(p, compile_re2(p)) for p in cfg.patterns]
        self._user_any = _alternation(list(cfg.patterns))
        crawler = crawler_patterns() if cfg.use_crawler_list else []
        self._crawler = [(p, compile_re2(p)) for p in crawler]
        self._crawler_any = _alternation(crawler)
        self._empty_is_bot = cfg.empty_user_agent_is_bot
        self._scanner_needles = tuple(n.lower() for n in scanner_needles)
        self._cache: dict[str, str | None] = {}

    def classify(self, ua: str) -> str | None:
        """The rule that makes ``ua`` a bot, or None. Pure; cached by :meth:`check`."""
        if not ua or ua == "-":
            return "empty_user_agent" if self._empty_is_bot else None
        if self._allow is not None and self._allow.search(ua):
            return None
        low = ua.lower()
        if any(n in low for n in self._scanner_needles):
            return None
        if self._user_any is not None and self._user_any.search(ua):
            return next(f"pattern:{p}" for p, rx in self._user if rx.search(ua))
        if self._crawler_any is not None and self._crawler_any.search(ua):
            # The combined alternation says "some entry matched"; find which, for the explanation.
            for p, rx in self._crawler:
                if rx.search(ua):
                    return f"crawler-user-agents:{p}"
        return None

    ua_only = True  # the verdict is a function of the user agent alone

    def check(self, req: Request) -> str | None:
        return self.ua_rule(req.user_agent)

    def ua_rule(self, ua: str) -> str | None:
        """:meth:`classify`, cached per UA."""
        rule = self._cache.get(ua, 0)
        if rule == 0:
            rule = self.classify(ua)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[ua] = rule
        return rule
