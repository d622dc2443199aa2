"""The one way truesli reads a secret: from a file or an environment variable named in the config.

Config files end up in git, ConfigMaps and bug reports, so secrets never sit in them; the config names where
a secret lives and :func:`read_secret` reads it when a client is built (a rotated file is picked up by the
next read). Used by ``kafka.security`` (SASL and private-key passwords) and ``remote_write`` (basic-auth
password, bearer token).

Contract: the value is returned as :class:`pydantic.SecretStr`; a file's trailing line endings are removed
(``echo`` and editors add one); a missing, unreadable, non-UTF-8 or empty source raises :class:`ConfigError`
with one line naming the config key and the file or variable — never the value.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from pydantic import SecretStr

from streams.config.base import ConfigError


def read_secret(*, file: str | None, env: str | None, what: str) -> SecretStr | None:
    """The secret configured as ``<what>_file`` (a path, preferred when both are given) or ``<what>_env`` (a
    variable name); None when neither is set. ``what`` is the config key without its suffix, e.g.
    ``kafka.security.password`` — error messages name ``<what>_file`` / ``<what>_env``."""
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"{what}_file: cannot read {file}: {reason}") from None
        value = value.rstrip("\r\n")
        if not value:
            raise ConfigError(f"{what}_file: {file} is empty")
        return SecretStr(value)
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{what}_env: environment variable {env} is not set")
        if not value:
            raise ConfigError(f"{what}_env: environment variable {env} is empty")
        return SecretStr(value)
    return None


# A header, query parameter or client-setting name that carries a credential. Names only: values are never
# inspected for this (except the auth-scheme check below) and never printed.
_SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|passphrase|cookie|session|credential|signature|private|api[-_.]?key|apikey"
    r"|(?:^|[-_.])(?:key|sig|jwt)$", re.IGNORECASE)
# A value that is an HTTP credential whatever header carries it ("Bearer abc", "Basic dXNlcjpwdw==").
_AUTH_SCHEME_VALUE = re.compile(r"^\s*(?:bearer|basic|digest|token|negotiate|apikey)\s+\S", re.IGNORECASE)
REDACTED = "<redacted>"


def looks_secret(name: str) -> bool:
    """Whether a header / query-parameter name is one that carries credentials (Authorization, Cookie,
    X-API-Key, access_token, api_key, sig, …)."""
    return bool(_SECRET_NAME.search(name))


def looks_like_credential(value: str) -> bool:
    """Whether a header value is an HTTP credential (``<scheme> <token>`` with a known auth scheme)."""
    return bool(_AUTH_SCHEME_VALUE.match(value))


def redact_url(url: str) -> str:
    """``url`` fit for a message: user info and every query value replaced by ``<redacted>`` (parameter
    names are kept, so the reader sees what was there), the fragment dropped."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # an unparseable port or IPv6 literal: show nothing that could be a secret
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{REDACTED}@" if "@" in parts.netloc else "") + host + port
    query = "&".join(f"{name.split('=', 1)[0]}={REDACTED}" if name else "" for name in parts.query.split("&"))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
