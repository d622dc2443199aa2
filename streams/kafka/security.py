"""``kafka.security`` → the settings each Kafka client library needs, reading secrets only at that moment.

Contract:
- :func:`librdkafka_settings` gives the security part of every confluent-kafka client's config (Stage A's
  consumer and transactional producer, the changelog reader, replay, archive, ``--to-topic``, the admin
  client of preflight); :func:`faust_credentials` gives the same for the faust (aiokafka) app of Stage B.
  Both start from the one :class:`~streams.config.KafkaSecurityConfig`, so every client authenticates alike.
- Secrets (SASL password, private-key password) are read from ``*_file`` / ``*_env`` each time a client is
  built — a rotated file is picked up by the next client — and are held as :class:`pydantic.SecretStr`
  until handed to the library. A missing, unreadable or empty source raises :class:`ConfigError` naming the
  config key and the file or variable, never the value.
- aiokafka logs every request at DEBUG, SASL PLAIN's ``user\0user\0password`` included:
  :func:`redact_client_logs` puts a :class:`RedactSecrets` filter on that logger, so ``truesli run
  --loglevel debug`` stays safe to paste into a ticket. librdkafka redacts its own secrets.
- :func:`describe_failure` turns librdkafka's connection errors into one line naming the fix, for the
  preflight check; it returns ``None`` for errors that are not security failures.
"""

from __future__ import annotations

import logging
import re
import ssl

from pydantic import SecretStr

from streams.config import ConfigError, KafkaSecurityConfig
from streams.config.secrets import REDACTED, read_secret


def _read_secret(sec: KafkaSecurityConfig, name: str) -> SecretStr | None:
    """The secret ``name`` (``password`` or ``key_password``) from its file or environment variable."""
    return read_secret(file=getattr(sec, f"{name}_file"), env=getattr(sec, f"{name}_env"),
                       what=f"kafka.security.{name}")


def _check_files(sec: KafkaSecurityConfig) -> None:
    """librdkafka reports an unreadable CA/cert/key file as an exception at client creation; say which key."""
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(sec, key)
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"kafka.security.{key}: cannot read {path}: {exc.strerror}") from None


def password_source(sec: KafkaSecurityConfig) -> str:
    """Where the SASL password comes from, for messages: the config key and the file or variable name."""
    if sec.password_file is not None:
        return f"kafka.security.password_file ({sec.password_file})"
    return f"kafka.security.password_env (environment variable {sec.password_env})"


def librdkafka_settings(sec: KafkaSecurityConfig) -> dict[str, str]:
    """The ``security.protocol``/``sasl.*``/``ssl.*`` settings of a confluent-kafka client."""
    conf = {"security.protocol": sec.protocol}
    if sec.sasl:
        password = _read_secret(sec, "password")
        assert sec.sasl_mechanism is not None and sec.username is not None and password is not None
        conf.update({"sasl.mechanism": sec.sasl_mechanism, "sasl.username": sec.username,
                     "sasl.password": password.get_secret_value()})
    if sec.tls:
        _check_files(sec)
        conf["ssl.endpoint.identification.algorithm"] = "https" if sec.verify_hostname else "none"
        if sec.ca_file is not None:
            conf["ssl.ca.location"] = sec.ca_file
        if sec.cert_file is not None and sec.key_file is not None:
            conf["ssl.certificate.location"] = sec.cert_file
            conf["ssl.key.location"] = sec.key_file
            key_password = _read_secret(sec, "key_password")
            if key_password is not None:
                conf["ssl.key.password"] = key_password.get_secret_value()
    return conf


def ssl_context(sec: KafkaSecurityConfig) -> ssl.SSLContext:
    """A client TLS context equivalent to :func:`librdkafka_settings` (for aiokafka)."""
    _check_files(sec)
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=sec.ca_file)
    except ssl.SSLError as exc:
        raise ConfigError(f"kafka.security.ca_file: {sec.ca_file} is not a PEM CA certificate ({exc.reason})") \
            from None
    # Verification of the certificate chain stays on in every case; only the name check is optional.
    ctx.check_hostname = sec.verify_hostname
    if sec.cert_file is not None and sec.key_file is not None:
        key_password = _read_secret(sec, "key_password")
        try:
            ctx.load_cert_chain(sec.cert_file, sec.key_file,
                                password=key_password.get_secret_value() if key_password else None)
        except ssl.SSLError as exc:
            raise ConfigError(f"kafka.security.cert_file/key_file: cannot load the client certificate "
                              f"{sec.cert_file} with key {sec.key_file} ({exc.reason}; a wrong "
                              "key_password_file/key_password_env gives this too)") from None
    return ctx


def faust_credentials(sec: KafkaSecurityConfig) -> object | None:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT)."""
    import faust

    if sec.protocol == "PLAINTEXT":
        return None
    ctx = ssl_context(sec) if sec.tls else None
    if not sec.sasl:
        return faust.SSLCredentials(ctx)
    password = _read_secret(sec, "password")
    assert password is not None
    # faust's SASLCredentials repr shows the user name only.
    return faust.SASLCredentials(username=sec.username, password=password.get_secret_value(),
                                 mechanism=sec.sasl_mechanism, ssl_context=ctx)


# TLS alerts a server sends about the client's certificate.
_CLIENT_CERT_ALERTS = ("bad certificate", "certificate required", "unknown ca", "certificate unknown")
# OpenSSL verify results that need a different fix than "trust the right CA".
_X509_CERT_HAS_EXPIRED = 10
_X509_HOSTNAME_MISMATCH = 62
_X509_IP_ADDRESS_MISMATCH = 64
_BROKER_IN_MESSAGE = re.compile(r"^[a-z_]+://([^/\s]+)/")


def _broker_address(detail: str) -> str | None:
    """``host:port`` of the broker a librdkafka error message is about (``ssl://host:port/bootstrap: …``)."""
    m = _BROKER_IN_MESSAGE.match(detail)
    return m.group(1) if m else None


def _verify_error(sec: KafkaSecurityConfig, address: str) -> ssl.SSLCertVerificationError | None:
    """Repeat the TLS handshake with Python's ssl module to learn *why* verification failed: librdkafka only
    says "certificate verify failed", which is the same for a wrong CA, a wrong host name and expiry."""
    import socket

    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        ctx = ssl_context(sec)
        with socket.create_connection((host, int(port)), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        return exc
    except (OSError, ValueError, ConfigError):
        return None


def _untrusted(sec: KafkaSecurityConfig, address: str) -> str:
    err = _verify_error(sec, address)
    code = err.verify_code if err is not None else None
    if code in (_X509_HOSTNAME_MISMATCH, _X509_IP_ADDRESS_MISMATCH):
        return (f"Kafka TLS: the broker certificate at {address} does not name that host — connect by a name the "
                "certificate lists (kafka.bootstrap_servers), or set kafka.security.verify_hostname: false")
    if code == _X509_CERT_HAS_EXPIRED:
        return f"Kafka TLS: the broker certificate at {address} has expired — the broker needs a renewed certificate"
    now = f"now {sec.ca_file}" if sec.ca_file else "now unset: the system trust store was used"
    why = f" ({err.verify_message})" if err is not None and err.verify_message else ""
    return (f"Kafka TLS: the broker certificate at {address} is not trusted{why} — set kafka.security.ca_file to "
            f"the CA certificate that signed it ({now})")


def describe_failure(sec: KafkaSecurityConfig, bootstrap: str, code: int, detail: str) -> str | None:
    """One line naming the fix for an authentication or TLS failure reported by librdkafka, else None."""
    from confluent_kafka import KafkaError

    low = detail.lower()
    if code in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED) or "sasl authentication" in low:
        if sec.sasl:
            return (f"Kafka authentication failed for user {sec.username} via {sec.sasl_mechanism} at {bootstrap} "
                    f"— check kafka.security.username and the password in {password_source(sec)}")
        return (f"Kafka at {bootstrap} refused the connection: authentication failed — check kafka.security "
                f"(protocol {sec.protocol})")
    if "alert" in low and any(a in low for a in _CLIENT_CERT_ALERTS):
        # The broker sent the alert: it is our certificate (or its absence) it does not accept. With TLS 1.3
        # this arrives after the handshake, as a transport error.
        if sec.cert_file is None:
            return (f"Kafka TLS: the broker at {bootstrap} requires a client certificate — set "
                    "kafka.security.cert_file and key_file")
        return (f"Kafka TLS: the broker at {bootstrap} rejected the client certificate {sec.cert_file} — it must be "
                "signed by a CA the broker trusts (kafka.security.cert_file/key_file)")
    if code == KafkaError._SSL or "ssl handshake failed" in low:
        if "certificate verify failed" in low or "could not be verified" in low:
            return _untrusted(sec, _broker_address(detail) or bootstrap.split(",")[0].strip())
        return (f"Kafka TLS handshake with {bootstrap} failed ({detail}) — check that kafka.security.protocol "
                f"({sec.protocol}) matches the broker's listener")
    return None


# The bytes of a SaslAuthenticateRequest as aiokafka's request repr shows them: b'…' or b"…".
_SASL_PAYLOAD = re.compile(r"""sasl_auth_bytes=b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


class RedactSecrets(logging.Filter):
    """Rewrites a log record without SASL payloads or any of the given secret values (never drops it)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem to report, not ours
            return True
        clean = _SASL_PAYLOAD.sub(f"sasl_auth_bytes={REDACTED}", message)
        for secret in self._secrets:
            clean = clean.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# Loggers of the client libraries that print request payloads.
_PAYLOAD_LOGGERS = ("aiokafka.conn",)


def redact_client_logs(sec: KafkaSecurityConfig) -> None:
    """Install (or replace) the :class:`RedactSecrets` filter on the Kafka client libraries' loggers."""
    values = [_read_secret(sec, "password") if sec.sasl else None,
              _read_secret(sec, "key_password") if sec.tls and sec.key_file else None]
    secret_filter = RedactSecrets([v.get_secret_value() for v in values if v is not None])
    for name in _PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactSecrets)]:
            logger.removeFilter(old)
        logger.addFilter(secret_filter)
