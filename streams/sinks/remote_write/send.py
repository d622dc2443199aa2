"""One HTTP POST of a remote-write body: connection (keep-alive), TLS, auth, and a safe account of the answer.

Contract:
- :class:`Sender` trusts its settings (``RemoteWriteConfig`` validated them); it never retries — that is
  :mod:`.policy`'s job — except once, on a fresh connection, when the receiver closed an idle keep-alive one.
- Every request carries the four protocol headers; configured headers cannot override them.
- A bearer token file is re-read for every request (tokens rotate); an unreadable file at construction is a
  :class:`~streams.config.ConfigError`, later the previous token is kept and a warning logged.
- Text from outside (response bodies, exception messages) reaches :attr:`Answer.error` only through
  :meth:`Sender.echo`: control characters escaped, the configured credentials redacted, at most
  ``ECHO_MAX_CHARS`` characters. URLs in messages are redacted (user info, query values).
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import logging
import math
import ssl
import time
import urllib.parse
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.config import ConfigError
from streams.config.secrets import REDACTED, read_secret, redact_url

log = logging.getLogger("truesli.remote_write")

ECHO_MAX_CHARS = 256
"""The most characters of a receiver's answer (after escaping) that go into a message."""
_BODY_READ_BYTES = 4096  # more than this of an error body is never decoded


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("truesli")
    except PackageNotFoundError:
        return "0.0.0"


USER_AGENT = f"truesli/{_version()}"


# Unicode categories never echoed raw: controls (C0, DEL, C1), format characters (bidi overrides, zero-width),
# surrogates, private use, unassigned, and the line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def escape_controls(text: str) -> str:
    """``text`` with every control or format character written as a Python-style escape (``\\x1b``,
    ``\\u202e``), so echoing it cannot move the cursor, retitle the terminal, reorder a line or add one."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class Answer:
    """What one POST got. ``status`` None: no HTTP answer (connection error, timeout); ``error``: a safe
    one-line account of a failure ("" for 2xx); ``retry_after_s``: a 429's Retry-After, in seconds."""

    status: int | None
    error: str
    retry_after_s: float | None = None


def parse_retry_after(value: str | None, now_wall: float) -> float | None:
    """Seconds to wait per a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
        return max(secs, 0.0) if math.isfinite(secs) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - now_wall, 0.0)


class Sender:
    """POSTs bodies to one receiver over one keep-alive connection. Not thread-safe (the sink's owner)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        bearer_token_file: str | None = None,
        bearer_token_env: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        insecure_skip_verify: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.shown_url = redact_url(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout_s = timeout_s
        self._clock = clock
        self._extra_headers = dict(headers or {})
        self._secrets: list[str] = []

        self._auth_header: str | None = None
        self._token_file = bearer_token_file
        if basic_auth is not None:
            user, password = basic_auth
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth_header = f"Basic {encoded}"
            self._secrets += [encoded, password]
        else:
            token = bearer_token
            if bearer_token_env is not None:
                secret = read_secret(file=None, env=bearer_token_env, what="remote_write.bearer_token")
                assert secret is not None
                token = secret.get_secret_value().strip()
                if not token:
                    raise ConfigError(f"remote_write.bearer_token_env: environment variable {bearer_token_env} "
                                      "is empty")
            elif bearer_token_file is not None:
                token = self._read_token_file()
            if token is not None:
                self._set_token(token)

        self._ssl: ssl.SSLContext | None = None
        if self._https:
            try:
                ctx = ssl.create_default_context(cafile=ca_file)
                if cert_file:
                    ctx.load_cert_chain(cert_file, key_file)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
                raise ConfigError(f"remote_write.ca_file: cannot load {ca_file or cert_file}: {reason}") from None
            if insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        self._conn: http.client.HTTPConnection | None = None
        self._conn_used = False
        self.connections_opened = 0

    # ------------------------------------------------------------------ auth and echo

    def _set_token(self, token: str) -> None:
        self._auth_header = f"Bearer {token}"
        if token not in self._secrets:
            self._secrets.append(token)

    def _read_token_file(self) -> str:
        secret = read_secret(file=self._token_file, env=None, what="remote_write.bearer_token")
        assert secret is not None
        token = secret.get_secret_value().strip()
        if not token:
            raise ConfigError(f"remote_write.bearer_token_file: {self._token_file} is empty")
        return token

    def echo(self, text: str) -> str:
        """``text`` from outside, safe to print: credentials this sender uses (bearer tokens, the basic-auth
        password and its base64 form) replaced by ``<redacted>``, control characters escaped, cut to
        ``ECHO_MAX_CHARS`` characters (marked with ``…``)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        text = escape_controls(text.strip())
        if len(text) > ECHO_MAX_CHARS:
            text = text[:ECHO_MAX_CHARS] + "…"
        return text

    def headers(self, length: int) -> dict[str, str]:
        headers = dict(self._extra_headers)
        if self._token_file is not None:
            try:
                self._set_token(self._read_token_file())  # re-read: tokens rotate
            except ConfigError as exc:
                log.warning("remote write: keeping the previous bearer token: %s", exc)
        if self._auth_header is not None:
            headers["Authorization"] = self._auth_header
        headers["Content-Encoding"] = "snappy"
        headers["Content-Type"] = "application/x-protobuf"
        headers["X-Prometheus-Remote-Write-Version"] = "0.1.0"
        headers["User-Agent"] = USER_AGENT
        headers["Content-Length"] = str(length)
        return headers

    # ------------------------------------------------------------------ HTTP

    def _new_conn(self, timeout: float) -> http.client.HTTPConnection:
        self.connections_opened += 1
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _failed(self, exc: BaseException) -> Answer:
        return Answer(None, f"connection to {self.shown_url} failed: {type(exc).__name__}: {self.echo(str(exc))}")

    def post(self, body: bytes, deadline: float) -> Answer:
        """POST ``body`` (snappy-compressed WriteRequest); the timeout is cut to what is left of ``deadline``
        (monotonic seconds of ``clock``), at least 0.1 s."""
        timeout = max(min(self.timeout_s, deadline - self._clock()), 0.1)
        headers = self.headers(len(body))
        for fresh_retry in (False, True):
            reused = self._conn is not None and self._conn_used
            if self._conn is None:
                self._conn = self._new_conn(timeout)
                self._conn_used = False
            elif self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            conn = self._conn
            conn.timeout = timeout
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                resp = conn.getresponse()
                status = resp.status
                # A 2xx body is never looked at; of an error body only the start is read and echoed.
                payload = resp.read() if 200 <= status < 300 else resp.read(_BODY_READ_BYTES)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and not fresh_retry:
                    continue  # the receiver closed an idle keep-alive connection: once more, fresh
                return self._failed(exc)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return self._failed(exc)
            self._conn_used = True
            if resp.will_close or not resp.isclosed():
                self.close()  # closing also discards an error body longer than what was read
            if 200 <= status < 300:
                return Answer(status, "")
            text = self.echo(payload.decode("utf-8", "replace"))
            retry_after = parse_retry_after(resp.getheader("Retry-After"), time.time()) if status == 429 else None
            return Answer(status, f"HTTP {status}: {text}", retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
