"""The SLI model: how input becomes requests, the journeys and their SLOs, exclusions, filters, per-IP
state, windows and detection. What truesli measures — nothing about where it runs (see transport.py)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from streams.core.regex import compile_re2
from streams.config.base import (NAME_PATTERN, Cidr, Finite, Regex, Strict, _check_regex, _cidrs, _regexes,
                                 _repeated)

class RouteMatch(Strict):
    """Which requests a rule applies to. Every given condition must hold; an empty match matches all.

    ``paths`` are exact paths, ``path_prefixes`` plain prefixes, ``path_regex`` an RE2 pattern searched
    in the path (query string removed). ``hosts`` are exact host names (port removed) or ``*.suffix``.
    """

    methods: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    path_regex: Regex | None = None

    @field_validator("methods")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m.upper() for m in v)

    @field_validator("hosts")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(h.lower() for h in v)

    @field_validator("path_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


StatusSpec = int | str


def expand_statuses(specs: tuple[StatusSpec, ...]) -> frozenset[int]:
    """``5xx`` → 500..599, ``500-504`` → the range, ``429`` → itself."""
    out: set[int] = set()
    for spec in specs:
        text = str(spec).strip().lower()
        if re.fullmatch(r"[1-5]xx", text):
            base = int(text[0]) * 100
            out.update(range(base, base + 100))
        elif re.fullmatch(r"\d{3}-\d{3}", text):
            lo, hi = (int(x) for x in text.split("-"))
            out.update(range(lo, hi + 1))
        elif re.fullmatch(r"\d{3}", text):
            out.add(int(text))
        else:
            raise ValueError(f"{spec!r} is not a status spec: use 503, 500-504 or 5xx")
    return frozenset(out)


class SLOConfig(Strict):
    """One SLI judged on the journey's requests. Event-weighted: good/total counts, not time slices."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["availability", "latency"]
    objective: float = Field(gt=0.0, lt=1.0)
    bad_statuses: tuple[StatusSpec, ...] = ("5xx",)
    threshold_ms: float | None = Field(default=None, gt=0)

    @field_validator("bad_statuses")
    @classmethod
    def _statuses(cls, v: tuple[StatusSpec, ...]) -> tuple[StatusSpec, ...]:
        expand_statuses(v)
        return v

    @model_validator(mode="after")
    def _latency_needs_threshold(self) -> "SLOConfig":
        if self.kind == "latency" and self.threshold_ms is None:
            raise ValueError("a latency SLO needs threshold_ms (e.g. threshold_ms: 300)")
        return self


TrafficClass = Literal["crawler", "ai_crawler", "automation", "monitoring", "preview", "feed_reader", "headless",
                       "scanner"]
TRAFFIC_CLASSES: tuple[str, ...] = ("crawler", "ai_crawler", "automation", "monitoring", "preview", "feed_reader",
                                    "headless", "scanner")


class JourneyConfig(Strict):
    """``keep`` lists the traffic classes this journey counts as its users (an API whose customers call it
    from an SDK keeps ``automation``); every other class is dropped, and by default all are."""

    name: str = Field(pattern=NAME_PATTERN)
    service: str | None = None
    # Services the journey needs besides its own (composite ceiling: the product of their availabilities).
    depends_on: tuple[str, ...] = ()
    match: RouteMatch = RouteMatch()
    slos: tuple[SLOConfig, ...] = Field(min_length=1)
    keep: tuple[TrafficClass, ...] = ()

    @model_validator(mode="after")
    def _unique_slos(self) -> "JourneyConfig":
        dup = _repeated([s.name for s in self.slos])
        if dup:
            raise ValueError(f"SLO names must be unique within a journey; repeated: {dup}")
        return self


class ExclusionRule(Strict):
    """Requests that are not user events at all (health checks, metrics scrapes, background jobs).

    A rule matches when its route conditions hold AND (if given) the user agent contains one of
    ``user_agents`` (case-insensitive) or matches ``user_agent_regex``. A rule with only user-agent
    conditions matches any route.
    """

    reason: str = Field(pattern=NAME_PATTERN)
    match: RouteMatch = RouteMatch()
    user_agents: tuple[str, ...] = ()
    user_agent_regex: Regex | None = None

    @field_validator("user_agent_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)

    @model_validator(mode="after")
    def _not_empty(self) -> "ExclusionRule":
        m = self.match
        if not (m.methods or m.hosts or m.paths or m.path_prefixes or m.path_regex
                or self.user_agents or self.user_agent_regex):
            raise ValueError("an exclusion rule with no condition would exclude every request; add a match")
        return self


class SyntheticFilter(Strict):
    enabled: bool = True
    honor_flag: bool = True
    user_agents: tuple[str, ...] = (
        "Datadog/Synthetics", "Pingdom", "UptimeRobot", "StatusCake", "Site24x7",
        "GoogleStackdriverMonitoring", "Checkly", "NewRelicSynthetics", "CloudWatchSynthetics",
    )
    ips: tuple[Cidr, ...] = ()
    _v_ips = field_validator("ips")(classmethod(lambda cls, v: _cidrs(v)))


class IpDenyFilter(Strict):
    enabled: bool = True
    deny: tuple[Cidr, ...] = ()
    allow: tuple[Cidr, ...] = ()
    _v_deny = field_validator("deny", "allow")(classmethod(lambda cls, v: _cidrs(v)))


UaList = Literal["crawler-user-agents", "crawlerdetect"]


class BotUaFilter(Strict):
    """Non-human user agents, by traffic class (see streams/core/filters/traffic.py and
    docs/configuration.md). ``patterns`` drop as class ``crawler``; ``allow`` is never dropped by a list."""

    enabled: bool = True
    use_crawler_list: bool = True     # false: no maintained list at all (``lists`` ignored)
    lists: tuple[UaList, ...] = ("crawler-user-agents", "crawlerdetect")
    patterns: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    empty_user_agent_is_bot: bool = False
    no_browser_token_is_automation: bool = True
    keep: tuple[TrafficClass, ...] = ()   # classes every journey counts (on top of a journey's own keep)
    _v_patterns = field_validator("patterns", "allow")(classmethod(lambda cls, v: _regexes(v)))


class RateLimitFilter(Strict):
    enabled: bool = True
    edge_flag: bool = True
    status_429: bool = True
    max_requests: int = Field(default=1200, ge=1)
    window_s: int = Field(default=60, ge=1)
    cooldown_s: int = Field(default=300, ge=0)


# Attack tools, matched word-bounded ("hydra" never fires inside an ordinary token).
DEFAULT_SCANNER_UAS = (
    "sqlmap", "nikto", "nuclei", "zgrab", "masscan", "nmap", "wpscan", "acunetix", "dirbuster", "gobuster",
    "fuzz faster u fool", "ffuf", "nessus", "openvas", "w3af", "jaeles", "wfuzz", "netsparker", "qualys",
    "censysinspect", "hydra", "arachni", "burpcollaborator", "burp", "owasp", "appscan", "webinspect",
    "skipfish", "whatweb", "wapiti", "dirb", "feroxbuster", "interactsh", "oast", "projectdiscovery",
    "commix", "joomscan", "droopescan", "cmsmap", "paros", "havij", "pangolin", "zmeu", "morfeus",
    "muieblackcat", "l9explore", "l9tcpid", "leakix", "internet-measurement", "censys", "shodan",
    "binaryedge", "netcraft", "stretchoid", "onyphe", "securitytrails", "recon", "scanner", "scan",
    "exploit", "payload", "pentest", "vuln", "hack", "cyberscan", "reaver", "phpmyadmin", "fingerprint",
    "probe", "research",
)
DEFAULT_PROBE_PATHS = (
    "/.env", "/.git/", "/.aws/", "/.ssh/", "/.ds_store", "/wp-login.php", "/wp-admin", "/xmlrpc.php",
    "/phpmyadmin", "/pma/", "/cgi-bin/", "/server-status", "/vendor/phpunit", "/boaform", "/hnap1",
    "/etc/passwd", "/config.php", "/shell.php",
)


class ScannerFilter(Strict):
    """``probe_paths`` are matched after normalisation at any depth (``/wp-admin`` also hits
    ``/blog/wp-admin/``); ``builtin_probes`` adds truesli's segment, file-name, suffix and fragment rules
    (streams/core/filters/probes.py); ``ua_heuristics`` adds typo-squatted browser tokens and exploit
    payloads to the ``user_agents`` tool list."""

    enabled: bool = True
    user_agents: tuple[str, ...] = DEFAULT_SCANNER_UAS
    probe_paths: tuple[str, ...] = DEFAULT_PROBE_PATHS
    builtin_probes: bool = True
    ua_heuristics: bool = True
    empty_user_agent_on_404: bool = True
    distinct_404_threshold: int = Field(default=20, ge=1)
    window_s: int = Field(default=600, ge=1)
    cooldown_s: int = Field(default=600, ge=0)


class CredentialStuffingFilter(Strict):
    enabled: bool = True
    routes: tuple[RouteMatch, ...] = (
        RouteMatch(methods=("POST",), path_prefixes=("/login", "/signin", "/api/login", "/oauth/token",
                                                      "/session", "/auth")),
    )
    failure_statuses: tuple[StatusSpec, ...] = (401, 403)
    max_failures: int = Field(default=10, ge=1)
    max_attempts: int = Field(default=40, ge=1)
    window_s: int = Field(default=60, ge=1)
    cooldown_s: int = Field(default=900, ge=0)

    @field_validator("failure_statuses")
    @classmethod
    def _statuses(cls, v: tuple[StatusSpec, ...]) -> tuple[StatusSpec, ...]:
        expand_statuses(v)
        return v


class FiltersConfig(Strict):
    """Filters run in this fixed order; the first that fires names the record's reason."""

    synthetic: SyntheticFilter = SyntheticFilter()
    ip_deny: IpDenyFilter = IpDenyFilter()
    bot_ua: BotUaFilter = BotUaFilter()
    rate_limited: RateLimitFilter = RateLimitFilter()
    scanner: ScannerFilter = ScannerFilter()
    credential_stuffing: CredentialStuffingFilter = CredentialStuffingFilter()


class SiteProfile(Strict):
    """What the site serves. ``false``: every request for that kind of script is a probe; ``true``: only
    the probe rules decide; unset (default): such a script answered 403/404/410 is a probe."""

    serves_php: bool | None = None
    serves_asp: bool | None = None
    serves_jsp: bool | None = None
    serves_cgi: bool | None = None

    def serves(self) -> dict[str, bool | None]:
        return {"php": self.serves_php, "asp": self.serves_asp, "jsp": self.serves_jsp, "cgi": self.serves_cgi}


class StateConfig(Strict):
    """Bounds on per-client-IP behavioural state (rate, 404s, logins). Oldest-touched IPs go first."""

    max_tracked_ips: int = Field(default=500_000, ge=1)
    ip_ttl_s: int = Field(default=1800, ge=1)


class WindowsConfig(Strict):
    """Event-time tumbling windows. Times are in seconds of the request's own timestamp."""

    size_s: int = Field(default=60, ge=1)
    allowed_lateness_s: int = Field(default=120, ge=0)
    idle_timeout_s: int = Field(default=30, ge=1)
    retain_closed_s: int = Field(default=21_600, ge=0)
    max_future_skew_s: int = Field(default=300, ge=0)
    emit_empty: bool = True


DurationUnit = Literal["ms", "s", "us", "µs", "ns"]

FIELD_NAMES = (
    "ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent", "bytes", "route",
    "service", "request_id", "rate_limited", "synthetic", "bot_score", "asn", "country", "forwarded_for",
)


LINE_GROUPS = ("ts", "client_ip", "method", "path", "request", "host", "status", "duration", "user_agent",
               "forwarded_for")
"""Named groups ``input.line_regex`` may use: truesli fields, ``request`` for a whole request line and
``duration`` (in ``input.duration_unit``, default ms, unless the text carries its own unit)."""


class InputConfig(Strict):
    """How raw bytes become requests. ``fields`` maps truesli's names to the log's own keys, on top of
    the ``preset``; dotted keys (``request.path``) reach into nested objects."""

    format: Literal["auto", "jsonl", "combined", "parquet"] = "auto"
    preset: Literal["truesli", "nginx", "envoy", "alb"] = "truesli"
    fields: dict[str, str] = Field(default_factory=dict)
    duration_unit: DurationUnit | None = None
    max_line_bytes: int = Field(default=65_536, ge=256)
    max_user_agent_chars: int = Field(default=512, ge=16)
    max_path_chars: int = Field(default=2048, ge=64)
    trusted_proxies: tuple[Cidr, ...] = ()
    line_regex: Regex | None = None

    _v_proxies = field_validator("trusted_proxies")(classmethod(lambda cls, v: _cidrs(v)))

    @field_validator("line_regex")
    @classmethod
    def _line_groups(cls, v: str | None) -> str | None:
        """A custom text format: an RE2 pattern whose named groups are truesli fields (LINE_GROUPS)."""
        if v is None:
            return v
        _check_regex(v)
        groups = set(compile_re2(v).groupindex)
        unknown = sorted(groups - set(LINE_GROUPS))
        if unknown:
            raise ValueError(f"unknown named group(s) {unknown}; known: {', '.join(LINE_GROUPS)}")
        missing = [g for g in ("ts", "status") if g not in groups]
        if missing or not ("request" in groups or {"method", "path"} <= groups):
            raise ValueError("line_regex needs the named groups ts, status and either request or method and path "
                             f"(missing: {', '.join(missing) or 'request / method+path'})")
        return v

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown request field(s) {unknown}; known: {', '.join(FIELD_NAMES)}")
        return v


class BurnConfig(Finite):
    """Multi-window multi-burn-rate (MWMBR) thresholds — the Google SRE workbook defaults. The same numbers
    drive the detector (``burn_spike``) and the rules ``truesli rules`` generates."""

    page: float = Field(default=14.4, gt=0)         # 1h & 5m
    page_slow: float = Field(default=6.0, gt=0)     # 6h & 30m
    ticket: float = Field(default=3.0, gt=0)        # 1d & 2h
    ticket_slow: float = Field(default=1.0, gt=0)   # 3d & 6h
    min_events: int = Field(default=100, ge=0)          # events in a page condition's long window
    min_ticket_events: int = Field(default=100, ge=0)   # events in a ticket condition's long window


class BotSurgeConfig(Finite):
    """``bot_surge``: a journey's filtered share over ``window_s`` jumps above its ``baseline_s`` share."""

    enabled: bool = True
    window_s: int = Field(default=900, ge=60)
    baseline_s: int = Field(default=86_400, ge=300)
    min_increase: float = Field(default=0.25, gt=0, le=1)   # share points above the baseline share
    factor: float = Field(default=2.0, ge=1)                 # and at least this multiple of it
    min_events: int = Field(default=200, ge=1)               # raw requests in window_s


class CalibrationConfig(Finite):
    """``burn_too_tight`` / ``burn_too_loose``: the 3-day burn average stays outside [loose, tight] for
    ``sustain_s`` (the seed's quarterly-review heuristic, evaluated continuously)."""

    enabled: bool = True
    too_tight: float = Field(default=1.5, gt=0)
    too_loose: float = Field(default=0.3, ge=0)
    sustain_s: int = Field(default=86_400, ge=0)
    min_events: int = Field(default=1_000, ge=1)   # events in the 3-day window


class UserPainConfig(Finite):
    """Agreement of the SLI with user reports (docs/user-reports.md). Reports and errors are counted per
    ``bucket_s``; a bucket is a report spike when it holds ≥ ``min_reports`` and ≥ ``spike_factor`` × the
    journey's median bucket; a spike and a burn episode agree when they come within ``match_window_s``
    of each other. A burn episode of ≥ ``unseen_min_s`` that no spike matches is ``sli_pain_unseen_by_users``."""

    bucket_s: int = Field(default=300, ge=60)
    match_window_s: int = Field(default=3_600, ge=0)
    min_reports: int = Field(default=3, ge=1)
    spike_factor: float = Field(default=3.0, ge=1.0)
    max_lag_buckets: int = Field(default=6, ge=0, le=288)
    unseen_min_s: int = Field(default=1_800, ge=0)


class PostmortemConfig(Finite):
    """``postmortem_required``: one burn episode spent ≥ ``budget_share`` of the SLO period's error budget."""

    enabled: bool = True
    budget_share: float = Field(default=0.2, gt=0.0, le=1.0)


class DetectionConfig(Strict):
    """Detectors over merged, closed windows (event time). See docs/design.md, detection."""

    enabled: bool = True
    burn: BurnConfig = BurnConfig()
    slo_period_days: int = Field(default=30, ge=1, le=400)
    change_window_s: int = Field(default=1_800, ge=0)
    no_traffic_after_s: int = Field(default=900, ge=0)
    policy_grace_s: int = Field(default=3_600, ge=0)
    policy_min_history_s: int = Field(default=86_400, ge=0)
    bot_surge: BotSurgeConfig = BotSurgeConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    user_pain: UserPainConfig = UserPainConfig()
    postmortem: PostmortemConfig = PostmortemConfig()
    network_prefix_v4: int = Field(default=24, ge=8, le=32)
    network_prefix_v6: int = Field(default=48, ge=16, le=128)
    evaluation_delay_s: int = Field(default=120, ge=0)
    abuse_gap_s: int = Field(default=900, ge=0)

    @model_validator(mode="after")
    def _band(self) -> "DetectionConfig":
        c = self.calibration
        if c.too_loose >= c.too_tight:
            raise ValueError(f"calibration.too_loose ({c.too_loose}) must be below too_tight ({c.too_tight})")
        if self.bot_surge.baseline_s <= self.bot_surge.window_s:
            raise ValueError("bot_surge.baseline_s must be longer than bot_surge.window_s")
        return self


DEFAULT_EXCLUSIONS = (
    ExclusionRule(reason="health", match=RouteMatch(paths=(
        "/health", "/healthz", "/healthcheck", "/ready", "/readyz", "/live", "/livez", "/ping", "/status")),),
    ExclusionRule(reason="health", user_agents=("kube-probe", "ELB-HealthChecker", "GoogleHC", "Consul Health")),
    ExclusionRule(reason="metrics", match=RouteMatch(paths=("/metrics",))),
    ExclusionRule(reason="internal", match=RouteMatch(path_prefixes=("/internal/", "/cron/", "/_internal/"))),
)

DEFAULT_JOURNEYS = (
    JourneyConfig(name="all", slos=(SLOConfig(name="availability", kind="availability", objective=0.999),)),
)
