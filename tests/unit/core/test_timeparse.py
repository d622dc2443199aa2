"""streams.core.timeparse: RFC 3339, epoch seconds/milliseconds and CLF dates → epoch ms, or ValueError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streams.config import InputConfig
from streams.core.decode import Decoder
from streams.core.timeparse import (MAX_TS_MS, MIN_TS_MS, format_rfc3339, parse_clf, parse_epoch,
                                    parse_rfc3339)
from streams.core.model import Request

NEW_YEAR_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def utc_ms(*args: int, tz: timezone = timezone.utc) -> int:
    """Epoch ms of a wall-clock time in ``tz``, computed independently of the code under test."""
    return int(datetime(*args, tzinfo=tz).timestamp()) * 1000


def test_reference_constant_is_right() -> None:
    assert utc_ms(2026, 1, 1) == NEW_YEAR_2026
    assert MIN_TS_MS == utc_ms(2000, 1, 1)
    assert MAX_TS_MS == utc_ms(2100, 1, 1)


# -- RFC 3339 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-01-01T00:00:00Z", NEW_YEAR_2026),
    ("2026-01-01T00:00:00z", NEW_YEAR_2026),
    ("2026-01-01t00:00:00Z", NEW_YEAR_2026),
    ("2026-01-01 00:00:00Z", NEW_YEAR_2026),
    ("2026-01-01 00:00:00", NEW_YEAR_2026),            # no offset = UTC
    ("2026-01-01T00:00:00", NEW_YEAR_2026),
    ("2026-01-01T00:00:00+00:00", NEW_YEAR_2026),
    ("2026-01-01T00:00:00-00:00", NEW_YEAR_2026),
    ("2026-01-01T02:00:00+02:00", NEW_YEAR_2026),
    ("2025-12-31T18:30:00-05:30", NEW_YEAR_2026),
    ("2026-01-01T05:30:00+05:30", NEW_YEAR_2026),
    ("2026-03-15T12:34:56Z", utc_ms(2026, 3, 15, 12, 34, 56)),
    ("2026-03-15T12:34:56+01:00", utc_ms(2026, 3, 15, 11, 34, 56)),
    ("2024-02-29T23:59:59Z", utc_ms(2024, 2, 29, 23, 59, 59)),
])
def test_rfc3339_offsets_and_separators(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2026-01-01T00:00:00.5Z", NEW_YEAR_2026 + 500),
    ("2026-01-01T00:00:00.05Z", NEW_YEAR_2026 + 50),
    ("2026-01-01T00:00:00.250Z", NEW_YEAR_2026 + 250),
    ("2026-01-01T00:00:00.123456Z", NEW_YEAR_2026 + 123),   # sub-millisecond digits are truncated
    ("2026-01-01T00:00:00.999999Z", NEW_YEAR_2026 + 999),
    ("2026-01-01T00:00:00.123456789Z", NEW_YEAR_2026 + 123),
    ("2026-01-01T00:00:00,250Z", NEW_YEAR_2026 + 250),       # ISO 8601 decimal comma
    ("2026-01-01T00:00:01.001", NEW_YEAR_2026 + 1001),
    ("2026-01-01T02:00:00.750+02:00", NEW_YEAR_2026 + 750),
    ("2025-12-31T18:30:00.123456-05:30", NEW_YEAR_2026 + 123),
])
def test_rfc3339_fractional_seconds(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


def test_rfc3339_same_minute_different_seconds_are_distinct() -> None:
    # The minute prefix is cached; the seconds and offset must still be applied per call.
    assert parse_rfc3339("2026-01-01T00:00:07Z") == NEW_YEAR_2026 + 7_000
    assert parse_rfc3339("2026-01-01T00:00:59Z") == NEW_YEAR_2026 + 59_000
    assert parse_rfc3339("2026-01-01T00:00:07+01:00") == NEW_YEAR_2026 + 7_000 - 3_600_000


def test_rfc3339_bounds_are_inclusive_below_exclusive_above() -> None:
    assert parse_rfc3339("2000-01-01T00:00:00Z") == MIN_TS_MS
    assert parse_rfc3339("2099-12-31T23:59:59.999Z") == MAX_TS_MS - 1


@pytest.mark.parametrize("text", [
    "1999-12-31T23:59:59Z",            # before 2000
    "1999-12-31T23:59:59.999Z",
    "2000-01-01T00:30:00+01:00",       # 1999-12-31T23:30Z once the offset is applied
    "2100-01-01T00:00:00Z",            # 2100 is excluded
    "2101-06-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2026-13-01T00:00:00Z",            # month 13
    "2026-00-10T00:00:00Z",            # month 0
    "2026-02-30T00:00:00Z",            # no such day
    "2026-01-01T24:00:00Z",            # hour 24
    "2026-01-01T00:60:00Z",            # minute 60
    "2026-01-01T00:00:61Z",            # second 61
    "2026-01-01T00:00:aaZ",
    "2026-01-01T00:00:00.Z",           # empty fraction
    "2026-01-01T00:00:00+0200",        # offset without colon
    "2026-01-01T00:00:00+02",
    "2026-01-01T00:00:00 UTC",
    "2026-01-01T00:00:00Zjunk",
    "2026-01-01T00:00",                # too short
    "2026-01-01",
    "2026/01/01T00:00:00Z",
    "2026-01-01X00:00:00Z",
    "yesterday",
    "",
    "garbage garbage garbage garbage",
    "abcd-ef-ghTij:kl:mnZ",
    "2026-01-01T00:00:00Z" + " " * 30,  # longer than 40 characters
])
def test_rfc3339_rejections(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


@pytest.mark.parametrize("offset", ["+24:00", "+99:00", "-25:00", "+02:60", "+00:99"])
def test_rfc3339_offset_outside_clock_range_is_rejected(offset: str) -> None:
    # RFC 3339 time-numoffset is hour 00-23, minute 00-59; "+99:00" must not silently shift by 99 hours.
    with pytest.raises(ValueError):
        parse_rfc3339("2026-06-01T00:00:00" + offset)


# -- epoch seconds / milliseconds ---------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (1_767_225_600, NEW_YEAR_2026),                  # int seconds
    (1_767_225_600.0, NEW_YEAR_2026),                # float seconds
    (1_767_225_600.5, NEW_YEAR_2026 + 500),
    (1_767_225_600.123, NEW_YEAR_2026 + 123),        # rounded to the nearest ms, not truncated below
    (1_767_225_600_000, NEW_YEAR_2026),              # int milliseconds
    (1_767_225_600_123, NEW_YEAR_2026 + 123),
    (1_767_225_600_123.0, NEW_YEAR_2026 + 123),      # float milliseconds
    (946_684_800, MIN_TS_MS),                        # 2000-01-01 in seconds
    (946_684_800_000, MIN_TS_MS),                    # … and in milliseconds
    (4_102_444_799, MAX_TS_MS - 1000),
    (4_102_444_799_999, MAX_TS_MS - 1),
])
def test_epoch_seconds_and_milliseconds(value: float, expected: int) -> None:
    result = parse_epoch(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [
    0,                         # 1970
    946_684_799,               # 1999-12-31T23:59:59Z in seconds
    946_684_799_999,           # … in milliseconds
    4_102_444_800,             # 2100-01-01 in seconds
    4_102_444_800_000,         # … in milliseconds
    -1_767_225_600,
    1_767_225_600_000_000,     # microseconds: too large
    1e20,
    10**30,
    float("nan"),
    float("inf"),
    float("-inf"),
])
def test_epoch_rejections(value: float) -> None:
    with pytest.raises(ValueError):
        parse_epoch(value)


# Numeric strings reach parse_epoch through the decoder (ts as a JSON string).
_BASE = b'"client_ip":"1.2.3.4","method":"GET","path":"/","status":200'


@pytest.mark.parametrize("ts, expected", [
    (b'"1767225600"', NEW_YEAR_2026),
    (b'"1767225600.25"', NEW_YEAR_2026 + 250),
    (b'"1767225600123"', NEW_YEAR_2026 + 123),
    (b'1767225600', NEW_YEAR_2026),
    (b'1767225600.25', NEW_YEAR_2026 + 250),
    (b'1767225600123', NEW_YEAR_2026 + 123),
    (b'"2026-01-01T02:00:00+02:00"', NEW_YEAR_2026),
])
def test_decoder_reads_numeric_strings_as_epoch(ts: bytes, expected: int) -> None:
    out = Decoder(InputConfig()).decode(b'{"ts":' + ts + b',' + _BASE + b'}')
    assert out == Request(expected, "1.2.3.4", "GET", "", "/", 200, None, "")


@pytest.mark.parametrize("ts", [b'"0"', b'"12345"', b'"1e20"', b'"inf"', b'"-inf"', b'"nan"', b'"0x10"',
                                b'"1999-12-31T23:59:59Z"', b'"2100-01-01T00:00:00Z"'])
def test_decoder_numeric_string_rejections_are_bad_timestamp(ts: bytes) -> None:
    out = Decoder(InputConfig()).decode(b'{"ts":' + ts + b',' + _BASE + b'}')
    assert out.reason == "bad_timestamp"


# -- Common Log Format ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("01/Jan/2026:00:00:00 +0000", NEW_YEAR_2026),
    ("01/Jan/2026:02:00:00 +0200", NEW_YEAR_2026),
    ("31/Dec/2025:18:30:00 -0530", NEW_YEAR_2026),
    ("01/Jan/2026:00:00:00 -0530", NEW_YEAR_2026 + 19_800_000),
    ("10/Oct/2000:13:55:36 -0700", utc_ms(2000, 10, 10, 20, 55, 36)),
    ("29/Feb/2024:23:59:59 +0000", utc_ms(2024, 2, 29, 23, 59, 59)),
    ("15/Mar/2026:12:34:56 +0100",
     utc_ms(2026, 3, 15, 12, 34, 56, tz=timezone(timedelta(hours=1)))),
])
def test_clf_times(text: str, expected: int) -> None:
    assert parse_clf(text) == expected
    assert parse_clf(text) == expected  # second call is served from the cache


@pytest.mark.parametrize("text", [
    "31/Dec/1999:23:59:59 +0000",      # before 2000
    "01/Jan/2000:00:30:00 +0100",      # 1999 in UTC
    "01/Jan/2100:00:00:00 +0000",
    "01/Foo/2026:00:00:00 +0000",      # unknown month
    "01/jan/2026:00:00:00 +0000",      # month names are case-sensitive in CLF
    "32/Jan/2026:00:00:00 +0000",
    "01/Jan/2026:25:00:00 +0000",
    "01/Jan/2026:00:00:00 0000",       # no sign
    "01/Jan/2026:00:00:00 +00:00",     # wrong length
    "01/Jan/2026:00:00:00 +2400",      # |offset| must be < 24h
    "01/Jan/2026:00:00:00",
    "2026-01-01T00:00:00Z",
    "",
    "xx/Jan/2026:00:00:00 +0000",
])
def test_clf_rejections(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clf(text)


@pytest.mark.parametrize("text", ["01/Jan/2026:00:00:00 +0060", "01/Jan/2026:00:00:00 +0099"])
def test_clf_offset_minutes_outside_clock_range_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clf(text)


# -- formatting ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ms, text", [
    (NEW_YEAR_2026, "2026-01-01T00:00:00.000Z"),
    (NEW_YEAR_2026 + 1_250, "2026-01-01T00:00:01.250Z"),
    (MAX_TS_MS - 1, "2099-12-31T23:59:59.999Z"),
])
def test_format_rfc3339_round_trips(ms: int, text: str) -> None:
    assert format_rfc3339(ms) == text
    assert parse_rfc3339(text) == ms


def test_second_prefixes_equal_the_calendar_conversion_through_the_minute_cache() -> None:
    """``_second_ms`` converts once per minute and adds the seconds: the value, or the error, is the one
    ``datetime`` gives for every prefix, valid or not (leap second 60 included), in any order."""
    import random
    from datetime import datetime, timezone

    from streams.core import timeparse

    def reference(prefix: str) -> int:
        sec = int(prefix[17:19])
        if sec > 60:
            raise ValueError("bad seconds")
        dt = datetime(int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13]),
                      int(prefix[14:16]), tzinfo=timezone.utc)
        return (int(dt.timestamp()) + sec) * 1000

    rng = random.Random(3)
    valid = 0
    for _ in range(30_000):
        prefix = (f"{rng.randrange(1999, 2101):04d}-{rng.randrange(0, 14):02d}-{rng.randrange(0, 33):02d}T"
                  f"{rng.randrange(0, 25):02d}:{rng.randrange(0, 61):02d}:{rng.randrange(0, 62):02d}")
        try:
            want: tuple = (reference(prefix), None)
        except ValueError as exc:
            want = (None, str(exc))
        try:
            got: tuple = (timeparse._second_ms(prefix), None)
        except ValueError as exc:
            got = (None, str(exc))
        assert got == want, prefix
        valid += want[1] is None
    assert valid == 22_003
