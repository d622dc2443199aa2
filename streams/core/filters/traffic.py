"""The traffic classifier: which class of non-human client a user agent is, and which list entry says so.

Contract: :meth:`UaClassifier.classify` is a pure function of the user-agent string (already capped at
``input.max_user_agent_chars``) returning ``(class, rule)`` or None for a human. ``class`` is one of
:data:`~streams.core.filters.ua_tables.TRAFFIC_CLASSES`; ``rule`` is ``<list>:<pattern or name>`` so every
drop can be traced to one entry of one list. Callers cache per distinct UA (the chain does); nothing here
holds per-request state.

Layers, in order (the first that answers wins):

1. scanner evidence — exploit payloads, typo-squatted browser tokens, attack tools (word-bounded);
2. human apps (built-in table + ``bot_ua.allow``) — never dropped past this point;
3. ``bot_ua.patterns`` (class ``crawler``);
4. the maintained lists (crawler-user-agents, CrawlerDetect with its exclusions), with guards for
   entries that also hit device models or build ids; the class comes from truesli's class table
   (every entry, "hint" ones too) or else from the text the entry matched, else ``crawler``;
5. truesli's class table (its non-"hint" entries) for what the lists miss;
6. shape: a UA with no browser or platform token at all is a script (class ``automation``).

All matching is RE2 (linear time on hostile input); each table is one alternation, searched once, and
only on a hit are its entries searched one by one to name the rule.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from streams.core.filters import ua_tables as T
from streams.core.regex import compile_re2


def _alt(patterns: list[str], *, ignore_case: bool = True) -> Any:
    return compile_re2("|".join(f"(?:{p})" for p in patterns), ignore_case=ignore_case) if patterns else None


class _Table:
    """Named patterns searched in one pass: ``first(ua)`` → the first entry (in table order) that hits.

    An RE2 set reports every entry that matches in a single linear scan, so naming the rule of a hit costs
    one more search (for the matched text), not one search per entry of a 1,500-entry list. An entry's
    own regex is compiled on its first hit: most entries of the maintained lists never hit a given
    site's traffic, and compiling all ~19,000 cost 0.1 s per pipeline."""

    __slots__ = ("_entries", "_compiled", "_ignore_case", "_set")

    def __init__(self, entries: list[tuple[Any, str]], *, ignore_case: bool = True) -> None:
        self._entries = entries
        self._compiled: dict[int, Any] = {}
        self._ignore_case = ignore_case
        self._set = _re2_set([p for _, p in entries], ignore_case) if entries else None

    def first(self, ua: str) -> Any:
        if self._set is None:
            return None
        hits = self._set.Match(ua)
        return self._entries[min(hits)][0] if hits else None

    def __len__(self) -> int:
        return len(self._entries)

    def entry_regex(self, k: int) -> Any:
        """Entry ``k``'s own (RE2) regex, compiled on first use."""
        rx = self._compiled.get(k)
        if rx is None:
            rx = self._compiled[k] = compile_re2(self._entries[k][1], ignore_case=self._ignore_case)
        return rx

    def first_match(self, ua: str) -> tuple[Any, str] | None:
        """(tag, matched text) of the first entry that hits."""
        if self._set is None:
            return None
        hits = self._set.Match(ua)
        if not hits:
            return None
        k = min(hits)
        m = self.entry_regex(k).search(ua)
        tag = self._entries[k][0]
        return tag, (m.group(0) if m else "")


def _re2_set(patterns: list[str], ignore_case: bool) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    if ignore_case:
        options.case_sensitive = False
    rs = re2.Set.SearchSet(options)
    for p in patterns:
        rs.Add(p)
    rs.Compile()
    return rs


def crawler_user_agents_patterns() -> list[str]:
    import crawleruseragents

    return [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]


def crawlerdetect_patterns() -> tuple[list[str], list[str]]:
    """CrawlerDetect's (patterns, exclusions). Its one lookahead is rewritten for RE2 and guarded instead."""
    from crawlerdetect.providers.crawlers import data as patterns
    from crawlerdetect.providers.exclusions import data as exclusions

    return [p.replace("(?!Search)", "") for p in patterns], list(exclusions)


LISTS = ("crawler-user-agents", "crawlerdetect")


@lru_cache(maxsize=None)
def maintained_list(name: str) -> "_List":
    """The maintained list ``name``, built once per process and shared by every classifier (every
    pipeline: one per partition in live and replay runs). Its data is the pinned package's, so it does
    not depend on the config; a ``_List`` holds no per-request state."""
    if name == "crawler-user-agents":
        return _List(name, crawler_user_agents_patterns(), [], ignore_case=False)
    if name == "crawlerdetect":
        pats, excl = crawlerdetect_patterns()
        return _List(name, pats, excl, ignore_case=True)
    raise ValueError(f"unknown user-agent list {name!r}; known: {', '.join(LISTS)}")


class _List:
    """One maintained list: its entries, its exclusions (text removed before matching) and its guards."""

    __slots__ = ("name", "_table", "_exclude", "_guards")

    def __init__(self, name: str, patterns: list[str], exclusions: list[str], *, ignore_case: bool) -> None:
        self.name = name
        guards = {p: g for lst, p, g, _ in T.GUARDS if lst == name}
        if name == "crawlerdetect" and "Yandex" in patterns:
            guards["Yandex"] = guards.pop("Yandex(?!Search)", r"yandexsearch")
        self._table = _Table([(p, p) for p in patterns], ignore_case=ignore_case)
        self._exclude = _alt(exclusions) if exclusions else None
        self._guards = {p: (compile_re2(p, ignore_case=ignore_case), compile_re2(g, ignore_case=True))
                        for p, g in guards.items() if p in patterns}

    def hit(self, ua: str) -> tuple[str, str] | None:
        """(pattern, matched text) of the first entry matching ``ua``, guards applied, or None."""
        found = self._match(ua)
        if found is None or found[0] not in self._guards:
            return found
        # A guarded entry hit: blank every guard's text in the UA as sent, then match once more
        # (another entry may still hit; a guarded one cannot, its device text is gone).
        for _, g in self._guards.values():
            ua = g.sub(" ", ua)
        return self._match(ua)

    def _match(self, ua: str) -> tuple[str, str] | None:
        if self._exclude is not None:
            ua = self._exclude.sub("", ua)
            if not ua.strip():
                return None
        return self._table.first_match(ua)


class UaClassifier:
    """Builds the tables once; :meth:`classify` per distinct user agent."""

    __slots__ = ("_payload", "_typo", "_tools", "_human", "_user", "_classes", "_lists", "_hints", "_class_hints", "_browser",
                 "_shape")

    def __init__(self, *, lists: tuple[str, ...] = LISTS, patterns: tuple[str, ...] = (),
                 allow: tuple[str, ...] = (), scanner_tools: tuple[str, ...] = (),
                 scanner_heuristics: bool = True, shape_rule: bool = True) -> None:
        self._payload = _Table([(f"payload:{p}", p) for p in T.SCANNER_PAYLOADS] if scanner_heuristics else [])
        self._typo = _Table([(f"typo:{p}", p) for p in T.SCANNER_TYPOS] if scanner_heuristics else [])
        # word-bounded needles: "hydra" must not fire inside "...Hydrangea..." or a build id
        self._tools = _Table([(f"user_agent:{n}", rf"(?:^|[^a-z0-9]){_escape(n)}(?:$|[^a-z0-9])")
                              for n in scanner_tools]) if scanner_tools else None
        self._human = _Table([(f"truesli:{name}", p) for name, p in T.HUMAN_APPS]
                             + [(f"allow:{p}", p) for p in allow], ignore_case=True)
        self._user = _Table([(f"pattern:{p}", p) for p in patterns], ignore_case=False) if patterns else None
        self._classes = _Table([((e[0], f"truesli:{e[1]}"), e[2]) for e in T.CLASS_PATTERNS if len(e) == 3])
        self._class_hints = _Table([(e[0], e[2]) for e in T.CLASS_PATTERNS])
        self._lists = tuple(maintained_list(name) for name in lists)
        self._hints = _Table([(cls, p) for cls, p in T.LIST_HINTS])
        self._browser = compile_re2(T.BROWSER_SHAPE, ignore_case=True)
        self._shape = shape_rule

    def scanner(self, ua: str) -> str | None:
        """The scanner rule ``ua`` trips (payload, typo-squat, tool), or None."""
        rule = self._payload.first(ua) or self._typo.first(ua)
        if rule is None and self._tools is not None:
            rule = self._tools.first(ua.lower())
        return rule

    def classify(self, ua: str) -> tuple[str, str] | None:
        if not ua or ua == "-":
            return None
        rule = self.scanner(ua)
        if rule is not None:
            return "scanner", rule
        if self._human.first(ua) is not None:
            return None
        if self._user is not None:
            rule = self._user.first(ua)
            if rule is not None:
                return "crawler", rule
        for lst in self._lists:
            found = lst.hit(ua)
            if found is not None:
                pattern, text = found
                cls = self._class_hints.first(ua) or self._hints.first(text) or "crawler"
                return cls, f"{lst.name}:{pattern}"
        hit = self._classes.first(ua)
        if hit is not None:
            return hit
        if self._shape and not self._browser.search(ua):
            return "automation", "truesli:no-browser-token"
        return None


def _escape(needle: str) -> str:
    out = []
    for ch in needle.lower():
        out.append("\\" + ch if not ch.isalnum() and ch != " " else ch)
    return "".join(out)
