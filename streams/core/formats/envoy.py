"""Envoy's default text access log, and Istio's (its default ``accessLogFormat``).

Envoy: ``[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"``.
Istio inserts ``%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"``
after the flags and appends ``%UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS%
%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%``.

``%DURATION%`` is in **milliseconds**. Envoy's own layout logs no peer address: the right-most
X-Forwarded-For hop (the one Envoy appends with ``use_remote_address``) is taken as the peer and the list
goes through the trusted-proxy rules; with no X-Forwarded-For the request has no client address. Istio's
``%DOWNSTREAM_REMOTE_ADDRESS%`` is the peer when present. A word before the bracket (Ambassador's
``ACCESS``) is allowed. ``"- - -"`` with code 0 is a connection without an HTTP request.
"""

from __future__ import annotations

import re

from streams.core.formats.common import DecodeFailure, fail, parse_time, rightmost_hop, split_request_line
from streams.core.formats.units import duration_ms

NAME = "envoy"
_QS = r'"((?:[^"\\]++|\\.)*+)"'
_HEAD = re.compile(r'^(?:[A-Z]{1,16} )?\[(\d{4}-\d\d-\d\dT[^\]]{8,30})\] "')
_LINE = re.compile(
    r'((?:[^"\\]++|\\.)*+)" (\d{1,3}) (\S+)(?: (\S+) (\S+) ' + _QS + r')? (\S+) (\S+) (\S+) (\S+) '
    + _QS + ' ' + _QS + ' ' + _QS + ' ' + _QS + ' ' + _QS
    + r'(?: (\S+) (\S+) (\S+) (\S+)(?: |$))?')


def looks_like(line: str) -> bool:
    return _HEAD.match(line) is not None


def parse(line: str) -> dict | DecodeFailure | None:
    head = _HEAD.match(line)
    if head is None:
        return None
    m = _LINE.match(line, head.end())
    if m is None:
        return fail(NAME, "unparseable_line", 'expected "request" code flags bytes_received bytes_sent '
                    'duration upstream_time "x-forwarded-for" "user-agent" "request-id" "authority" '
                    '"upstream" after [start_time]')
    (request_line, code, _flags, _details, _termination, _failure, _rx, _tx, duration, _upstream_t, xff, ua,
     _request_id, authority, _upstream, _cluster, _up_local, _down_local, down_remote) = m.groups()
    ts = parse_time(NAME, head.group(1))
    if type(ts) is DecodeFailure:
        return ts
    split_req = split_request_line(NAME, request_line)
    if type(split_req) is DecodeFailure:
        return split_req
    method, target = split_req
    try:
        ms = duration_ms(duration, 1.0)
    except ValueError as exc:
        return fail(NAME, "bad_type:duration_ms", f"%DURATION%: {exc}")
    if down_remote is not None and down_remote != "-":
        peer, fwd = down_remote, (xff if xff != "-" else None)
    else:
        peer, fwd = rightmost_hop(xff)
    return {"ts": ts, "client_ip": peer, "method": method, "host": authority, "path": target,
            "status": int(code), "duration_ms": ms, "user_agent": ua, "forwarded_for": fwd}
