"""bytes → Request, or a dead-letter reason. Never raises on input.

Accepted input, per record:
- a JSON object (one line of JSONL, or a Kafka message value), whose keys are mapped to truesli's
  request fields by a preset (truesli, nginx ``escape=json``, envoy, ALB-like) plus per-field overrides;
- a JSON object of a known access-log family (Envoy/Istio, nginx JSON, Traefik, Caddy, Cloudflare, Google
  Cloud LB, ALB-like), recognised by its keys when the configured mapping does not find its fields
  (``streams.core.formats.jsonlogs``);
- a text line of a known format: Common/Combined Log Format and its nginx/Apache/Traefik/ingress-nginx
  layouts, HAProxy ``httplog``, AWS ALB/classic ELB, Envoy/Istio default text
  (``streams.core.formats``), inside a Docker-JSON, CRI or syslog envelope or not;
- an already-parsed mapping: rows of Parquet files, which always use truesli's own field names (the
  Arrow schemas in schemas/), whatever preset the config names for JSON logs.

Formats are recognised per record (a file may mix them) in a fixed order whose first steps are the
common cases: the configured JSON mapping, then the plain CLF layout; the rest is tried only when those
do not apply. :meth:`Decoder.classify` also names the format that read a record (``truesli sniff``).
Whole batches take faster routes to the same answers, line for line: JSON lines read by Arrow
(core/batch_columns.py), Common/Combined lines split at their quotes (core/batch_clf.py).

Failures come back as ``DecodeFailure(reason, error)``. Reasons are stable identifiers meant for
dashboards: ``oversized``, ``empty``, ``invalid_utf8``, ``malformed_json``, ``not_an_object``,
``missing_field:<name>``, ``bad_type:<name>``, ``bad_timestamp``, ``unparseable_line``, ``future_timestamp``.
When a record looked like a known format but was broken, the error starts with that format's name
(``haproxy: …``, ``syslog > haproxy: …``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from operator import itemgetter
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from streams.config import FIELD_NAMES, InputConfig
from streams.core.batch_columns import arrow_schema, finish_raw as _finish_raw, read_raw as _read_raw, \
    row_columns as _row_columns
from streams.core.batch_clf import ClfFields, finish_clf, read_clf
from streams.core.batch_decode import FAST_ERRORS, batch_is_clean, fast_struct_decoder
from streams.core.columns import ColumnBatch, RequestColumns, take_rows
from streams.core.formats import aws, clf, envelope, envoy, haproxy, jsonlogs
from streams.core.formats.custom import LineRegex
from streams.core.formats.common import DecodeFailure, split_target as _split_target
from streams.core.formats.units import UNIT_MS, duration_text_ms
from streams.core.timeparse import (MAX_TS_MS, MILLIS_OF, MIN_TS_MS, SECOND_MS_CACHE,
                                    parse_epoch, parse_rfc3339)
from streams.core.model import Request

PRESETS: dict[str, dict[str, str]] = {
    "truesli": {name: name for name in FIELD_NAMES},
    "nginx": {
        "ts": "time_iso8601", "client_ip": "remote_addr", "method": "request_method", "host": "host",
        "path": "request_uri", "status": "status", "duration_ms": "request_time",
        "user_agent": "http_user_agent", "bytes": "body_bytes_sent", "forwarded_for": "http_x_forwarded_for",
        "request_id": "request_id",
    },
    "envoy": {
        "ts": "start_time", "client_ip": "downstream_remote_address", "method": "method", "host": "authority",
        "path": "path", "status": "response_code", "duration_ms": "duration", "user_agent": "user_agent",
        "bytes": "bytes_sent", "forwarded_for": "x_forwarded_for", "request_id": "request_id",
    },
    "alb": {
        "ts": "time", "client_ip": "client", "method": "request_verb", "host": "domain_name",
        "path": "request_url", "status": "elb_status_code", "duration_ms": "target_processing_time",
        "user_agent": "user_agent", "bytes": "sent_bytes", "request_id": "trace_id",
    },
}
PRESET_DURATION_UNITS = {"truesli": "ms", "nginx": "s", "envoy": "ms", "alb": "s"}
_UNIT_FACTOR = UNIT_MS

RAW_LIMIT = 4096
"""Dead letters keep at most this many characters of the original record."""


class OversizedRow(bytes):
    """A parsed row (Parquet) found larger than the record cap *before* it was converted: the bytes are a
    bounded JSON excerpt (every field cut short), ``size`` the row's full size in bytes, ``field`` and
    ``field_bytes`` its largest field. ``where`` holds the row's integer fields (for positions). The
    decoder dead-letters it as ``oversized``; no Python string of the full row ever exists."""

    size: int
    field: str
    field_bytes: int
    where: dict

    def __new__(cls, excerpt: bytes, size: int, field: str, field_bytes: int,
                where: dict | None = None) -> "OversizedRow":
        obj = super().__new__(cls, excerpt)
        obj.size, obj.field, obj.field_bytes, obj.where = size, field, field_bytes, where or {}
        return obj


_INF = float("inf")

_KeySpec = tuple
"""(itemgetter of ts, client_ip, method, host, path, status, duration_ms, user_agent; then those eight
input keys one by one; then the rate_limited, synthetic and forwarded_for keys)."""


def _key_spec(keys: tuple[str, ...]) -> _KeySpec:
    """The input keys ``_from_mapping`` reads, from a tuple of input keys in FIELD_NAMES order."""
    by_field = dict(zip(FIELD_NAMES, keys))
    required = tuple(by_field[f] for f in ("ts", "client_ip", "method", "host", "path", "status",
                                           "duration_ms", "user_agent"))
    return (itemgetter(*required), *required, by_field["rate_limited"], by_field["synthetic"],
            by_field["forwarded_for"])


_CANONICAL_KEYS = _key_spec(FIELD_NAMES)
_SECOND_MS_GET = SECOND_MS_CACHE.get
_MILLIS_GET = MILLIS_OF.get
_loads = orjson.loads

_HOST_CACHE: dict[str, str] = {}
"""raw host → :func:`_clean_host` of it. Hosts are few; bounded anyway (hostile input can vary them)."""
_HOST_CACHE_LIMIT = 4096
_HOST_CACHEABLE = 255  # DNS names are at most 253 characters: longer ones are hostile, not worth keeping


def _clean_host_remembered(host: str) -> str:
    """:func:`_clean_host`, remembered in ``_HOST_CACHE`` (the miss path of the decoder's lookup)."""
    clean = _clean_host(host)
    if len(host) <= _HOST_CACHEABLE:
        if len(_HOST_CACHE) >= _HOST_CACHE_LIMIT:
            _HOST_CACHE.clear()
        _HOST_CACHE[host] = clean
    return clean


@lru_cache(maxsize=1 << 16)
def normalize_ip(text: str) -> str | None:
    """Canonical text of an IP address; strips a ``:port`` / ``[v6]:port`` suffix. None if invalid."""
    if len(text) > 64:
        return None
    candidate = text.strip()
    if candidate.startswith("["):
        end = candidate.find("]")
        candidate = candidate[1:end] if end > 0 else candidate
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    if _is_canonical_ipv4(candidate):
        return candidate  # what ipaddress would return, at a tenth of the cost (cache misses are common)
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _is_canonical_ipv4(text: str) -> bool:
    """True if ``text`` is a dotted quad exactly as ``ipaddress`` accepts and prints it: four ASCII decimal
    octets ≤ 255 of at most three digits, no leading zeros."""
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not (p.isascii() and p.isdigit()) or len(p) > 3 or (p[0] == "0" and p != "0") or int(p) > 255:
            return False
    return True


_PLAIN_CLF = clf.PLAIN.match
_MAX_DEPTH = 2  # envelopes inside envelopes (syslog inside CRI); deeper nesting is not a log format
_TEXT_FAMILIES = (("haproxy", haproxy.parse), ("aws", aws.parse), ("envoy", envoy.parse))
_UNPARSEABLE = DecodeFailure(
    "unparseable_line", "not JSON and not a known access-log format (combined, haproxy, aws_alb, aws_elb, "
    "envoy; also inside docker_json, cri or syslog envelopes)")


def _strict_bool(value: Any) -> bool | None:
    if value is True or value is False:
        return value
    if value in ("true", "1", 1, "yes", "True"):
        return True
    if value in ("false", "0", 0, "no", "False", "", None, "-"):
        return False
    return None


class Decoder:
    """Turns one raw record into a Request. Stateless apart from bounded caches; safe to share."""

    __slots__ = ("_cfg", "_keys", "_k", "_nested", "_duration_factor", "_max_bytes", "_ua_cap", "_path_cap",
                 "_format", "_json_name", "_custom", "_fast", "_arrow", "_clf")

    def __init__(self, cfg: InputConfig) -> None:
        self._cfg = cfg
        keys = dict(PRESETS[cfg.preset])
        keys.update(cfg.fields)
        self._keys = keys
        self._nested = {key: tuple(key.split(".")) for key in keys.values() if "." in key}
        self._k = _key_spec(tuple(keys.get(name, f"\0{name}") for name in FIELD_NAMES))
        unit = cfg.duration_unit or PRESET_DURATION_UNITS[cfg.preset]
        self._duration_factor = _UNIT_FACTOR[unit]
        self._max_bytes = cfg.max_line_bytes
        self._ua_cap = cfg.max_user_agent_chars
        self._path_cap = cfg.max_path_chars
        self._format = cfg.format
        self._json_name = f"json:{cfg.preset}" + ("+fields" if cfg.fields else "")
        # A custom text format's bare durations are in duration_unit, else ms (not the JSON preset's unit).
        self._custom = (LineRegex(cfg.line_regex, _UNIT_FACTOR[cfg.duration_unit or "ms"])
                        if cfg.line_regex else None)
        self._fast = fast_struct_decoder(keys) if cfg.format in ("auto", "jsonl") and not self._nested else None
        # The whole-batch Arrow read takes the field maps the msgspec Struct takes (flat, one key a field).
        self._arrow = arrow_schema(keys) if self._fast is not None else None
        # Text lines read by clf.PLAIN before anything else: those formats may take whole batches too.
        self._clf = cfg.format in ("auto", "combined") and self._custom is None

    def batch_decoder(self, items: Sequence[bytes | str | dict]) -> Callable[[Any], Request | DecodeFailure]:
        """The decode function for the items of this batch: ``decode`` itself, or — for a clean batch of
        a preset that fits one msgspec Struct (core/batch_decode.py) — ``_decode_fast``, equal to it item
        for item. Per item, not a list: holding a batch of Requests at once costs more in GC than
        msgspec saves (measured, docs/benchmarks.md)."""
        if self._fast is not None and batch_is_clean(items):
            return self._decode_fast
        return self.decode

    def decode_columns(self, batch: Sequence[bytes | str | dict]) -> RequestColumns:
        """The batch as Arrow columns, equal to ``from_decoded([self.decode(x) for x in batch])``: JSON
        lines read whole by pyarrow (core/batch_columns.py) and Common/Combined lines split whole
        (core/batch_clf.py) where the batch allows it, else per record."""
        return self.finish_raw(self.read_raw(batch), batch)

    def read_raw(self, batch: Sequence[bytes | str | dict], parallel: bool = False,
                 defer_pattern: bool = False) -> Any:
        """The first half of :meth:`decode_columns`: the screen and Arrow's read (C, mostly without the
        GIL — what a read-ahead thread can do); hand the answer to :meth:`finish_raw` with the same batch.
        ``parallel``: Arrow parses on its CPU pool (for a caller decoding on the thread that bounds it:
        core/batch_columns.py ``_PARALLEL``). ``defer_pattern``: the screen's RE2 pass runs in
        :meth:`finish_raw` instead (batch_columns ``read_raw``). A batch of text lines: their split
        (batch_clf ``read_clf``)."""
        raw = _read_raw(batch, self._arrow, self._max_bytes, parallel, defer_pattern)
        if raw is None and self._clf:
            return read_clf(batch, self._max_bytes, self._format == "auto")
        return raw

    def finish_raw(self, raw: Any, batch: Sequence[bytes | str | dict]) -> RequestColumns:
        """The second half: ``finish_raw(read_raw(b), b)`` equals ``decode_columns(b)``."""
        if type(raw) is ClfFields:
            return finish_clf(self, raw, batch, self._path_cap, self._ua_cap)
        return _finish_raw(self, raw, batch, self._duration_factor, self._path_cap, self._ua_cap)

    def finish_groups(self, raw: Any, items: Sequence[bytes | str | dict], groups: dict[Any, list[int]]
                      ) -> dict[Any, ColumnBatch]:
        """``items`` decoded once and split, from :meth:`read_raw`'s answer for them (which a read-ahead
        thread may give): group → a ColumnBatch of its rows (positions into ``items``, in the order given).
        Equal to decoding each group's items alone (decoding is item by item), at one whole-batch decode's
        fixed cost instead of one per group — a Kafka consume call's records split by partition, each for
        its own pipeline (sources/kafka.py)."""
        if not groups:
            return {}
        cols = self.finish_raw(raw, items)
        return {key: ColumnBatch(take_rows(cols, rows), [items[i] for i in rows]) for key, rows in groups.items()}

    def row_columns(self, raw: Any, rows: Sequence[Any], excluded: Any = None) -> RequestColumns:
        """Parsed rows (Parquet) as Arrow columns, equal to ``from_decoded([self.decode(r) for r in rows])``
        (core/batch_columns.py ``row_columns``: ``raw`` field columns or None, ``excluded`` rows)."""
        return _row_columns(self, raw, rows, excluded, self._path_cap, self._ua_cap)

    def _decode_fast(self, item: Any) -> Request | DecodeFailure:
        """``decode(item)`` for an item of a clean batch: msgspec validates the common shape in C and this
        finishes it as ``_from_mapping`` would; anything else goes the per-record way."""
        if type(item) is not bytes or len(item) > self._max_bytes or item[:1] != b"{":
            return self.decode(item)
        try:
            r = self._fast(item)
        except FAST_ERRORS:
            return self.decode(item)
        req = self._from_clean(r)
        return req if req is not None else self.decode(item)

    def _from_clean(self, r: Any) -> Request | None:
        """A Request from a msgspec-validated record of the common shape (ASCII, typed and ranged by
        batch_decode), exactly as ``_from_mapping`` would build it; None → take the per-record path."""
        ts = r.ts
        if ts[23] != "Z" or ts[19] != ".":
            return None
        sec_ms = _SECOND_MS_GET(ts[:19])
        millis = _MILLIS_GET(ts[20:23])
        if sec_ms is None or millis is None:
            return None
        ts_ms = sec_ms + millis
        if not MIN_TS_MS <= ts_ms < MAX_TS_MS:
            return None
        client_ip = normalize_ip(r.client_ip)
        path = r.path
        if client_ip is None or path[0] != "/":
            return None
        if "?" in path:
            path = path[: path.find("?")]
            if "#" in path:
                path = path[: path.find("#")]
        if len(path) > self._path_cap:
            path = path[: self._path_cap]
        host = r.host
        if host is None or host == "-":
            host = ""
        elif host:
            clean = _HOST_CACHE.get(host)
            host = clean if clean is not None else _clean_host_remembered(host)
        duration = r.duration_ms
        ua = r.user_agent
        if ua is None or ua == "-":
            ua = ""
        elif len(ua) > self._ua_cap:
            ua = ua[: self._ua_cap]
        req = Request(ts_ms, client_ip, r.method.upper(), host, path, r.status,
                      None if duration is None else duration * self._duration_factor, ua)
        flag = getattr(r, "rate_limited", None)
        if flag is not None:
            req.rate_limited = flag
        flag = getattr(r, "synthetic", None)
        if flag is not None:
            req.synthetic = flag
        fwd = getattr(r, "forwarded_for", None)
        if fwd is not None and fwd != "-":
            req.forwarded_for = fwd[:1024]
        return req

    # -- entry points ------------------------------------------------------------------------------
    def decode(self, item: bytes | str | dict) -> Request | DecodeFailure:
        """One record → Request or DecodeFailure (never raises). The two common shapes — a JSON line the
        configured mapping reads, a plain CLF line — are inlined; everything else goes through
        :meth:`classify`."""
        if type(item) is bytes and len(item) <= self._max_bytes:
            head = item[:1]
            if head == b"{" and self._format != "combined":
                try:
                    obj = _loads(item)
                except orjson.JSONDecodeError:
                    return self.classify(item)[1]
                if type(obj) is dict:
                    if self._nested:
                        obj = self._flatten(obj)
                    out = self._from_mapping(obj, self._k, self._duration_factor, False)
                    if type(out) is DecodeFailure and out[0].startswith("missing_field:"):
                        return self._json_fallback(obj, out, 0)[1]
                    return out
            elif head != b"{" and self._format == "auto" and head and not head.isspace() and self._custom is None:
                try:
                    text = item.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return DecodeFailure("invalid_utf8", str(exc))
                m = _PLAIN_CLF(text.rstrip("\r\n"))
                if m is not None:
                    return self._from_clf(clf.parse_plain(m))
                return self._text(text, 0)[1]
        return self.classify(item)[1]

    def classify(self, item: bytes | str | dict) -> tuple[str, Request | DecodeFailure]:
        """(name of the format that read the record — or that it looked like, for a failure —, result).
        Names: ``json:<preset>``, a JSON family, ``combined/<layout>``, ``haproxy``, ``aws_alb``,
        ``aws_elb``, ``envoy``, prefixed ``<envelope> > `` when unwrapped; ``-`` for no format at all."""
        if type(item) is dict:
            return "row", self._from_mapping(item, _CANONICAL_KEYS, 1.0, True)
        if isinstance(item, (bytearray, memoryview)):
            return self.classify(bytes(item))
        if isinstance(item, dict):  # a subclass: copy, so lookups behave exactly as on a plain dict
            return "row", self._from_mapping(dict(item), _CANONICAL_KEYS, 1.0, True)
        if type(item) is OversizedRow:
            return "row", DecodeFailure("oversized", f"row is {item.size} bytes ({item.field} {item.field_bytes}); "
                                                     f"the cap is {self._max_bytes} (input.max_line_bytes)")
        if len(item) > self._max_bytes:
            size = getattr(item, "size", len(item))  # a file reader's OverlongLine knows the full length
            return "-", DecodeFailure("oversized", f"record is {size} bytes; the cap is {self._max_bytes}")
        fmt = self._format
        if type(item) is bytes:
            head = item[:1]
            if head.isspace():
                head = item.lstrip()[:1]
            if not head:
                return "-", DecodeFailure("empty", "empty record")
            if head == b"{" and fmt != "combined" or fmt == "jsonl":
                return self._from_json(item, 0)
            try:
                text = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                return "-", DecodeFailure("invalid_utf8", str(exc))
            return self._text(text, 0)
        text = item.lstrip()
        if not text:
            return "-", DecodeFailure("empty", "empty record")
        if not text.isascii() and not _encodable(text):
            return "-", DecodeFailure("invalid_utf8", "lone surrogate in the record (not valid Unicode)")
        if text[0] == "{" and fmt != "combined" or fmt == "jsonl":
            return self._from_json(text, 0)
        return self._text(text, 0)

    # -- JSON ------------------------------------------------------------------------------------------
    def _from_json(self, raw: bytes | str, depth: int) -> tuple[str, Request | DecodeFailure]:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            msg = str(exc)
            if "UTF-8" in msg or "surrogate" in msg:
                return "-", DecodeFailure("invalid_utf8", msg)
            return "-", DecodeFailure("malformed_json", msg)
        if not isinstance(obj, dict):
            return "-", DecodeFailure("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
        if self._nested:
            obj = self._flatten(obj)
        out = self._from_mapping(obj, self._k, self._duration_factor, False)
        if type(out) is DecodeFailure and out[0].startswith("missing_field:"):
            return self._json_fallback(obj, out, depth)
        return self._json_name, out

    def _json_fallback(self, obj: dict, primary: DecodeFailure,
                       depth: int) -> tuple[str, Request | DecodeFailure]:
        """The configured mapping found no fields in ``obj``: a known JSON family, or the line inside a
        container-log envelope; otherwise the configured mapping's own failure."""
        found = jsonlogs.recognise(obj)
        if found is not None:
            name, rec = found
            return name, self._canonical(rec, name)
        inner = envelope.json_payload(obj)
        if inner is not None and depth < _MAX_DEPTH:
            return self._wrapped(envelope.DOCKER, inner, depth)
        return self._json_name, primary

    def _wrapped(self, env: str, inner: str, depth: int) -> tuple[str, Request | DecodeFailure]:
        stripped = inner.lstrip()
        if not stripped:
            return env, DecodeFailure("empty", f"{env}: empty line inside the envelope")
        if stripped[0] == "{":
            name, out = self._from_json(stripped, depth + 1)
        else:
            name, out = self._text(stripped, depth + 1)
        if type(out) is DecodeFailure:
            out = DecodeFailure(out[0], f"{env} > {out[1]}")
        return f"{env} > {name}", out

    # -- text formats ----------------------------------------------------------------------------------
    def _text(self, line: str, depth: int) -> tuple[str, Request | DecodeFailure]:
        """A non-JSON line: plain CLF, then envelopes (CRI, syslog), then the other layouts and formats;
        the first that claims the line decides. ``format: combined`` allows the CLF family only."""
        line = line.rstrip("\r\n")
        if self._custom is not None:
            rec = self._custom.parse(line)
            if rec is not None:
                return "custom", self._canonical(rec, "custom")
        m = _PLAIN_CLF(line)
        if m is not None:
            rec = clf.parse_plain(m)
            return _clf_name(rec), self._from_clf(rec)
        if self._format == "combined":
            rec = clf.parse_variant(line, normalize_ip)
            if rec is None:
                return "-", DecodeFailure("unparseable_line", "not Common/Combined Log Format")
            return _clf_name(rec), self._from_clf(rec)
        if depth < _MAX_DEPTH:
            wrapped = envelope.unwrap_text(line)
            if wrapped is not None:
                return self._wrapped(wrapped[0], wrapped[1], depth)
        variant = clf.parse_variant(line, normalize_ip)
        if type(variant) is tuple:
            return _clf_name(variant), self._from_clf(variant)
        for name, parse in _TEXT_FAMILIES:
            rec = parse(line)
            if rec is not None:
                if name == "aws":
                    name = aws.ALB if line.startswith(aws.TYPES) else aws.ELB
                return name, self._canonical(rec, name)
        if variant is not None:  # only CLF claimed the line (a bracketed CLF time): that is the closest
            return clf.NAME, variant
        return "-", _UNPARSEABLE

    def _from_clf(self, rec: tuple | DecodeFailure) -> Request | DecodeFailure:
        """A CLF-family record (:data:`streams.core.formats.clf.Record`: types already checked, path
        already split) → Request, with the rules of :meth:`_from_mapping` that still apply: the address,
        the path/user-agent caps, the host cleaning, the X-Forwarded-For cap."""
        if type(rec) is not tuple:
            return rec
        ts, peer, method, host, path, status, duration, ua, fwd, _layout = rec
        client_ip = normalize_ip(peer)
        if client_ip is None:
            return DecodeFailure("bad_type:client_ip", f"{clf.NAME}: not an IP address")
        if len(path) > self._path_cap:
            path = path[: self._path_cap]
        if host:
            clean = _HOST_CACHE.get(host)
            host = clean if clean is not None else _clean_host_remembered(host)
        if len(ua) > self._ua_cap:
            ua = ua[: self._ua_cap]
        req = Request(ts, client_ip, method.upper(), host, path, status, duration, ua)
        if fwd is not None:
            req.forwarded_for = fwd[:1024]
        return req

    def _canonical(self, rec: dict | DecodeFailure, name: str) -> Request | DecodeFailure:
        """A parser's canonical record through the one set of field rules; failures name the format."""
        if type(rec) is DecodeFailure:
            return rec
        out = self._from_mapping(rec, _CANONICAL_KEYS, 1.0, False)
        if type(out) is DecodeFailure:
            return DecodeFailure(out[0], f"{name}: {out[1]}")
        return out

    def _flatten(self, obj: dict) -> dict:
        """Lift dotted (nested) keys to the top level so the fast path needs plain lookups."""
        flat = dict(obj)
        for key, path in self._nested.items():
            cur: Any = obj
            for part in path:
                cur = cur.get(part) if isinstance(cur, dict) else None
            flat[key] = cur
        return flat

    def _from_mapping(self, obj: dict, keys: _KeySpec, duration_factor: float,
                      check_text: bool) -> Request | DecodeFailure:
        """``check_text``: the strings did not come from orjson (which rejects lone surrogates), so make
        sure the ones that reach RE2 — which cannot encode them — are valid Unicode. An empty client IP
        (``""``) is a request whose log has no client address (HAProxy ``-``, a UNIX socket, Envoy text
        without X-Forwarded-For), not a missing field: it decodes, and per-IP filters skip it."""
        # Absent and JSON null are the same thing for every field.
        (fetch, k_ts, k_ip, k_method, k_host, k_path, k_status, k_duration, k_ua, k_rate_limited, k_synthetic,
         k_forwarded) = keys
        get = obj.get
        try:
            # One C call for the eight fields every request carries; any of them absent → plain lookups.
            ts, ip, method, host, path, status, duration, ua = fetch(obj)
        except KeyError:
            ts, ip, method, host, path, status, duration, ua = (
                get(k_ts), get(k_ip), get(k_method), get(k_host), get(k_path), get(k_status), get(k_duration),
                get(k_ua))
        ts_ms = 0  # MIN_TS_MS > 0, so 0 means "not parsed by the fast path"
        if type(ts) is str and len(ts) == 24 and ts[23] == "Z" and ts[19] == ".":
            # The common shape (RFC 3339, ms, Z) whose second was seen before: a hit in the cache proves the
            # prefix valid; anything else (a miss, an odd fraction, out of range) takes the general path.
            sec_ms = _SECOND_MS_GET(ts[:19])
            millis = _MILLIS_GET(ts[20:23])
            if sec_ms is not None and millis is not None:
                ts_ms = sec_ms + millis
                if not MIN_TS_MS <= ts_ms < MAX_TS_MS:
                    ts_ms = 0  # the general path names the error
        if not ts_ms:
            if ts is None or ts == "" or ts == "-":
                return DecodeFailure("missing_field:ts", "no timestamp")
            try:
                tt = type(ts)
                if tt is str:
                    ts_ms = parse_epoch(float(ts)) if _looks_numeric(ts) else parse_rfc3339(ts)
                elif tt is int or tt is float:
                    ts_ms = parse_epoch(ts)
                else:
                    return DecodeFailure("bad_type:ts", f"timestamp of type {tt.__name__}")
            except (ValueError, OverflowError) as exc:
                return DecodeFailure("bad_timestamp", str(exc))
        if ip == "":
            client_ip = ""
        elif ip is None or ip == "" or ip == "-":
            return DecodeFailure("missing_field:client_ip", "no client IP")
        elif type(ip) is not str:
            return DecodeFailure("bad_type:client_ip", f"client IP of type {type(ip).__name__}")
        else:
            client_ip = normalize_ip(ip)
            if client_ip is None:
                return DecodeFailure("bad_type:client_ip", "not an IP address")
        if method is None or method == "":
            return DecodeFailure("missing_field:method", "no HTTP method")
        if type(method) is not str or len(method) > 16:
            return DecodeFailure("bad_type:method", "method must be a short string")
        if path is None or path == "":
            return DecodeFailure("missing_field:path", "no request path")
        if type(path) is not str:
            return DecodeFailure("bad_type:path", f"path of type {type(path).__name__}")
        if host is None or host == "-":
            host = ""
        elif type(host) is not str:
            return DecodeFailure("bad_type:host", f"host of type {type(host).__name__}")
        if path[0] != "/" or "?" in path:
            if path[0] == "/":
                # An ordinary path with a query string: what _split_target does to it, without the URL
                # handling (a target starting with "/" has no scheme, so no host).
                path = path[: path.find("?")]
                if "#" in path:
                    path = path[: path.find("#")]
            else:
                path, url_host = _split_target(path)
                if url_host and not host:
                    host = url_host
        if len(path) > self._path_cap:
            path = path[: self._path_cap]
        if host:
            clean = _HOST_CACHE.get(host)
            host = clean if clean is not None else _clean_host_remembered(host)
        if status is None:
            return DecodeFailure("missing_field:status", "no status code")
        if type(status) is not int:
            if type(status) is str and len(status) <= 3 and status.isascii() and status.isdigit():
                status = int(status)
            else:
                return DecodeFailure("bad_type:status", "status must be an integer 0..999")
        if not 0 <= status <= 999:
            return DecodeFailure("bad_type:status", "status must be an integer 0..999")
        dt = type(duration)
        # Numbers first: comparing a float with the "-" and "" markers below is a slow mixed-type compare.
        if dt is not float and dt is not int and (duration is None or duration == "-" or duration == ""):
            duration_ms = None
        else:
            factor = duration_factor
            if dt is str:
                try:
                    duration = float(duration)
                except ValueError:
                    # Text with its own unit ("0.123s", "2ms", "250µs") keeps that unit, whatever the
                    # configured one: the value says what it is.
                    try:
                        duration, factor = duration_text_ms(duration), 1.0
                    except ValueError:
                        return DecodeFailure("bad_type:duration_ms", "duration is not a number")
            elif dt is not float and dt is not int:
                return DecodeFailure("bad_type:duration_ms", "duration must be a finite number ≥ 0")
            if duration == -1:
                # ALB and others write -1 when no upstream answered (the 502/503/504s an availability
                # SLO must count): the request happened, its duration is unknown.
                duration_ms = None
            elif not 0 <= duration < _INF:
                return DecodeFailure("bad_type:duration_ms", "duration must be a finite number ≥ 0")
            else:
                try:
                    duration_ms = float(duration) * factor
                except OverflowError:
                    return DecodeFailure("bad_type:duration_ms", "duration must be a finite number ≥ 0")
        if type(ua) is list and ua and type(ua[0]) is str:
            ua = ua[0]  # a header logged as its list of values (Caddy): the first one
        if ua is None or ua == "-":
            ua = ""
        elif type(ua) is not str:
            return DecodeFailure("bad_type:user_agent", f"user agent of type {type(ua).__name__}")
        elif len(ua) > self._ua_cap:
            ua = ua[: self._ua_cap]
        if check_text and not (ua.isascii() and path.isascii() and host.isascii()) and not _encodable(ua, path, host):
            return DecodeFailure("invalid_utf8", "lone surrogate in user_agent, path or host")
        req = Request(ts_ms, client_ip, method.upper(), host, path, status, duration_ms, ua)
        flag = get(k_rate_limited)
        if flag is not None:
            value = _strict_bool(flag)
            if value is None:
                return DecodeFailure("bad_type:rate_limited", "rate_limited must be a boolean")
            req.rate_limited = value
        flag = get(k_synthetic)
        if flag is not None:
            value = _strict_bool(flag)
            if value is None:
                return DecodeFailure("bad_type:synthetic", "synthetic must be a boolean")
            req.synthetic = value
        fwd = get(k_forwarded)
        if fwd is not None and fwd != "-":
            if type(fwd) is list and all(type(v) is str for v in fwd):
                fwd = ", ".join(fwd)  # one header logged as a list: the values in order, as one list
            if type(fwd) is not str:
                return DecodeFailure("bad_type:forwarded_for", "forwarded_for must be a string")
            req.forwarded_for = fwd[:1024]
        return req



def _clf_name(rec: tuple | DecodeFailure) -> str:
    return f"{clf.NAME}/{rec[9]}" if type(rec) is tuple else clf.NAME


def _encodable(*texts: str) -> bool:
    """True if every text is valid Unicode (no lone surrogates): RE2 and every sink need UTF-8."""
    try:
        for t in texts:
            t.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "+-.") and text[4:5] != "-"


def _clean_host(host: str) -> str:
    host = host.lower()
    if host.startswith("["):
        return host
    colon = host.rfind(":")
    return host[:colon] if colon > 0 and host[colon + 1:].isdigit() else host
