"""Non-human user agents by traffic class: the classifier of :mod:`streams.core.filters.traffic`, cached.

Each distinct (already length-capped) UA string is classified once and the verdict cached (bounded).
The verdict is ``(class, rule)``: the class is the record's filtered reason (``crawler``, ``automation``,
``preview``…), the rule names the list and entry (``crawlerdetect:<p>``, ``crawler-user-agents:<p>``,
``truesli:<name>``, ``pattern:<p>`` for a configured pattern, ``empty_user_agent``).
Scanner user agents are left to the scanner filter when it is on: it flags the IP, so the rest of the
scan is dropped too.
"""

from __future__ import annotations

from streams.config import BotUaFilter, ScannerFilter
from streams.core.filters.traffic import LISTS, UaClassifier
from streams.core.model import Request

_CACHE_LIMIT = 100_000
_EMPTY = ("crawler", "empty_user_agent")


class BotUaCheck:
    reason = "bot_ua"  # the filter's name; the verdict's reason is the traffic class
    __slots__ = ("classifier", "_empty_is_bot", "_scanner_elsewhere", "_cache")

    def __init__(self, cfg: BotUaFilter, scanner: ScannerFilter | None = None) -> None:
        lists = tuple(cfg.lists) if cfg.use_crawler_list else ()
        self.classifier = UaClassifier(
            lists=tuple(n for n in LISTS if n in lists), patterns=tuple(cfg.patterns), allow=tuple(cfg.allow),
            scanner_tools=tuple(scanner.user_agents) if scanner is not None and scanner.enabled else (),
            scanner_heuristics=scanner is not None and scanner.enabled and scanner.ua_heuristics,
            shape_rule=cfg.no_browser_token_is_automation)
        self._empty_is_bot = cfg.empty_user_agent_is_bot
        self._scanner_elsewhere = scanner is not None and scanner.enabled
        self._cache: dict[str, tuple[str, str] | None] = {}

    ua_only = True  # the verdict is a function of the user agent alone

    def classify(self, ua: str) -> tuple[str, str] | None:
        """(class, rule) for ``ua`` as this filter reports it, or None. Pure; cached by :meth:`ua_verdict`."""
        if not ua or ua == "-":
            return _EMPTY if self._empty_is_bot else None
        verdict = self.classifier.classify(ua)
        if verdict is not None and verdict[0] == "scanner" and self._scanner_elsewhere:
            return None
        return verdict

    def check(self, req: Request) -> tuple[str, str] | None:
        return self.ua_verdict(req.user_agent)

    def ua_verdict(self, ua: str) -> tuple[str, str] | None:
        """:meth:`classify`, cached per UA."""
        verdict = self._cache.get(ua, 0)
        if verdict == 0:
            verdict = self.classify(ua)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[ua] = verdict
        return verdict
