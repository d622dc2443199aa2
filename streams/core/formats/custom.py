"""A text format of the user's own: ``input.line_regex``, an RE2 pattern with named groups.

Groups (``streams.config.sli.LINE_GROUPS``): ``ts`` (RFC 3339, CLF time, or epoch s/ms/µs/ns), ``status``,
``request`` (``METHOD target [protocol]``) or ``method`` + ``path``, and optionally ``client_ip`` (absent
= no client address), ``host``, ``duration`` (in ``input.duration_unit``, default ms; text with a unit
keeps its unit), ``user_agent``, ``forwarded_for``. RE2 matches in time linear in the line, so a user's
pattern cannot be made slow by hostile input. Tried before every built-in format: the user said so.
"""

from __future__ import annotations

from streams.core.formats.common import DecodeFailure, fail, parse_time, split_request_line
from streams.core.formats.units import duration_ms, epoch_ms_any
from streams.core.regex import compile_re2

NAME = "custom"


class LineRegex:
    """``parse(line)`` → canonical record, a failure naming ``custom``, or None when the pattern does not
    match (the built-in formats are tried next)."""

    __slots__ = ("_re", "_factor")

    def __init__(self, pattern: str, duration_factor: float) -> None:
        self._re = compile_re2(pattern)
        self._factor = duration_factor

    def parse(self, line: str) -> dict | DecodeFailure | None:
        m = self._re.search(line)
        if m is None:
            return None
        g = m.groupdict()
        ts_text = g.get("ts") or ""
        if ts_text.replace(".", "", 1).isdigit():
            try:
                ts: int | DecodeFailure = epoch_ms_any(float(ts_text))
            except ValueError as exc:
                ts = fail(NAME, "bad_timestamp", str(exc))
        else:
            ts = parse_time(NAME, ts_text)
        if type(ts) is DecodeFailure:
            return ts
        method, path = g.get("method"), g.get("path")
        if g.get("request") is not None:
            split = split_request_line(NAME, g["request"])
            if type(split) is DecodeFailure:
                return split
            method, path = split
        try:
            duration = duration_ms(g.get("duration"), self._factor)
        except ValueError as exc:
            return fail(NAME, "bad_type:duration_ms", f"duration: {exc}")
        return {"ts": ts, "client_ip": g.get("client_ip") or "", "method": method, "host": g.get("host"),
                "path": path, "status": g.get("status"), "duration_ms": duration, "user_agent": g.get("user_agent"),
                "forwarded_for": g.get("forwarded_for")}
