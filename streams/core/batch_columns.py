"""Whole-batch JSON decode straight into Arrow columns: ``Decoder.decode_columns`` for JSON-lines batches.

Contract (the one of core/columns.py): ``finish_raw(decoder, read_raw(batch, …), batch, …)`` equals
``from_decoded([decoder.decode(x) for x in batch])`` — every column value, every null, the same
DecodeFailure at the same row. tests/unit/core/test_columns.py checks it differentially.

How: a batch that passes :func:`arrow_screen` is joined and read by ``pyarrow.json.read_json`` with an
explicit schema of the log's key names (the field map's), then :func:`finish` applies the rules of
``Decoder._from_mapping`` column by column — per *distinct* value in Python (timestamp second, millis
suffix, IP, method, host, user agent), vectorised in Arrow otherwise. A row that does not have the common
shape (a null or odd field, anything ``_from_mapping`` would reject or read a longer way) is decoded by
``Decoder.decode`` alone and its values — or its failure — are patched into the columns. Any Arrow error
(a duplicate key, a type mismatch such as ``"status": "200"`` or ``200.0``, a non-object) sends the whole
batch the per-record way.

Where pyarrow's reader and orjson disagree, the screen sends the batch the per-record way, whole: every
item bytes (exactly ``bytes``: ``OverlongLine``/``OversizedRow`` are subclasses the decoder treats
specially), none empty, none over the record cap, none holding a newline, each starting with ``{`` (so
each line is one row; the row count is asserted too); valid UTF-8 (orjson rejects any other bytes; Arrow
checks only the fields it keeps); no ``NaN``/``Inf`` where a value starts (Arrow accepts them, orjson
does not); no number that could overflow a double (Arrow skips unknown fields' numbers
unchecked: :data:`_OVERFLOW`); no line nested deeper than orjson allows (Arrow has
no limit). Hostile input costs its own batch the per-record path, never more: every check is linear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from streams.core.arrays import filled
from streams.core.batch_decode import FAST_FIELDS
from streams.core.columns import COLUMN_TYPES, RequestColumns, from_decoded
from streams.core.line_arrays import ArrowLines, one_value, value_buffer
from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS, MINUTE_MS_CACHE, parse_rfc3339

if TYPE_CHECKING:
    from streams.core.decode import Decoder

_ARROW_TYPES: dict[str, pa.DataType] = {
    "ts": pa.string(), "client_ip": pa.string(), "method": pa.string(), "host": pa.string(),
    "path": pa.string(), "status": pa.int64(), "duration_ms": pa.float64(), "user_agent": pa.string(),
    "rate_limited": pa.bool_(), "synthetic": pa.bool_(), "forwarded_for": pa.string(),
}
"""What Arrow reads each field as: a value of another JSON type is an Arrow error (whole batch per record)."""

_OVERFLOW = r"\d{300}|\d{20}\d*(?:\.\d+)?[eE]|\d+(?:\.\d+)?[eE]\+?\d{3}"
"""A number that might overflow a double — the only number orjson rejects (an integer past 64 bits it reads
as a float) and Arrow skips unchecked in a field it does not keep: 300 or more integer digits, 20 or more
with an exponent, or an exponent of three digits. A double overflows from ~1.8e308: with an exponent of at
most 99 that needs 210 integer digits, without one 309. Narrower than batch_decode.SUSPECT_NUMBER (20
digits, for msgspec), so a log with numeric 64-bit ids (trace ids) keeps its batches whole; a kept field
needs no screen (Arrow raises on an int64 out of range, and reads a double as orjson does)."""
_SCREEN = r"\n(?:[^{]|$)|[:,\[]\s*-?(?:NaN|Inf|" + _OVERFLOW + ")"
"""RE2 pattern of the screen's one pass, run by Arrow's RE2 kernel, which releases the GIL: whichever
thread runs it (embedded mode: the core's, after Arrow's read — ``read_raw(defer_pattern=True)``), it
overlaps the other thread's work instead of taking turns with it. ``NaN`` and
``Inf``(``inity``) are looked for where a JSON value can start (after ``:``, ``,`` or ``[``, blanks and a
sign allowed), the only places Arrow's parser reads them as numbers: an old IE's "InfoPath" or a query's
"id=NaN" is text, and real logs carry such text in most batches. Text that merely looks like a value
(``"x:NaN"``) is declined too: the screen is conservative, never wrong."""
_DEPTH_GUARD = 1000
"""A line with this many ``[``/``{`` bytes might be nested past orjson's limit (1024): per record."""
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 24)
_PARALLEL = pj.ReadOptions(use_threads=True, block_size=1 << 20)
"""With ``parallel``, Arrow parses a batch in 1 MB blocks on its CPU pool, side by side: 50,000 mix lines
in 0.47–0.51 s of wall per 500k lines instead of 0.79–1.05 s on one thread, at the same CPU — for a
caller that decodes on the thread that bounds it (live Stage A). Not for one that decodes on a
read-ahead thread (embedded, a one-process topic replay) or runs a process per core (replay workers):
there the pool's threads only compete with the core's (``truesli process`` 1–9% slower in 5 of 5 pairs;
docs/benchmarks.md). A line longer than a block is
read all the same (tests/unit/core/test_columns.py)."""
_ARROW_ERRORS = (pa.ArrowException, ValueError, TypeError, KeyError)
_NO_FWD = pa.scalar(None, pa.string())
_FWD_CAP = 1024


class KnownLines(list):
    """A batch of lines with facts its reader already established, so the screen need not visit every
    item for them again: ``plain`` — every item is exactly ``bytes`` (no ``OverlongLine``); ``longest`` —
    no item has more bytes than this (an upper bound); ``nbytes`` — their lengths sum to at most this.
    Built by sources/files.py (its batches and its per-read lists); any other sequence is screened item
    by item. A slice is a plain list (the facts are not carried)."""

    __slots__ = ("plain", "longest", "nbytes")

    def __init__(self, items=(), plain: bool = True, longest: int = 0, nbytes: int = 0) -> None:
        super().__init__(items)
        self.plain = plain
        self.longest = longest
        self.nbytes = nbytes


def arrow_schema(keys: dict[str, str]) -> tuple[pa.Schema, dict[str, str]] | None:
    """(explicit read schema named by the log's keys, truesli field → key) for a flat field map, or None
    when the map cannot be read by one schema (two fields on one key, a dotted key)."""
    wanted = {name: keys[name] for name in FAST_FIELDS if name in keys}
    if len(set(wanted.values())) != len(wanted) or any("." in k for k in wanted.values()):
        return None
    return pa.schema([(key, _ARROW_TYPES[name]) for name, key in wanted.items()]), wanted


def arrow_screen(batch: Sequence[Any], max_bytes: int, pattern: bool = True) -> bytes | pa.Buffer | None:
    """The joined batch when every item may be read by Arrow as exactly one row equal to orjson's
    reading of it (module docstring), else None. C-speed passes over the joined bytes only; for
    :class:`ArrowLines` (core/line_arrays.py) the same checks in Arrow's kernels, without the GIL, and
    the joined lines as an Arrow buffer. ``pattern`` False: every check but the RE2 pass of
    :data:`_SCREEN` (the caller runs :func:`pattern_hit` on the answer before trusting a read of it)."""
    if type(batch) is ArrowLines:
        return _screen_lines(batch, max_bytes, pattern)
    n = len(batch)
    known = type(batch) is KnownLines
    if n == 0 or not (known and batch.plain) and set(map(type, batch)) != {bytes}:
        return None
    joined = b"\n".join(batch)
    if joined[:1] != b"{" or not _valid_utf8(one_value(joined)):
        return None
    if not known or batch.longest > max_bytes or batch.longest >= _DEPTH_GUARD:
        lengths = list(map(len, batch))
        longest = max(lengths)
        if longest > max_bytes:
            return None
        # A line nested past orjson's limit has at least that many bytes: count brackets in long lines only.
        if longest >= _DEPTH_GUARD and any(x.count(b"[") + x.count(b"{") >= _DEPTH_GUARD
                                           for x, size in zip(batch, lengths) if size >= _DEPTH_GUARD):
            return None
    # One RE2 pass: NaN/Inf literals, a line not starting "{" (an empty item, an item holding a newline
    # followed by anything else), a number that might overflow. An item holding "\n{" makes more rows
    # than items: the caller's row count check catches it.
    if pattern and pattern_hit(joined):
        return None
    return joined


def pattern_hit(joined: bytes | pa.Buffer) -> bool:
    """Whether the RE2 pass of the screen declines ``joined`` (an answer of ``arrow_screen(...,
    pattern=False)``)."""
    return _screen_hit(one_value(joined))


def _screen_lines(batch: ArrowLines, max_bytes: int, pattern: bool = True) -> pa.Buffer | None:
    """:func:`arrow_screen` of an ArrowLines batch: its lines are exactly bytes, none empty, none holding
    a newline, and ``longest`` is exact — so the same checks need no pass over Python objects."""
    lines = batch.lines
    if not len(batch) or batch.longest > max_bytes or lines[0].as_py()[:1] != b"{":  # a text format: no join
        return None
    if batch.longest >= _DEPTH_GUARD:
        long = pc.filter(lines, pc.greater_equal(pc.binary_length(lines), _DEPTH_GUARD))
        brackets = pc.add(pc.count_substring(long, "["), pc.count_substring(long, "{"))
        if pc.any(pc.greater_equal(brackets, _DEPTH_GUARD)).as_py():
            return None
    value = batch.joined()
    if not _valid_utf8(value):
        return None
    return None if pattern and _screen_hit(value) else value_buffer(value)


def _valid_utf8(value: pa.Array) -> bool:
    """Whether the one-element binary array ``value`` is valid UTF-8 (Arrow's full validation of it read
    as a string: ~0.04 ns per byte, 5× cheaper than its ASCII test, and a batch with an "é" in a referer
    or a user agent stays whole)."""
    try:
        value.view(pa.large_string()).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _screen_hit(value: pa.Array) -> bool:
    """Whether :data:`_SCREEN` matches anywhere in the one-element binary array ``value`` (the joined
    batch; Arrow's RE2 reads a binary array as Latin-1, one character per byte, so the pattern reads bytes
    whatever they encode)."""
    return pc.match_substring_regex(value, _SCREEN)[0].as_py()


def _per_distinct(arr: pa.Array, fn: Callable[[Any], Any], typ: pa.DataType, same: str | None = None,
                  keep: dict[str, pa.Array] | None = None, name: str = "") -> pa.Array:
    """``fn`` of every value, computed once per distinct value (nulls stay null; ``fn`` → None = null).
    When ``fn`` changes no distinct value (canonical IPs, clean hosts, short user agents: the usual case)
    the column itself is returned, so the common batch pays no ``take``. ``same``: an RE2 pattern of
    values ``fn`` returns unchanged — those are not passed to ``fn`` (nor converted to Python at all when
    every distinct value matches). ``keep``: where the column comes back unchanged and without nulls, its
    encoding is stored there under ``name`` (:attr:`RequestColumns.encoded`)."""
    enc = pc.dictionary_encode(arr)
    if same is not None:
        fixed = pc.match_substring_regex(enc.dictionary, same)
        if pc.all(fixed).as_py() and arr.type == typ:
            return _kept(arr, enc, keep, name)
        values = enc.dictionary.to_pylist()
        mapped = [v if f else fn(v) for v, f in zip(values, fixed.to_pylist())]
    else:
        values = enc.dictionary.to_pylist()
        mapped = [fn(v) for v in values]
    if mapped == values and arr.type == typ:
        return _kept(arr, enc, keep, name)
    return _mapped(pa.array(mapped, type=typ), enc, keep, name)


def _kept(arr: pa.Array, enc: pa.Array, keep: dict[str, pa.Array] | None, name: str) -> pa.Array:
    """``arr``, its dictionary encoding ``enc`` stored in ``keep[name]`` when it has no nulls (a null would
    be filled afterwards, and the filled column's encoding differs)."""
    if keep is not None and not arr.null_count:
        keep[name] = enc
    return arr


def _mapped(values: pa.Array, enc: pa.Array, keep: dict[str, pa.Array] | None, name: str) -> pa.Array:
    """The column whose row ``i`` is ``values[enc.indices[i]]`` (``values``: one per distinct value of
    ``enc``, in its order), its encoding stored as for :func:`_kept`. That encoding is composed, not
    recomputed: ``enc``'s dictionary is in order of first appearance, so the first of the distinct values
    mapped to one value appears first, and encoding ``values`` keeps the rows' first-appearance order."""
    out = pc.take(values, enc.indices)
    if keep is not None and not values.null_count and not enc.null_count:
        again = pc.dictionary_encode(values)
        keep[name] = pa.DictionaryArray.from_arrays(pc.take(again.indices, enc.indices), again.dictionary)
    return out


def _distinct_path(path: pa.Array, cap: int, keep: dict[str, pa.Array] | None = None
                   ) -> tuple[pa.Array, pa.Array]:
    """(cut and capped path — computed on the distinct paths, vectorised —, starts with "/"); ``keep`` as
    for :func:`_per_distinct`."""
    slash = pc.fill_null(pc.starts_with(path, "/"), False)
    enc = pc.dictionary_encode(path)
    values = enc.dictionary
    cut = _cap(_cut_query(values), cap)
    return (_kept(path, enc, keep, "path") if cut is values else _mapped(cut, enc, keep, "path")), slash


def _minute_of(prefix: str) -> int | None:
    """Epoch ms of a ``YYYY-MM-DDTHH:MM`` prefix through the parser that fills MINUTE_MS_CACHE (so the
    separators and digits are checked as the per-record path checks them), None if invalid or wholly out
    of range (MIN_TS_MS is a whole minute; a leap second past MAX_TS_MS is caught by :func:`finish`)."""
    ms = MINUTE_MS_CACHE.get(prefix)
    if ms is None:
        if len(prefix) != 16:
            return None
        try:
            return parse_rfc3339(prefix + ":00.000Z")
        except (ValueError, OverflowError):
            return None
    return ms if MIN_TS_MS <= ms < MAX_TS_MS else None


_SECONDS = pa.array([f":{s:02d}" for s in range(61)])
"""":00" … ":60": a timestamp's seconds field's index in it is its seconds (``_second_ms``'s rule: two
ASCII digits after the ":", at most 60 — a leap second is the next minute's first)."""
_SUFFIXES = pa.array([f".{ms:03d}Z" for ms in range(1000)])
"""".000Z" … ".999Z": a timestamp's suffix's index in it is its milliseconds (MILLIS_OF's rule: three
ASCII digits)."""
_SECONDS_B, _SUFFIXES_B = _SECONDS.cast(pa.binary()), _SUFFIXES.cast(pa.binary())
"""The same as bytes: in a column whose values are all ASCII the seconds and the suffix are cut at byte offsets —
the same cut as at code points, ~8× cheaper (no UTF-8 walk to offset 16 in every value)."""
_CANONICAL_IPV4 = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
"""A dotted quad ``normalize_ip`` returns unchanged (decode._is_canonical_ipv4's rule: four decimal
octets ≤ 255, no leading zeros, nothing around them): RE2 over the distinct IPs, in C."""


def user_agents(ua: pa.Array, ua_cap: int, keep: dict[str, pa.Array] | None) -> pa.Array:
    """The decoder's user-agent rule, once per distinct value: ``-`` is no agent (""), the rest is cut to
    ``ua_cap`` characters (``keep`` as for :func:`_per_distinct`). Shared by the whole-batch decoders."""
    return _per_distinct(ua, lambda v: "" if v == "-" else v[:ua_cap], pa.string(), keep=keep, name="user_agent")


def _method_of(method: str) -> str | None:
    return method.upper() if 0 < len(method) <= 16 else None


def _cap(arr: pa.Array, cap: int) -> pa.Array:
    """Values cut to ``cap`` code points, as ``s[:cap]`` (bytes ≥ code points: no cut needed if none is
    longer in bytes)."""
    longest = pc.max(pc.binary_length(arr)).as_py()
    if longest is not None and longest > cap:
        return pc.utf8_slice_codeunits(arr, 0, cap)
    return arr


def _cut_query(path: pa.Array) -> pa.Array:
    """``_from_mapping``'s cut of a path starting "/": with a "?", what precedes it, cut again at "#";
    without one, unchanged (a bare "#" stays)."""
    has_q = pc.fill_null(pc.match_substring(path, "?"), False)
    if not pc.any(has_q).as_py():
        return path
    head = pc.list_element(pc.split_pattern(path, "?", max_splits=1), 0)
    head = pc.list_element(pc.split_pattern(head, "#", max_splits=1), 0)
    return pc.if_else(has_q, head, path)


def finish(raw: dict[str, pa.Array], n: int, duration_factor: float, path_cap: int,
           ua_cap: int, encoded: dict[str, pa.Array] | None = None) -> tuple[dict[str, pa.Array], pa.Array]:
    """Request columns from raw field columns (truesli names; a field the map lacks is absent), as
    ``Decoder._from_mapping`` would build them, and ``ok``: False where a row is not of the common shape
    and must be decoded per record (its values here are then meaningless). The one implementation of the
    rules for whole batches: JSON lines (below) and Parquet columns (sources/parquet.py).

    Types: ``ts`` string (RFC 3339) or int64 (epoch ms: a Parquet timestamp[ms] read as integers),
    ``status`` int64, ``duration_ms`` float64, ``rate_limited``/``synthetic`` bool, the rest string.
    ``encoded``: filled with the dictionary encodings of the finished columns that came through unchanged
    (for :attr:`RequestColumns.encoded`; the rule already encoded them to decide per distinct value)."""
    ts = raw["ts"]
    if pa.types.is_integer(ts.type):
        # parse_epoch's millisecond branch: every value in [MIN_TS_MS, MAX_TS_MS) is ≥ 1e11 and < 1e14.
        in_range = pc.and_(pc.greater_equal(ts, MIN_TS_MS), pc.less(ts, MAX_TS_MS))
        ts_ms = pc.if_else(in_range, ts, pa.scalar(None, pa.int64()))
    else:
        # The calendar once per distinct minute (in Python); seconds and milliseconds looked up in C.
        minute = _per_distinct(pc.utf8_slice_codeunits(ts, 0, 16), _minute_of, pa.int64())
        # By bytes only where every value is ASCII — checked on the values: ASCII JSON bytes can still
        # unescape to other characters ("\u0662"), and a shifted cut could then pass for a valid one.
        if pc.all(pc.string_is_ascii(ts)).as_py() is not False:
            tb = ts.cast(pa.large_binary() if pa.types.is_large_string(ts.type) else pa.binary())
            sec = pc.index_in(pc.binary_slice(tb, 16, 19), value_set=_SECONDS_B)
            millis = pc.index_in(pc.binary_slice(tb, 19, 64), value_set=_SUFFIXES_B)
        else:
            sec = pc.index_in(pc.utf8_slice_codeunits(ts, 16, 19), value_set=_SECONDS)
            millis = pc.index_in(pc.utf8_slice_codeunits(ts, 19, 64), value_set=_SUFFIXES)
        ts_ms = pc.add(pc.add(minute, pc.multiply(pc.cast(sec, pa.int64()), 1000)), pc.cast(millis, pa.int64()))
        past_end = pc.greater_equal(ts_ms, MAX_TS_MS)  # only :60 of the last minute before MAX_TS_MS
        if pc.any(past_end).as_py():
            ts_ms = pc.if_else(past_end, pa.scalar(None, pa.int64()), ts_ms)
    client_ip = _per_distinct(raw["client_ip"], _normalize_ip, pa.string(), same=_CANONICAL_IPV4)
    method = _per_distinct(raw["method"], _method_of, pa.string(), keep=encoded, name="method")
    path, path_ok = _distinct_path(raw["path"], path_cap, encoded)
    status = raw["status"]
    status_ok = pc.fill_null(pc.and_(pc.greater_equal(status, 0), pc.less_equal(status, 999)), False)
    ok = pc.and_(pc.and_(pc.is_valid(ts_ms), pc.is_valid(client_ip)), pc.and_(pc.is_valid(method), path_ok))
    ok = pc.and_(ok, status_ok)
    host = raw.get("host")
    host = (pa.nulls(n, pa.string()) if host is None
            else _per_distinct(host, _host_of, pa.string(), keep=encoded, name="host"))
    host = pc.fill_null(host, "")
    dur = raw.get("duration_ms")
    if dur is None:
        dur = pa.nulls(n, pa.float64())
    else:
        none = pc.fill_null(pc.equal(dur, -1.0), False)  # -1: no upstream answered, duration unknown
        # ≥ 0 and finite (a Parquet double may be NaN or inf; JSON ones cannot be, after the screen)
        finite = pc.and_(pc.greater_equal(dur, 0.0), pc.less(dur, float("inf")))
        ok = pc.and_(ok, pc.fill_null(pc.or_(finite, none), True))
        if pc.any(none).as_py():
            dur = pc.if_else(none, pa.scalar(None, pa.float64()), dur)
        if duration_factor != 1.0:
            dur = pc.multiply(dur, pa.scalar(duration_factor, pa.float64()))
    ua = raw.get("user_agent")
    ua = pa.nulls(n, pa.string()) if ua is None else user_agents(ua, ua_cap, encoded)
    ua = pc.fill_null(ua, "")
    flags = {name: filled(False, n) if raw.get(name) is None else pc.fill_null(raw[name], False)
             for name in ("rate_limited", "synthetic")}
    fwd = raw.get("forwarded_for")
    if fwd is None:
        fwd = pa.nulls(n, pa.string())
    else:
        dash = pc.fill_null(pc.equal(fwd, "-"), False)
        if pc.any(dash).as_py():
            fwd = pc.if_else(dash, _NO_FWD, fwd)
        fwd = _cap(fwd, _FWD_CAP)
    cols = {"ts_ms": ts_ms, "client_ip": client_ip, "method": method, "host": host, "path": path,
            "status": status, "duration_ms": dur, "user_agent": ua, **flags, "forwarded_for": fwd}
    return cols, ok


def _normalize_ip(text: str) -> str | None:
    from streams.core.decode import normalize_ip  # decode imports this module: bind lazily, once
    global _normalize_ip
    _normalize_ip = normalize_ip
    return normalize_ip(text)


def _host_of(host: str) -> str:
    from streams.core.decode import _clean_host
    return "" if host == "-" or not host else _clean_host(host)


def patch(cols: dict[str, pa.Array], ok: pa.Array, batch: Sequence[Any],
          decode: Callable[[Any], Any], encoded: dict[str, pa.Array] | None = None) -> RequestColumns:
    """RequestColumns from finished columns, every row not ``ok`` replaced by ``decode`` of its item.
    ``encoded``: :func:`finish`'s encodings, handed on unless a row was replaced."""
    n = len(batch)
    failures: dict = {}
    bad = pc.invert(ok)
    if pc.any(bad).as_py():
        from streams.core.formats.common import DecodeFailure
        idx = pc.indices_nonzero(bad).to_pylist()
        values: dict[str, list] = {name: [] for name in COLUMN_TYPES}
        for i in idx:
            r = decode(batch[i])
            if type(r) is DecodeFailure:
                failures[i] = r
                for v in values.values():
                    v.append(None)
                continue
            for name, v in values.items():
                v.append(getattr(r, name))
        # A failure's row gets None in every column: null, as from_decoded has it.
        cols = {name: pc.replace_with_mask(cols[name], bad, pa.array(values[name], type=t))
                for name, t in COLUMN_TYPES.items()}
        encoded = None
    return RequestColumns(n, *(cols[name].cast(t) if cols[name].type != t else cols[name]
                               for name, t in COLUMN_TYPES.items()), failures=failures, encoded=encoded or None)


class Unscreened(dict):
    """Field columns as :func:`read_raw` returns them, read before the screen's RE2 pass, which is left to
    :func:`finish_raw` (its ``joined`` input): on the thread that finishes, where it fits better
    (runs/embedded.py)."""

    __slots__ = ("joined",)

    def __init__(self, cols: dict[str, pa.Array], joined: bytes | pa.Buffer) -> None:
        super().__init__(cols)
        self.joined = joined


def read_raw(batch: Sequence[Any], read: tuple[pa.Schema, dict[str, str]] | None,
             max_bytes: int, parallel: bool = False, defer_pattern: bool = False) -> dict[str, pa.Array] | None:
    """The batch's field columns as Arrow reads them (truesli names), or None when the screen or Arrow
    declines it. ``read`` is :func:`arrow_schema` of the decoder's field map (None: always declined). The
    half of ``Decoder.decode_columns`` that runs in C, mostly without the GIL. ``defer_pattern``: the screen's
    RE2 pass is left to :func:`finish_raw` (an :class:`Unscreened` answer); Arrow reads the batch first —
    harmless: what that pass guards is equality with orjson, not Arrow's safety (the depth guard and the
    size checks still run first)."""
    joined = arrow_screen(batch, max_bytes, not defer_pattern) if read is not None else None
    if joined is None:
        return None
    schema, wanted = read
    try:
        table = pj.read_json(pa.BufferReader(joined), read_options=_PARALLEL if parallel else _READ,
                             parse_options=pj.ParseOptions(explicit_schema=schema,
                                                           unexpected_field_behavior="ignore"))
    except _ARROW_ERRORS:
        return None
    if table.num_rows != len(batch):  # an item holding "\n{", or two objects on one line
        return None
    cols = {name: pa.concat_arrays(table.column(key).chunks) if table.column(key).num_chunks != 1
            else table.column(key).chunk(0) for name, key in wanted.items()}
    return Unscreened(cols, joined) if defer_pattern else cols


def finish_raw(decoder: "Decoder", raw: dict[str, pa.Array] | None, batch: Sequence[Any], duration_factor: float,
               path_cap: int, ua_cap: int) -> RequestColumns:
    """RequestColumns of ``batch`` from :func:`read_raw`'s answer for it: finished and patched, or — for
    None — per record through ``decoder.batch_decoder`` (the msgspec path for a batch Arrow may not read but
    msgspec may, e.g. a ``NaN`` inside a string; ``decode`` itself otherwise — equal to ``decode`` item for
    item either way, tests/unit/core/test_batch_decode.py)."""
    if type(raw) is Unscreened and pattern_hit(raw.joined):
        raw = None
    if raw is None:
        decode = decoder.batch_decoder(batch)
        return from_decoded([decode(x) for x in batch])
    encoded: dict[str, pa.Array] = {}
    cols, ok = finish(raw, len(batch), duration_factor, path_cap, ua_cap, encoded=encoded)
    return patch(cols, ok, batch, decoder.decode, encoded)


def row_columns(decoder: "Decoder", raw: dict[str, pa.Array] | None, rows: Sequence[Any],
                excluded: pa.Array | None, path_cap: int, ua_cap: int) -> RequestColumns:
    """Columns of already-parsed rows (Parquet: truesli's field names, durations in ms, as
    ``decoder.decode(row_dict)`` reads them), equal to ``from_decoded([decoder.decode(r) for r in rows])``.
    ``raw``: the rows' field columns in :func:`finish`'s types, None when they are not (then per record);
    ``excluded``: True where the row must be decoded per record whatever its values (an oversized row,
    whose values ``raw`` holds as null). ``rows[i]`` is only built for rows decoded per record."""
    if raw is None:
        return from_decoded([decoder.decode(r) for r in rows])
    encoded: dict[str, pa.Array] = {}
    cols, ok = finish(raw, len(rows), 1.0, path_cap, ua_cap, encoded=encoded)
    if excluded is not None:
        ok = pc.and_(ok, pc.invert(excluded))
    return patch(cols, ok, rows, decoder.decode, encoded)
