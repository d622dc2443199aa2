"""Timestamp parsing for access logs: RFC 3339 strings, epoch seconds/milliseconds, CLF dates.

Every function returns integer epoch milliseconds (UTC) or raises ``ValueError``. Results are bounded to
[2000-01-01, 2100-01-01): anything outside is an absurd timestamp, not a request we can place in a window.
Parsing caches the expensive part (the calendar conversion of a second) because access
logs repeat those prefixes for thousands of lines in a row; the caches are cleared when they grow large.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
_CACHE_LIMIT = 100_000

SECOND_MS_CACHE: dict[str, int] = {}
"""``YYYY-MM-DDTHH:MM:SS`` prefix → epoch ms of that second. Every key passed :func:`parse_rfc3339`'s
separator checks and :func:`_second_ms`'s digit checks, so a hit proves the prefix valid: hot paths (the
decoder) may read it directly to skip two calls. Values are not yet bounded (callers still check
[MIN_TS_MS, MAX_TS_MS)). Cleared, never replaced, when full, so a bound reference stays current."""
_second_cache = SECOND_MS_CACHE
MINUTE_MS_CACHE: dict[str, int] = {}
"""``YYYY-MM-DDTHH:MM`` → epoch ms of that minute (not yet bounded), filled by :func:`_second_ms`: like
SECOND_MS_CACHE, a hit proves the prefix valid (separators and digits checked, a real calendar minute).
Cleared, never replaced, when full."""
_minute_cache = MINUTE_MS_CACHE
MILLIS_OF: dict[str, int] = {f"{i:03d}": i for i in range(1000)}
"""``"000"``…``"999"`` → 0…999: one lookup both validates and converts a millisecond fraction (``int()``
of a 3-character slice costs twice as much, and accepts non-ASCII digits the table rightly lacks)."""
_clf_cache: dict[str, int] = {}
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def _bounded(ms: int) -> int:
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise ValueError("timestamp outside 2000-01-01 .. 2100-01-01")
    return ms


def _second_ms(prefix: str) -> int:
    """Epoch ms of ``YYYY-MM-DDTHH:MM:SS`` (validated), cached: logs repeat each second many times."""
    ms = _second_cache.get(prefix)
    if ms is None:
        if not (prefix[0:4].isdigit() and prefix[5:7].isdigit() and prefix[8:10].isdigit()
                and prefix[11:13].isdigit() and prefix[14:16].isdigit() and prefix[17:19].isdigit()):
            raise ValueError("not an RFC 3339 timestamp")
        sec = int(prefix[17:19])
        if sec > 60:
            raise ValueError("bad seconds")
        minute = _minute_cache.get(prefix[:16])
        if minute is None:  # the calendar conversion, once per minute (a day of logs has 86,400 seconds)
            dt = datetime(int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13]),
                          int(prefix[14:16]), tzinfo=timezone.utc)
            minute = int(dt.timestamp()) * 1000
            if len(_minute_cache) >= _CACHE_LIMIT:
                _minute_cache.clear()
            _minute_cache[prefix[:16]] = minute
        ms = minute + sec * 1000
        if len(_second_cache) >= _CACHE_LIMIT:
            _second_cache.clear()
        _second_cache[prefix] = ms
    return ms


def parse_rfc3339(text: str) -> int:
    """``2026-01-01T00:00:01.250Z`` / ``…+02:00`` / ``2026-01-01 00:00:01`` (no offset = UTC)."""
    n = len(text)
    if n < 19 or n > 40 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt " \
            or text[13] != ":" or text[16] != ":":
        raise ValueError("not an RFC 3339 timestamp")
    ms = _second_ms(text[:19])
    if n == 24 and text[23] == "Z" and text[19] == "." and text[20:23].isdigit():
        return _bounded(ms + int(text[20:23]))  # the common shape, fast
    i = 19
    if i < n and text[i] in ".,":
        j = i + 1
        while j < n and text[j].isdigit():
            j += 1
        frac = text[i + 1:j]
        if not frac:
            raise ValueError("empty fraction")
        ms += int((frac + "00")[:3])
        i = j
    if i < n:
        tz = text[i:]
        if tz in ("Z", "z"):
            pass
        elif (len(tz) == 6 and tz[0] in "+-" and tz[3] == ":" and tz[1:3].isdigit() and tz[4:6].isdigit()
              and int(tz[1:3]) <= 23 and int(tz[4:6]) <= 59):
            offset = (int(tz[1:3]) * 60 + int(tz[4:6])) * 60_000
            ms = ms - offset if tz[0] == "+" else ms + offset
        else:
            raise ValueError("bad UTC offset")
    return _bounded(ms)


def parse_epoch(value: float) -> int:
    """Epoch seconds (< 1e11) or milliseconds (< 1e14); the magnitude tells which."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if abs(value) < 1e11:
        return _bounded(int(round(value * 1000)))
    if abs(value) < 1e14:
        return _bounded(int(value))
    raise ValueError("epoch value too large (expected seconds or milliseconds)")


def parse_message_ts(ts: object) -> int | str:
    """The ``ts`` of a JSON message (change event, user report): an RFC 3339 string or epoch seconds /
    milliseconds → epoch ms, or the one-line reason it is not a timestamp (for the dead letter)."""
    try:
        if isinstance(ts, str):
            return parse_rfc3339(ts)
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            return parse_epoch(ts)
    except (ValueError, OverflowError):
        return "ts is not a valid timestamp"
    return "ts must be an RFC 3339 string or epoch seconds/milliseconds"


def parse_clf(text: str) -> int:
    """Common Log Format time: ``10/Oct/2000:13:55:36 -0700``."""
    ms = _clf_cache.get(text)
    if ms is not None:
        return ms
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":" or text[20] != " ":
        raise ValueError("not a CLF timestamp")
    month = _MONTHS.get(text[3:6])
    if month is None:
        raise ValueError("bad month")
    sign = text[21]
    if sign not in "+-" or not text[22:26].isdigit() or int(text[22:24]) > 23 or int(text[24:26]) > 59:
        raise ValueError("bad UTC offset")
    offset = timedelta(hours=int(text[22:24]), minutes=int(text[24:26]))
    tz = timezone(offset if sign == "+" else -offset)
    dt = datetime(int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]),
                  int(text[18:20]), tzinfo=tz)
    ms = _bounded(int(dt.timestamp()) * 1000)
    if len(_clf_cache) >= _CACHE_LIMIT:
        _clf_cache.clear()
    _clf_cache[text] = ms
    return ms


def format_rfc3339(ms: int) -> str:
    """Inverse of :func:`parse_rfc3339` for output: UTC with millisecond precision."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
