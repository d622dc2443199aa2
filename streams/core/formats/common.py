"""What every format parser returns, and the small field readers they share.

A parser turns one line (text) or one JSON object into a **canonical record**: a dict keyed by truesli's
field names with values already converted — ``ts`` in epoch ms (int), ``duration_ms`` in ms (float or
None), ``client_ip`` as the peer's address text (``""`` when the format logged no client address),
``forwarded_for`` as raw X-Forwarded-For text or None. ``streams.core.decode`` validates it (one set of
field rules for every format). A parser answers None when the input does not look like its format at all,
and a :class:`DecodeFailure` whose error starts with the format's name when it does but is broken.
"""

from __future__ import annotations

from typing import NamedTuple

from streams.core.timeparse import parse_clf, parse_rfc3339


class DecodeFailure(NamedTuple):
    """A record that did not decode: a stable ``reason`` (dashboards) and a human ``error``."""

    reason: str
    error: str


NO_REQUEST = "-"
"""Method and path of a line that records a connection without an HTTP request (``""`` / ``"-"``
request line: the client closed or sent nothing before the server answered, typically 400/408)."""


def fail(fmt: str, reason: str, what: str) -> DecodeFailure:
    return DecodeFailure(reason, f"{fmt}: {what}")


def split_request_line(fmt: str, request_line: str) -> tuple[str, str] | DecodeFailure:
    """``"GET /p HTTP/1.1"`` → (method, target). An empty or ``-`` line → (NO_REQUEST, NO_REQUEST)."""
    if request_line in ("", "-", "- - -", "- - - "):
        return NO_REQUEST, NO_REQUEST
    parts = request_line.split(" ")
    if len(parts) not in (2, 3) or not parts[0].isalpha() or len(parts[0]) > 16:
        return fail(fmt, "unparseable_line", "request line is not 'METHOD target [protocol]'")
    return parts[0], parts[1]


def peer_text(text: str) -> str:
    """A logged peer ``ip:port`` / ``[v6]:port`` / bare IPv6 followed by ``:port`` (HAProxy, ALB) → the
    address text for the decoder; ``-``, ``unix…`` and ``abns@…`` (no IP peer) → ``""``."""
    if not text or text[0] == "-" or text.startswith(("unix", "abns@")):
        return ""
    if text[0] == "[" or text.count(":") <= 1:
        return text  # normalize_ip strips the port of these
    # Bare IPv6 with a port appended ("2001:db8::1:443"): the port is what follows the last colon.
    # Without brackets this is ambiguous for an address ending in a hex group, so only formats that
    # always append a port may call this.
    head, _, port = text.rpartition(":")
    return head if port.isdigit() else text


def parse_time(fmt: str, text: str) -> int | DecodeFailure:
    """RFC 3339 or CLF time text → epoch ms, or a ``bad_timestamp`` failure naming the format."""
    if text[:1] == "[" and text[-1:] == "]":
        text = text[1:-1]  # "[$time_local]" as some JSON log_formats write it
    try:
        if len(text) == 26 and text[2] == "/":
            return parse_clf(text)
        return parse_rfc3339(text)
    except (ValueError, OverflowError) as exc:
        return fail(fmt, "bad_timestamp", str(exc))


def rightmost_hop(xff: str) -> tuple[str, str | None]:
    """For formats that log no peer but X-Forwarded-For (Envoy's default text): the right-most hop was
    appended by the logging proxy itself (the peer it saw) → (peer, full list for the trusted-proxy walk)."""
    if not xff or xff == "-":
        return "", None
    last = xff.rsplit(",", 1)[-1].strip()
    return last, xff


def split_target(target: str) -> tuple[str, str]:
    """Request target → (path without query or fragment, host from an absolute URL or '')."""
    host = ""
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=-1)
        host, target = (rest, "/") if end < 0 else (rest[:end], rest[end:])
    for sep in ("?", "#"):
        cut = target.find(sep)
        if cut >= 0:
            target = target[:cut]
    return (target or "/"), host
