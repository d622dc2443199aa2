"""Load and validate ``truesli.yaml`` into one frozen, typed model.

Contract: :func:`load_config` returns a :class:`Config` or raises :class:`ConfigError` whose message names
the YAML path of every problem and how to fix it. Nothing here touches Kafka, HTTP or the wall clock.
Every regex a user writes is compiled with RE2 (linear time); a pattern RE2 cannot compile is rejected
at load time instead of becoming a catastrophic-backtracking hazard on hostile user agents.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streams.core.regex import compile_re2

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Journey, SLO and reason names become metric label values: keep them short and tame."""


class ConfigError(Exception):
    """A user-fixable configuration problem; ``str()`` is the complete message for the terminal."""


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finite(Strict):
    """A section whose numbers feed published ratios: inf and NaN are rejected at load."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _check_regex(pattern: str) -> str:
    try:
        compile_re2(pattern)
    except ValueError as exc:
        raise ValueError(
            f"not a valid RE2 pattern ({exc}); RE2 has no backreferences or look-around — rewrite the pattern"
        ) from None
    return pattern


def _check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR block such as 10.0.0.0/8") from None
    return value


Regex = Annotated[str, Field(min_length=1)]
Cidr = str


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


class JourneyConfig(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    service: str | None = None
    match: RouteMatch = RouteMatch()
    slos: tuple[SLOConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slos(self) -> "JourneyConfig":
        names = [s.name for s in self.slos]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"SLO names must be unique within a journey; repeated: {sorted(dup)}")
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


def _cidrs(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_check_cidr(x) for x in v)


def _regexes(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_check_regex(x) for x in v)


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


class BotUaFilter(Strict):
    enabled: bool = True
    use_crawler_list: bool = True
    patterns: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    empty_user_agent_is_bot: bool = False
    _v_patterns = field_validator("patterns", "allow")(classmethod(lambda cls, v: _regexes(v)))


class RateLimitFilter(Strict):
    enabled: bool = True
    edge_flag: bool = True
    status_429: bool = True
    max_requests: int = Field(default=1200, ge=1)
    window_s: int = Field(default=60, ge=1)
    cooldown_s: int = Field(default=300, ge=0)


DEFAULT_SCANNER_UAS = (
    "sqlmap", "nikto", "nuclei", "zgrab", "masscan", "nmap", "wpscan", "acunetix", "dirbuster",
    "gobuster", "fuzz faster u fool", "ffuf", "nessus", "openvas", "w3af", "jaeles", "wfuzz", "netsparker",
    "qualys", "censysinspect", "hydra",
)
DEFAULT_PROBE_PATHS = (
    "/.env", "/.git/", "/.aws/", "/.ssh/", "/.ds_store", "/wp-login.php", "/wp-admin", "/xmlrpc.php",
    "/phpmyadmin", "/pma/", "/cgi-bin/", "/server-status", "/vendor/phpunit", "/boaform", "/hnap1",
    "/etc/passwd", "/config.php", "/shell.php",
)


class ScannerFilter(Strict):
    enabled: bool = True
    user_agents: tuple[str, ...] = DEFAULT_SCANNER_UAS
    probe_paths: tuple[str, ...] = DEFAULT_PROBE_PATHS
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


DurationUnit = Literal["ms", "s", "us"]

FIELD_NAMES = (
    "ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent", "bytes", "route",
    "service", "request_id", "rate_limited", "synthetic", "bot_score", "asn", "country", "forwarded_for",
)


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

    _v_proxies = field_validator("trusted_proxies")(classmethod(lambda cls, v: _cidrs(v)))

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown request field(s) {unknown}; known: {', '.join(FIELD_NAMES)}")
        return v


class TopicsConfig(Strict):
    """Topic names. ``requests`` and ``changes`` are inputs; the rest are written by truesli."""

    requests: str = "requests.raw"
    counters: str = "sli.counters"
    partials: str = "sli.counters.partials"
    anomalies: str = "sli.anomalies"
    deadletter: str = "sli.deadletter"
    changes: str = "ops.changes"
    state: str = "truesli.state"


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# Inline secrets are refused: config files end up in git, ConfigMaps and bug reports.
_INLINE_SECRET_KEYS = {"password": "password_file or password_env",
                       "key_password": "key_password_file or key_password_env"}


class KafkaSecurityConfig(Strict):
    """How every Kafka client truesli creates (Stage A's consumer and producer, Stage B's faust app, replay,
    archive, admin) authenticates. Secrets are never in this file: ``password_file`` / ``password_env`` name
    where to read them when a client is created (see streams/kafka_security.py and docs/security.md)."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = Field(default=None, min_length=1)
    password_file: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, min_length=1)
    ca_file: str | None = Field(default=None, min_length=1)
    cert_file: str | None = Field(default=None, min_length=1)
    key_file: str | None = Field(default=None, min_length=1)
    key_password_file: str | None = Field(default=None, min_length=1)
    key_password_env: str | None = Field(default=None, min_length=1)
    verify_hostname: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, instead in _INLINE_SECRET_KEYS.items():
                if key in data:
                    raise ValueError(f"{key}: secrets are not accepted in the config file — put it in a file "
                                     f"or an environment variable and name it with {instead}")
        return data

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _consistent(self) -> "KafkaSecurityConfig":
        problems: list[str] = []
        sasl_keys = [k for k in ("sasl_mechanism", "username", "password_file", "password_env")
                     if getattr(self, k) is not None]
        tls_keys = [k for k in ("ca_file", "cert_file", "key_file", "key_password_file", "key_password_env")
                    if getattr(self, k) is not None]
        if self.sasl:
            if self.sasl_mechanism is None:
                problems.append(f"protocol {self.protocol} needs sasl_mechanism (PLAIN, SCRAM-SHA-256 or "
                                "SCRAM-SHA-512)")
            if self.username is None:
                problems.append(f"protocol {self.protocol} needs username")
            if (self.password_file is None) == (self.password_env is None):
                problems.append(f"protocol {self.protocol} needs exactly one of password_file or password_env")
        elif sasl_keys:
            problems.append(f"{', '.join(sasl_keys)}: only for protocol SASL_PLAINTEXT or SASL_SSL "
                            f"(protocol is {self.protocol})")
        if self.tls:
            if (self.cert_file is None) != (self.key_file is None):
                problems.append("cert_file and key_file (a client certificate) go together")
            if self.key_password_file is not None and self.key_password_env is not None:
                problems.append("give at most one of key_password_file or key_password_env")
            if (self.key_password_file or self.key_password_env) and self.key_file is None:
                problems.append("key_password_file/key_password_env need key_file")
        elif tls_keys or not self.verify_hostname:
            keys = tls_keys + ([] if self.verify_hostname else ["verify_hostname"])
            problems.append(f"{', '.join(keys)}: only for protocol SSL or SASL_SSL (protocol is "
                            f"{self.protocol})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# librdkafka settings that kafka.security owns. Set elsewhere they would reach the confluent clients but
# not the faust (aiokafka) app, so the worker would half-authenticate; and a secret here would sit in the
# config file in clear.
_SECURITY_CLIENT_KEYS = {
    "security.protocol": "protocol", "sasl.mechanism": "sasl_mechanism", "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "username", "sasl.password": "password_file or password_env",
    "ssl.ca.location": "ca_file", "ssl.certificate.location": "cert_file", "ssl.key.location": "key_file",
    "ssl.key.password": "key_password_file or key_password_env",
    "ssl.endpoint.identification.algorithm": "verify_hostname",
}


def _secret_client_key(key: str) -> bool:
    k = key.lower()
    return "password" in k or "secret" in k or k in ("ssl.key.pem", "ssl_key.pem", "sasl.oauthbearer.config")


class KafkaConfig(Strict):
    """Where the live worker reads and writes. ``security`` says how every client authenticates; ``client``
    passes extra (non-security) librdkafka settings to every confluent-kafka client truesli creates."""

    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = Field(default="truesli", min_length=1)
    topics: TopicsConfig = TopicsConfig()
    create_topics: bool = True
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    security: KafkaSecurityConfig = KafkaSecurityConfig()
    client: dict[str, str] = Field(default_factory=dict)
    batch_max_messages: int = Field(default=10_000, ge=1)
    batch_timeout_ms: int = Field(default=200, ge=1)
    commit_interval_ms: int = Field(default=1_000, ge=10)
    transaction_timeout_ms: int = Field(default=15_000, ge=1_000)
    connect_timeout_s: float = Field(default=15.0, gt=0)

    @field_validator("client")
    @classmethod
    def _no_security_in_client(cls, v: dict[str, str]) -> dict[str, str]:
        # Messages name the key only, never its value: the value may be a password.
        problems = []
        for key in v:
            owner = _SECURITY_CLIENT_KEYS.get(key.lower())
            if _secret_client_key(key):
                instead = f"kafka.security.{owner}" if owner else \
                    "kafka.security (password_file/password_env, key_password_file/key_password_env)"
                problems.append(f"{key} is a secret and secrets are not accepted in the config file — put it in "
                                f"a file or an environment variable named by {instead}")
            elif owner:
                problems.append(f"{key} is set by kafka.security.{owner} (which also reaches the faust "
                                "worker): move it there")
            elif key.lower().startswith(("ssl.", "sasl.")) or key.lower() == "enable.ssl.certificate.verification":
                problems.append(f"{key}: security settings come only from kafka.security (they must reach every "
                                "client, the faust worker included); this one is not supported")
        if problems:
            raise ValueError("; ".join(problems))
        return v


class WorkerConfig(Strict):
    """The live worker's own HTTP endpoints (/metrics, /health)."""

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=0, le=65535)
    data_dir: str = ".truesli-data"


class RemoteWriteConfig(Strict):
    """Where cleaned SLIs are pushed (Prometheus remote-write 1.0). Secrets come from files or environment
    variables, never from this file."""

    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    basic_auth_username: str | None = None
    basic_auth_password_file: str | None = None
    basic_auth_password_env: str | None = None
    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    max_samples_per_request: int = Field(default=2_000, ge=1)
    max_retries: int = Field(default=8, ge=0)
    deadline_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)


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


class Config(Strict):
    input: InputConfig = InputConfig()
    journeys: tuple[JourneyConfig, ...] = Field(default=DEFAULT_JOURNEYS, min_length=1)
    exclusions: tuple[ExclusionRule, ...] = DEFAULT_EXCLUSIONS
    filters: FiltersConfig = FiltersConfig()
    state: StateConfig = StateConfig()
    windows: WindowsConfig = WindowsConfig()
    kafka: KafkaConfig = KafkaConfig()
    worker: WorkerConfig = WorkerConfig()
    remote_write: RemoteWriteConfig = RemoteWriteConfig()
    detection: DetectionConfig = DetectionConfig()

    @model_validator(mode="after")
    def _unique_journeys(self) -> "Config":
        names = [j.name for j in self.journeys]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"journey names must be unique; repeated: {sorted(dup)}")
        return self

    @model_validator(mode="after")
    def _ttl_covers_behaviour(self) -> "Config":
        # Per-IP state older than the TTL must be irrelevant to every verdict: then when state expires
        # (which depends on batching) cannot change results, and live, replay and embedded runs agree.
        f = self.filters
        longest = max(f.rate_limited.window_s * 2, f.rate_limited.cooldown_s, f.scanner.window_s * 2,
                      f.scanner.cooldown_s, f.credential_stuffing.window_s * 2, f.credential_stuffing.cooldown_s)
        if self.state.ip_ttl_s < longest:
            raise ValueError(f"state.ip_ttl_s ({self.state.ip_ttl_s}) must be at least {longest}: the longest "
                             "filter cooldown or two filter windows, or an IP's evidence would be forgotten early")
        return self


def _yaml_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _yaml_path(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key — check the spelling against docs/configuration.md"
    if kind == "missing":
        return f"{where}: required key is missing — add it"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        msg = "must be lowercase letters, digits and _ (starting with a letter), at most 63 characters"
    return f"{where}: {msg}"


def config_from_dict(data: dict[str, Any] | None, source: str = "<config>") -> Config:
    """Validate a parsed YAML document; raises ConfigError listing every problem with its path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections (input, journeys, …)")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A failed item also fails its container's min-length check; that echo only adds noise.
        failed = [e["loc"] for e in errors if e["type"] != "too_short"]
        errors = [e for e in errors if e["type"] != "too_short"
                  or not any(loc[: len(e["loc"])] == e["loc"] for loc in failed)]
        lines = [_describe(e) for e in errors]
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | Path | None) -> Config:
    """Load ``path`` (YAML) or return the built-in default config when ``path`` is None."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p} (pass an existing file, or omit --config to use "
                          "the built-in default)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return config_from_dict(data, str(p))
