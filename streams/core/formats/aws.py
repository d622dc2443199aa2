"""AWS load-balancer access logs, space-separated as AWS writes them to S3.

- Application Load Balancer: ``type time elb client:port target:port request_processing_time
  target_processing_time response_processing_time elb_status_code target_status_code received_bytes
  sent_bytes "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" …``
  (``type`` is http, https, h2, grpcs, ws or wss; later fields vary by release and are not read).
- Classic Load Balancer: ``time elb client:port backend:port request_processing_time
  backend_processing_time response_processing_time elb_status_code backend_status_code received_bytes
  sent_bytes "request" "user_agent" ssl_cipher ssl_protocol``.

Duration: ``target_processing_time`` / ``backend_processing_time`` in **seconds** (the same field the
``alb`` JSON preset reads); ``-1`` (no target answered) means no duration. The host comes from the
request's absolute URL (the Host header). A line without an HTTP status (``-``: a TCP listener, or a
client that sent no request) is dead-lettered ``missing_field:status``.
"""

from __future__ import annotations

import re

from streams.core.formats.common import DecodeFailure, fail, parse_time, peer_text, split_request_line
from streams.core.formats.units import duration_ms

ALB = "aws_alb"
ELB = "aws_elb"
_Q = r'"((?:[^"\\]++|\\.)*+)"'
TYPES = ("http ", "https ", "h2 ", "grpcs ", "ws ", "wss ")
_LINE = re.compile(  # used with match(line, pos): no "^", which would only match at 0
    r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) '
    + _Q + r' ' + _Q + r'(?: |$)')
_SIGNATURE = re.compile(r'^(?:[a-z0-9]{2,5} )?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z \S+ \S+:\d+ ')


def looks_like(line: str) -> bool:
    return _SIGNATURE.match(line) is not None


def parse(line: str) -> dict | DecodeFailure | None:
    if _SIGNATURE.match(line) is None:
        return None
    if line.startswith(TYPES):
        name, start = ALB, line.index(" ") + 1
    elif line[:1].isdigit():
        name, start = ELB, 0
    else:
        return None
    m = _LINE.match(line, start)
    if m is None:
        return fail(name, "unparseable_line", "expected time, name, client:port, target:port, three "
                    "processing times, two status codes, two byte counts, then the quoted request and "
                    "user agent")
    (time_text, _elb, client, _target, _req_t, target_t, _resp_t, status, _target_status, _rx, _tx,
     request_line, ua) = m.groups()
    ts = parse_time(name, time_text)
    if type(ts) is DecodeFailure:
        return ts
    if status == "-":
        return fail(name, "missing_field:status", "no HTTP status ('-'): a TCP listener, or a client "
                    "that sent no request")
    split_req = split_request_line(name, request_line.strip())
    if type(split_req) is DecodeFailure:
        return split_req
    method, target = split_req
    try:
        duration = duration_ms(target_t, 1000.0)
    except ValueError as exc:
        return fail(name, "bad_type:duration_ms", f"target_processing_time: {exc}")
    return {"ts": ts, "client_ip": peer_text(client), "method": method, "host": "", "path": target,
            "status": status, "duration_ms": duration, "user_agent": ua, "forwarded_for": None}
