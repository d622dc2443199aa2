"""Where truesli runs: Kafka topics, client and security settings, the live worker, remote-write targets."""

from __future__ import annotations

import urllib.parse
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from streams.config.base import Strict
from streams.config.secrets import looks_like_credential, looks_secret, redact_url

class TopicsConfig(Strict):
    """Topic names. ``requests``, ``changes`` and ``user_reports`` are inputs; the rest are written by truesli."""

    requests: str = "requests.raw"
    counters: str = "sli.counters"
    partials: str = "sli.counters.partials"
    anomalies: str = "sli.anomalies"
    deadletter: str = "sli.deadletter"
    changes: str = "ops.changes"
    user_reports: str = "ops.user_reports"
    state: str = "truesli.state"


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# Inline secrets are refused: config files end up in git, ConfigMaps and bug reports.
_INLINE_SECRET_KEYS = {"password": "password_file or password_env",
                       "key_password": "key_password_file or key_password_env"}


class KafkaSecurityConfig(Strict):
    """How every Kafka client truesli creates (Stage A's consumer and producer, Stage B's faust app, replay,
    archive, admin) authenticates. Secrets are never in this file: ``password_file`` / ``password_env`` name
    where to read them when a client is created (see streams/kafka/security.py and docs/security.md)."""

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
    batch_max_messages: int = Field(default=50_000, ge=1)
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


# Set by the sink on every request (remote-write 1.0); a configured header must not override them.
PROTOCOL_HEADERS = ("Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version", "User-Agent")
_RW_SECRETS_INSTEAD = ("bearer_token_file/bearer_token_env or basic_auth_username with "
                       "basic_auth_password_file/basic_auth_password_env")


def check_remote_write_url(url: str) -> str:
    """``url`` if it can be a remote-write target: http(s) with a host, no credentials in it (user info or a
    secret-looking query parameter). Messages show the URL redacted, never a secret from it."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"not a URL: {redact_url(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be http(s)://host[:port]/path, got {redact_url(url)}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"credentials are not accepted in the URL ({redact_url(url)}) — use {_RW_SECRETS_INSTEAD}")
    secret = sorted({n for n, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if looks_secret(n)})
    if secret:
        raise ValueError(f"query parameter {', '.join(secret)} looks like a secret and secrets are not accepted in "
                         f"the config or on the command line ({redact_url(url)}) — use {_RW_SECRETS_INSTEAD}")
    return url


class RemoteWriteConfig(Strict):
    """Where cleaned SLIs are pushed (Prometheus remote-write 1.0). Secrets come from files or environment
    variables, never from this file: credential-bearing headers and URL query secrets are rejected at load.
    Everything the sink needs to be true of its settings is validated here, once."""

    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    basic_auth_username: str | None = Field(default=None, min_length=1)
    basic_auth_password_file: str | None = Field(default=None, min_length=1)
    basic_auth_password_env: str | None = Field(default=None, min_length=1)
    bearer_token_file: str | None = Field(default=None, min_length=1)
    bearer_token_env: str | None = Field(default=None, min_length=1)
    ca_file: str | None = Field(default=None, min_length=1)
    insecure_skip_verify: bool = False
    max_samples_per_request: int = Field(default=2_000, ge=1)
    max_retries: int = Field(default=8, ge=0)
    deadline_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_remote_write_url(v)

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        # Messages name the header only, never its value.
        reserved = {h.lower() for h in PROTOCOL_HEADERS}
        problems = []
        for name, value in v.items():
            if name.lower() in reserved:
                problems.append(f"{name} is set by the protocol and cannot be overridden")
            elif looks_secret(name) or looks_like_credential(value):
                problems.append(f"{name} carries a credential and secrets are not accepted in the config file — "
                                f"put it in a file or an environment variable named by {_RW_SECRETS_INSTEAD}")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "RemoteWriteConfig":
        problems = []
        auths = [k for k in ("basic_auth_username", "bearer_token_file", "bearer_token_env")
                 if getattr(self, k) is not None]
        if len(auths) > 1:
            problems.append(f"{' and '.join(auths)}: configure at most one of basic_auth_username, "
                            "bearer_token_file, bearer_token_env")
        passwords = [k for k in ("basic_auth_password_file", "basic_auth_password_env") if getattr(self, k) is not None]
        if self.basic_auth_username is not None and len(passwords) != 1:
            problems.append("basic_auth_username needs exactly one of basic_auth_password_file or "
                            "basic_auth_password_env")
        if self.basic_auth_username is None and passwords:
            problems.append(f"{' and '.join(passwords)}: needs basic_auth_username")
        if self.url is not None and urllib.parse.urlsplit(self.url).scheme != "https":
            tls = [k for k in ("ca_file", "insecure_skip_verify") if getattr(self, k)]
            if tls:
                problems.append(f"{' and '.join(tls)}: TLS options need an https:// url")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def with_url(self, url: str | None) -> "RemoteWriteConfig":
        """These settings aimed at ``url`` (the command line's ``--remote-write``), validated like the file's
        (so a secret in a command-line URL is refused too); ``None`` keeps ``self.url``."""
        if url is None:
            return self
        return RemoteWriteConfig.model_validate({**self.model_dump(), "url": url})
