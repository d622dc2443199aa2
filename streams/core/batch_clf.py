"""Whole-batch Common/Combined Log Format decode into Arrow columns: the text-line twin of batch_columns.py.

Contract (the one of core/columns.py): ``finish_clf(decoder, read_clf(batch, cap), batch)`` equals
``from_decoded([decoder.decode(x) for x in batch])`` — every column value, every null, the same
DecodeFailure at the same row (tests/unit/core/test_batch_clf.py checks it differentially, on the real
logs and on generated hostile lines). Only for a decoder whose ``format`` is ``auto`` or ``combined`` and
that has no custom ``line_regex``: those read a text line with ``formats/clf.PLAIN`` first.

How: one RE2 pass (Arrow's kernel, without the GIL) marks the lines of the plain layout's common shape,
:data:`_COMBINED` (``combined``: referer and user agent quoted, anything after them) or :data:`_COMMON`
(nothing after the bytes field). The shape is chosen so that on such a line the fields sit between fixed
separators — the 1st, 2nd, 5th and 6th double quote, the last 28 characters before the first quote — and
so that ``clf.PLAIN`` reads exactly the same fields from it: every character class here is narrower than
PLAIN's (ASCII where PLAIN takes any non-space, no backslash anywhere, so no escapes to undo, no line
break inside). Splitting at the quotes then yields the fields in C; what ``clf.parse_plain`` and
``Decoder._from_clf`` do to them is done once per distinct value (time, address, method, user agent, the
tail after the user agent) or vectorised (path cut and cap). A line of any other shape — a variant head,
an escaped quote, a ``"-"`` request, a bad time — is decoded by ``Decoder.decode`` alone and patched in,
which names its failure. A batch that is not valid UTF-8, holds a line over the record cap, or has no
line of the shape at all is decoded per record whole. Under ``format: auto`` a batch whose first line has
a CRI envelope is read inside it (:data:`_CRI`), as the per-record path unwraps it.

Why: per record, a combined line cost ~10.6 µs on the 2-core box against ~1.4 µs in a batch here
(docs/benchmarks.md, twelfth round; docs/design.md §1, "Text lines in whole batches").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.arrays import filled
from streams.core.batch_columns import _CANONICAL_IPV4, _FWD_CAP, _cap, _distinct_path, _method_of, \
    _normalize_ip, _per_distinct, _valid_utf8, patch, user_agents
from streams.core.columns import RequestColumns
from streams.core.formats.clf import read_tail, split_head
from streams.core.line_arrays import ArrowLines
from streams.core.timeparse import parse_clf

if TYPE_CHECKING:
    from streams.core.decode import Decoder

def _shapes(address: str, token: str = "[!#-~]+", month: str = "[A-Za-z]{3}") -> tuple[str, str]:
    """(combined, common) shapes for an address field of the RE2 ``address``, ident and user fields of
    ``token`` and a month of ``month``."""
    # Address, ident and user, then status and bytes: ASCII without a quote, so that the quotes that
    # split a line are the request's, the referer's and the user agent's.
    time = r"[0-9]{2}/" + month + r"/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
    head = ("^" + address + " " + token + " " + token + r" \[" + time + r"\] "
            r'"[A-Za-z]{1,16} /[^ "\\\n\r]*(?: [^ "\\\n\r]*)?" [0-9]{3} [!#-~]+')  # "METHOD /target [proto]"
    return head + r' "[^"\\\n]*" "[^"\\\n]*"[^\\\n\r]*[\r\n]*$', head + r"[\r\n]*$"


_COMBINED, _COMMON = _shapes(r"[!#-z|}~]+")  # no "{" first: that is JSON
"""``_COMBINED``: referer and user agent quoted; after them anything without a quote escape or an inner
line break (a request time, Traefik's count/router/URL/duration, nginx ``main``'s X-Forwarded-For).
``_COMMON``: nothing after the bytes field (Apache ``common``)."""
_CRI = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2}) "
        r"(?:stdout|stderr) [FP] ")
"""The CRI envelope (containerd, CRI-O: ``formats/envelope.py``), which ``format: auto`` removes before
reading the line inside; the shapes inside it take no "[" first either — on such a line ``clf.PLAIN``
would try the envelope's fields as address, ident and user."""
_CRI_COMBINED, _CRI_COMMON = _shapes(r"[!#-Z^-z|}~]+")
_LIST, _ = _shapes(r"[0-9A-Fa-f.:]{1,45}(?:, [0-9A-Fa-f.:]{1,45}){1,8}", "[!#-Z^-~]{1,32}", "[A-Z][a-z]{2}")
"""A combined line whose address field is an address list (nginx ``$proxy_add_x_forwarded_for`` first:
``10.0.0.2, 10.0.0.1, 127.0.0.1 - - [...]``), which ``clf.parse_variant`` reads: two addresses or more,
so that ``clf.PLAIN`` never reads it; ident and user without brackets and every field bounded, so that
the CLF time lies inside the 512 characters ``clf.looks_like`` looks at and the variant's lazy head ends
where the list does; its month as ``looks_like`` spells it."""
_NO_AGENT = ' "" ""'
"""Appended to a ``common`` line so that every line splits at the same quotes: its user agent then reads
as "" and its tail as "", as ``clf.parse_plain`` reads them."""
_STAND_IN = '- - - [01/Jan/2000:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "" ""'
"""Put in place of a line of no handled shape before the split, so that the split stays regular; the
row is decoded per record (its ``ok`` is False)."""
_STAND_IN_HEAD = _STAND_IN[:_STAND_IN.index('"')]
_PROBE = 64
"""Lines of a batch looked at first: when none of them has a shape handled here (a HAProxy, ALB or Envoy
log), the batch goes per record without the passes over all of it."""


class ClfFields(dict):
    """Field columns of a batch (``read_clf``'s answer, its ``ok`` mask beside them): text as split out
    of the lines, not yet checked or converted. Produced off the core's thread, finished on it.
    ``listed``: True where the line's address field is an address list (its ``head`` column holds the
    list; None when no line has one)."""

    __slots__ = ("ok", "listed")

    def __init__(self, cols: dict[str, pa.Array], ok: pa.Array, listed: pa.Array | None = None) -> None:
        super().__init__(cols)
        self.ok = ok
        self.listed = listed


def _line_array(batch: Sequence[Any], max_bytes: int) -> pa.Array | None:
    """The batch as one ``string`` array, or None when it may not take this path: not exactly
    ``bytes`` items, a line over the cap, a JSON first line, no handled shape among the first
    :data:`_PROBE` lines, bytes that are not UTF-8."""
    if type(batch) is ArrowLines:
        if not len(batch) or batch.longest > max_bytes:
            return None
        lines = batch.lines
        if lines[0].as_py()[:1] == b"{":
            return None
    else:
        # The first item first: a consume call's JSON values that the JSON path declined end here cheaply.
        if not len(batch) or type(batch[0]) is not bytes or batch[0][:1] == b"{" or set(map(type, batch)) != {bytes}:
            return None
        lines = pa.array(batch, pa.large_binary())
        longest = pc.max(pc.binary_length(lines)).as_py()
        if longest is None or longest > max_bytes:
            return None
    if not _any_shape(lines.slice(0, _PROBE)) or not _valid_utf8(lines):
        return None
    return lines.view(pa.large_string()).cast(pa.string())  # the columns' type: the rules keep what they can


def _any_shape(lines: pa.Array) -> bool:
    """Whether any of ``lines`` (binary: RE2 reads them byte by byte, and every shape here matches the
    bytes of a UTF-8 line exactly when it matches its characters) has a shape handled here, enveloped or not."""
    return any(pc.any(pc.match_substring_regex(lines, shape)).as_py()
               for shape in (_COMBINED, _COMMON, _LIST, _CRI))


def read_clf(batch: Sequence[Any], max_bytes: int, envelopes: bool = False) -> ClfFields | None:
    """The plain-layout fields of every line of ``batch`` (C only, no GIL), or None when the batch is to
    be decoded per record (module docstring). ``envelopes``: the decoder removes envelopes (``format:
    auto``): a batch whose first line is CRI-enveloped is read inside the envelope."""
    text = _line_array(batch, max_bytes)
    if text is None:
        return None
    combined, common_shape, enveloped = _COMBINED, _COMMON, None
    if envelopes and pc.match_substring_regex(text.slice(0, 1), _CRI)[0].as_py():
        enveloped = pc.match_substring_regex(text, _CRI)
        text = pc.replace_substring_regex(text, _CRI, "", max_replacements=1)
        combined, common_shape = _CRI_COMBINED, _CRI_COMMON
    ok = pc.match_substring_regex(text, combined)
    if enveloped is not None:
        ok = pc.and_(ok, enveloped)
    listed = None
    if not pc.all(ok).as_py():
        common = pc.match_substring_regex(text, common_shape)
        listed = pc.match_substring_regex(text, _LIST)
        if enveloped is not None:
            common, listed = pc.and_(common, enveloped), pc.and_(listed, enveloped)
        either = pc.or_(pc.or_(ok, common), listed)
        if not pc.any(either).as_py():
            return None
        text = pc.if_else(common, pc.binary_join_element_wise(text, _NO_AGENT, ""),
                          pc.if_else(either, text, _STAND_IN))
        ok = either
        if not pc.any(listed).as_py():
            listed = None
    parts = pc.split_pattern(text, '"', max_splits=6)
    head = pc.list_element(parts, 0)
    request = pc.split_pattern(pc.list_element(parts, 1), " ", max_splits=2)
    tail = pc.list_element(parts, 6)
    if pc.any(pc.match_substring_regex(tail, r"[\r\n]$")).as_py():
        tail = pc.utf8_rtrim(tail, characters="\r\n")  # what the per-record path's rstrip("\r\n") drops
    cols = {
        "peer": pc.list_element(pc.split_pattern(head, " ", max_splits=1), 0),
        "time": pc.utf8_slice_codeunits(head, -28, -2),  # "[dd/Mon/yyyy:HH:MM:SS +zzzz] " ends the head
        "method": pc.list_element(request, 0),
        "target": pc.list_element(request, 1),
        "status": pc.cast(pc.utf8_slice_codeunits(pc.list_element(parts, 2), 1, 4), pa.int64()),
        "user_agent": pc.list_element(parts, 5),
        "tail": tail,
    }
    if listed is not None:
        # "a, b, c ident user [time] ": the head without its last 30 characters, then without ident and user.
        fields = pc.utf8_slice_codeunits(pc.if_else(listed, head, _STAND_IN_HEAD), 0, -30)
        cols["head"] = pc.list_element(pc.split_pattern(fields, " ", max_splits=2, reverse=True), 0)
    return ClfFields(cols, ok, listed)


def _time_ms(text: str) -> int | None:
    try:
        return parse_clf(text)
    except (ValueError, OverflowError):
        return None


# The tails whose duration Arrow can read without Python (each a case of ``clf.read_tail`` — which reads
# these exactly so; ASCII digits only, bounded so that every number is finite; a tail ending in "s" is
# Traefik's or nothing here, since read_tail tries Traefik first):
_REQUEST_TIME = r"^ [0-9]{1,15}(?:\.[0-9]{1,15})?$"        # nginx combined + $request_time (seconds)
_INGRESS = r"^ [0-9]{1,20} [0-9]{1,15}\.[0-9]{1,15} \[.*[^s]$"  # ingress-nginx: the second number (s)
_TRAEFIK = r"^ [0-9]{1,20} (?:.* )?[0-9]{1,15}(?:\.[0-9]{1,15})?m?s$"  # Traefik: the last field, ms or s


def _vector_durations(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(duration ms or null, handled) for distinct tails: ``handled`` where one of the shapes above read
    it, as ``read_tail`` would."""
    request_time = pc.match_substring_regex(values, _REQUEST_TIME)
    ingress = pc.match_substring_regex(values, _INGRESS)
    traefik = pc.match_substring_regex(values, _TRAEFIK)
    # The number of each shape: the whole tail, the second field, the last field without its unit.
    second = pc.list_element(pc.split_pattern(pc.if_else(ingress, values, " 0 0"), " ", max_splits=3), 2)
    last = pc.list_element(pc.split_pattern(pc.if_else(traefik, values, " 0"), " ", max_splits=1,
                                            reverse=True), 1)
    number = pc.if_else(request_time, pc.utf8_ltrim(values, characters=" "),
                        pc.if_else(ingress, second, pc.if_else(traefik, pc.utf8_rtrim(last, characters="ms"),
                                                               "0")))
    factor = pc.if_else(traefik, pc.if_else(pc.ends_with(last, "ms"), 1.0, 1000.0), 1000.0)
    handled = pc.or_(pc.or_(request_time, ingress), traefik)
    duration = pc.multiply(pc.cast(number, pa.float64()), factor)
    return pc.if_else(handled, duration, pa.scalar(None, pa.float64())), handled


def _tail_columns(tail: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(duration ms, X-Forwarded-For) of every row from what follows its user agent, as
    ``clf.read_tail`` reads it: once per distinct tail, the common shapes in Arrow and the rest in Python
    (a tail per line — ingress-nginx's and Traefik's carry ids and counts — would otherwise cost a
    Python call per line)."""
    n = len(tail)
    if not pc.max(pc.binary_length(tail)).as_py():
        return pa.nulls(n, pa.float64()), pa.nulls(n, pa.string())
    enc = pc.dictionary_encode(tail)
    values = enc.dictionary
    durations, handled = _vector_durations(values)
    durations = durations.to_pylist()
    forwarded: list[str | None] = [None] * len(values)
    for i, (value, done) in enumerate(zip(values.to_pylist(), handled.to_pylist())):
        if value and not done:
            durations[i], forwarded[i] = read_tail(value)[:2]
    fwd = pa.array(forwarded, pa.string())
    fwd_col = (pa.nulls(n, pa.string()) if fwd.null_count == len(fwd)
               else _cap(pc.take(fwd, enc.indices), _FWD_CAP))
    return pc.take(pa.array(durations, pa.float64()), enc.indices), fwd_col


def _listed(raw: ClfFields, client_ip: pa.Array, fwd: pa.Array, host: pa.Array
            ) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(client IP, X-Forwarded-For, host) with the rows of an address-list line read from their list by
    ``clf.split_head`` — once per distinct list —, as ``clf.parse_variant`` and ``Decoder._from_clf`` read
    it: the right-most address the peer, the ones before it the X-Forwarded-For (taking precedence over
    one in the tail), a first field that is no address a virtual host; a list it declines is null."""
    from streams.core.decode import _clean_host  # decode imports this module

    enc = pc.dictionary_encode(raw["head"])
    peers: list[str | None] = []
    lists: list[str | None] = []
    hosts: list[str | None] = []
    for value in enc.dictionary.to_pylist():
        split = split_head(value, _normalize_ip)
        peer, xff, vhost = split if split is not None else (None, None, "")
        peers.append(None if peer is None else _normalize_ip(peer))
        lists.append(None if xff is None else xff[:_FWD_CAP])
        hosts.append(_clean_host(vhost) if vhost else "")
    listed = raw.listed
    client_ip = pc.if_else(listed, pc.take(pa.array(peers, pa.string()), enc.indices), client_ip)
    head_xff = pc.take(pa.array(lists, pa.string()), enc.indices)
    fwd = pc.if_else(pc.and_(listed, pc.is_valid(head_xff)), head_xff, fwd)
    host = pc.if_else(listed, pc.take(pa.array(hosts, pa.string()), enc.indices), host)
    return client_ip, fwd, host


def finish_clf(decoder: "Decoder", raw: ClfFields, batch: Sequence[Any], path_cap: int,
               ua_cap: int) -> RequestColumns:
    """RequestColumns of ``batch`` from :func:`read_clf`'s answer for it (module contract)."""
    n = len(batch)
    encoded: dict[str, pa.Array] = {}
    ts_ms = _per_distinct(raw["time"], _time_ms, pa.int64())
    client_ip = _per_distinct(raw["peer"], _normalize_ip, pa.string(), same=_CANONICAL_IPV4)
    method = _per_distinct(raw["method"], _method_of, pa.string(), keep=encoded, name="method")
    path, _slash = _distinct_path(raw["target"], path_cap, encoded)  # every target starts "/" here
    ua = user_agents(raw["user_agent"], ua_cap, encoded)
    duration, fwd = _tail_columns(raw["tail"])
    host = filled("", n, pa.string())
    if raw.listed is not None:
        client_ip, fwd, host = _listed(raw, client_ip, fwd, host)
    ok = pc.and_(raw.ok, pc.and_(pc.is_valid(ts_ms), pc.is_valid(client_ip)))
    cols = {"ts_ms": ts_ms, "client_ip": client_ip, "method": method, "host": host,
            "path": path, "status": raw["status"], "duration_ms": duration, "user_agent": ua,
            "rate_limited": filled(False, n), "synthetic": filled(False, n), "forwarded_for": fwd}
    return patch(cols, ok, batch, decoder.decode, encoded)
