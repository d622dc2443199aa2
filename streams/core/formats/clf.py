"""Common/Combined Log Format and the layouts built on it (nginx, Apache, Traefik, ingress-nginx).

Head (before ``[time]``): the client address, or variants seen in real configs —
``$http_x_forwarded_for`` / ``$proxy_add_x_forwarded_for`` lists before the client
(``10.0.0.2, 10.0.0.1, 127.0.0.1 - -``, ``"a, b" 10.2.1.185 - -``), a virtual host first
(Apache ``vhost_combined`` ``%v:%p %h``, nginx ``$host $remote_addr``). The right-most address is the peer
(nginx's ``$proxy_add_x_forwarded_for`` ends with ``$remote_addr``); the ones before it are
X-Forwarded-For, used only under the trusted-proxy rules.

Tail (after the user agent), by shape:
- Traefik: ``<request count> "<router>" "<backend URL>" <duration with unit>`` — the count is NOT a time;
- ingress-nginx: ``$request_length $request_time [$proxy_upstream_name] [...] …`` — the second number;
- nginx ``main``: ``"$http_x_forwarded_for"``;
- otherwise a first number is ``$request_time`` in **seconds** (nginx's ``combined + $request_time``).
"""

from __future__ import annotations

import math
import re

from streams.core.formats.common import DecodeFailure, NO_REQUEST, fail, split_request_line, split_target
from streams.core.formats.units import UNIT_MS
from streams.core.timeparse import parse_clf

NAME = "combined"

# Quoted strings with possessive quantifiers: the engine keeps no backtracking state per character, so a
# 64 KB line of quotes and backslashes costs milliseconds, not a growing multiple of its length (measured
# in docs/benchmarks.md, "Hostile input"), and ordinary lines parse ~3× faster than with a plain ``*``.
_Q = r'"((?:[^"\\]++|\\.)*+)"'
_QD = r'(?:"((?:[^"\\]++|\\.)*+)"|-)'
# The plain layout (exactly ``ip ident user [time]``): tried first, it is what most lines are.
PLAIN = re.compile(
    r'^(\S+) \S+ \S+ \[([^\]]{1,40})\] ' + _Q + r' (\d{3}) (\S+)(?: ' + _Q + r' ' + _Q + r')?(.*)$',
    re.DOTALL)
# Any head before ident, user and the bracketed time (the lazy head stops at the first such shape).
_VARIANT = re.compile(
    r'^(.+?) (\S++) (\S++) \[([^\]]{1,40})\] ' + _Q + r' (\d{3}) (\S++)(?: ' + _QD + r' ' + _QD + r')?(.*)$',
    re.DOTALL)
_REF_UA = re.compile(r'^ ' + _QD + r' ' + _QD + r'(.*)$', re.DOTALL)  # a bare "-" referer or agent
_TRAEFIK_DURATION = re.compile(r'(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s)')
_INGRESS = re.compile(r'^ (\d++) (\d+\.\d+|-) \[')
_XFF = re.compile(r'^ "([0-9A-Fa-f:.,\[\] ]*)"')
_NO_STATUS = re.compile(r'\] "(?:[^"\\]++|\\.)*+" - ')
_CLF_TIME = re.compile(r'\[\d\d/[A-Z][a-z]{2}/\d{4}:')


def looks_like(line: str) -> bool:
    """A CLF time in brackets: the signature every layout of this family shares."""
    return _CLF_TIME.search(line, 0, 512) is not None


Record = tuple
"""This family's canonical record, as a tuple for speed (it is the most common text format):
(ts ms, peer, method, host, path without query, status int, duration ms | None, user agent,
X-Forwarded-For | None, layout name). The types are already checked; ``streams.core.decode`` applies
the shared caps and the address rules."""


def parse_plain(m: re.Match) -> Record | DecodeFailure:
    """A :data:`PLAIN` match (``ip ident user [time] "request" status bytes …``) → canonical record."""
    ip_text, time_text, request_line, status, _bytes, _ref, ua, rest = m.groups()
    if ua is None and rest[:2] in (' -', ' "'):
        m2 = _REF_UA.match(rest)
        if m2 is not None:
            ua, rest = m2.group(2) or "", m2.group(3)
    return _record(ip_text, None, "", time_text, request_line, status, ua, rest)


def parse(line: str, normalize_ip) -> Record | DecodeFailure | None:
    """One line → canonical record; None when it has no CLF shape at all (see the module doc)."""
    m = PLAIN.match(line)
    if m is not None:
        return parse_plain(m)
    return parse_variant(line, normalize_ip)


def parse_variant(line: str, normalize_ip) -> Record | DecodeFailure | None:
    """The layouts with more than one field before ident and user (address lists, virtual hosts)."""
    if not looks_like(line):
        return None  # a fast C scan; the lazy head below would walk the whole line to find nothing
    m = _VARIANT.match(line)
    if m is None:
        if _NO_STATUS.search(line, 0, 4096) is not None:
            return fail(NAME, "missing_field:status", "the status is '-': no response was logged (an "
                        "aborted request)")
        return fail(NAME, "unparseable_line", 'has a [dd/Mon/yyyy:…] time but not the layout '
                    '\'client ident user [time] "METHOD target protocol" status bytes\'')
    head, _ident, _user, time_text, request_line, status, _bytes, _ref, ua, rest = m.groups()
    split = split_head(head, normalize_ip)
    if split is None:
        return fail(NAME, "bad_type:client_ip", "the field before ident and user is not an address, an "
                    f"address list or 'vhost address': {head[:80]!r}")
    peer, xff, host = split
    out = _record(peer, xff, host, time_text, request_line, status, ua, rest)
    if type(out) is tuple:
        out = (*out[:9], "vhost" if host else "xff_list")
    return out


def _record(peer: str, xff: str | None, host: str, time_text: str, request_line: str, status: str,
            ua: str | None, rest: str) -> Record | DecodeFailure:
    try:
        ts = parse_clf(time_text)
    except (ValueError, OverflowError) as exc:
        return fail(NAME, "bad_timestamp", str(exc))
    split_req = split_request_line(NAME, request_line)
    if type(split_req) is DecodeFailure:
        return split_req
    method, target = split_req
    if target != NO_REQUEST:
        target, url_host = split_target(target)  # here, not in the decoder: CLF also drops a #fragment
        host = host or url_host
    duration = None
    layout = "plain"
    if rest:
        duration, tail_xff, layout = read_tail(rest)
        if tail_xff is not None and xff is None:
            xff = tail_xff
    return (ts, peer, method, host, target, int(status), duration,
            "" if ua is None or ua == "-" else ua.replace('\\"', '"'), xff, layout)


def read_tail(rest: str) -> tuple[float | None, str | None, str]:
    """(duration ms, X-Forwarded-For, layout name) from what follows the user agent (module doc); ``rest``
    is not empty. Also read once per distinct tail by the whole-batch decode (core/batch_clf.py)."""
    if rest[-1:] == "s":
        first, _, last = rest[1:].partition(" ")
        if first.isdigit() and first.isascii():
            m = _TRAEFIK_DURATION.fullmatch(last.rsplit(" ", 1)[-1])
            if m is not None:
                return float(m.group(1)) * UNIT_MS[m.group(2)], None, "traefik"
    if "[" in rest:
        m = _INGRESS.match(rest)
        if m is not None:
            return (None if m.group(2) == "-" else float(m.group(2)) * 1000.0), None, "ingress_nginx"
    if rest[:2] == ' "':
        m = _XFF.match(rest)
        if m is not None:
            value = m.group(1).strip()
            return None, (value if value and value != "-" else None), "nginx_main"
        return None, None, "plain"
    first = rest.split(None, 1)[0] if rest.strip() else ""
    try:
        value = float(first)
    except ValueError:
        return None, None, "plain"
    return (value * 1000.0 if math.isfinite(value) and value >= 0 else None), None, "request_time"


def split_head(head: str, normalize_ip) -> tuple[str, str | None, str] | None:
    """(peer, X-Forwarded-For or None, virtual host or "") of a head that is not a single address (also
    read once per distinct head by the whole-batch decode, core/batch_clf.py)."""
    xff = None
    if head[0] == '"':
        end = head.find('"', 1)
        if end < 0:
            return None
        quoted = head[1:end].strip()
        xff = quoted if quoted and quoted != "-" else None
        tokens = head[end + 1:].split()
    else:
        tokens = head.replace(",", " ").split()
    if not tokens:
        return None
    host = ""
    if normalize_ip(tokens[0]) is None and len(tokens) > 1:
        host = tokens[0]  # vhost_combined %v:%p, or nginx $host: the decoder drops the port
        tokens = tokens[1:]
    if any(normalize_ip(t) is None for t in tokens):
        return None
    if len(tokens) > 1:
        xff = ", ".join(tokens[:-1]) if xff is None else f"{xff}, {', '.join(tokens[:-1])}"
    return tokens[-1], xff, host


__all__ = ["NAME", "NO_REQUEST", "PLAIN", "looks_like", "parse", "parse_plain", "parse_variant", "read_tail",
           "split_head"]
