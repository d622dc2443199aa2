"""HAProxy ``option httplog`` lines (the syslog prefix is removed by :mod:`.envelope` first).

``client:port [accept_date] frontend backend/server [host] TR/Tw/Tc/Tr/Ta status bytes … "request"``
(HAProxy configuration manual, 8.2.3 "HTTP log format"). The last timer, ``Ta`` (``Tt`` before 1.5), is
the request's total active time in **milliseconds**; ``-1`` (aborted) means no duration, and a leading
``+`` (``option logasap``) marks a time that was still running — read as logged. ``accept_date`` has no
UTC offset: it is read as UTC. IPv6 clients are logged without brackets (``2001:db8::1:5000``); a
client of ``-`` or ``unix`` (UNIX socket, abns) is a request without a client address.
"""

from __future__ import annotations

import re

from streams.core.formats.common import DecodeFailure, fail, peer_text, split_request_line
from streams.core.timeparse import parse_clf

NAME = "haproxy"
_HEAD = re.compile(r'^(\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\] \S+ \S+ ')
_BODY = re.compile(  # used with match(line, pos): no "^", which would only match at 0
    r'(?:(\S+) )?(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/\+?(-?\d+) (\d{3}|-1) \+?\d+ ')


def looks_like(line: str) -> bool:
    return _HEAD.match(line) is not None


def parse(line: str) -> dict | DecodeFailure | None:
    head = _HEAD.match(line)
    if head is None:
        return None
    client, accept, millis = head.groups()
    m = _BODY.match(line, head.end())
    # The request is the last field, quoted; HAProxy writes a quote inside it as #22, so the opening quote
    # is the last one before the closing quote (found without scanning back and forth: linear).
    start = line.rfind('"', m.end() if m is not None else 0, len(line) - 1) if line.endswith('"') else -1
    if m is None or start < 0:
        return fail(NAME, "unparseable_line", "after 'frontend backend/server' expected the timers "
                    "TR/Tw/Tc/Tr/Ta, a status, bytes and a quoted request at the end of the line")
    host, *_timers, total, status = m.groups()
    request_line = line[start + 1:-1]
    try:
        ts = parse_clf(accept + " +0000") + (int((millis + "00")[:3]) if millis else 0)
    except (ValueError, OverflowError) as exc:
        return fail(NAME, "bad_timestamp", str(exc))
    split_req = split_request_line(NAME, request_line)
    if type(split_req) is DecodeFailure:
        return split_req
    method, target = split_req
    duration = int(total)
    return {"ts": ts, "client_ip": peer_text(client),
            "method": method, "host": host if host and "." in host else "", "path": target,
            "status": int(status) if status != "-1" else 0,
            "duration_ms": float(duration) if duration >= 0 else None, "user_agent": "", "forwarded_for": None}
