"""``Decoder.decode_columns`` equals ``from_decoded`` of the per-record decoder, every column value, every
null, every failure: generated mixes (every preset, a custom field map), the mangled and suspect lines of
test_batch_decode.py mixed into clean batches, what Arrow accepts and orjson rejects, items holding
newlines, empty and non-bytes items, and arbitrary objects under hypothesis. Where the whole-batch Arrow
read must (or must not) be the path taken, ``read_raw`` is asserted directly."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config import InputConfig
from streams.core.batch_columns import finish_raw, read_raw
from streams.core.columns import COLUMN_TYPES, RequestColumns, from_decoded
from streams.core.decode import PRESETS, DecodeFailure, Decoder, OversizedRow
from streams.core.timeparse import format_rfc3339
from streams.tools.gen import generate
from tests.unit.core.test_batch_decode import _ABSENT, MANGLED, SUSPECT, _line
from tests.unit.helpers import T0_MS


def assert_columns_equal(got: RequestColumns, want: RequestColumns) -> None:
    """Same row count, same Arrow type and values (nulls included) in every column, same failures."""
    assert got.n == want.n
    for name, typ in COLUMN_TYPES.items():
        g, w = getattr(got, name), getattr(want, name)
        assert isinstance(g, pa.Array) and g.type == typ == w.type, name
        assert g.to_pylist() == w.to_pylist(), name
    assert got.failures == want.failures


def _oracle(decoder: Decoder, batch: list) -> RequestColumns:
    return from_decoded([decoder.decode(x) for x in batch])


def _arrow(decoder: Decoder, batch: list) -> RequestColumns | None:
    raw = read_raw(batch, decoder._arrow, decoder._max_bytes)
    return None if raw is None else finish_raw(decoder, raw, batch, decoder._duration_factor, decoder._path_cap,
                                               decoder._ua_cap)


def _check(decoder: Decoder, batch: list, arrow: bool | None = None) -> RequestColumns:
    """decode_columns equals the oracle; ``arrow``: whether the whole-batch read must take it."""
    got = decoder.decode_columns(batch)
    assert_columns_equal(got, _oracle(decoder, batch))
    if arrow is not None:
        read = _arrow(decoder, batch)
        assert (read is not None) == arrow
        if read is not None:
            assert_columns_equal(read, got)
    return got


def _mix(events: int, seed: int) -> list[bytes]:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    return buf.getvalue().splitlines()


def _renamed(lines: list[bytes], keys: dict[str, str]) -> list[bytes]:
    """Lines in the log's key names of a field map (JSON lines only; the rest unchanged)."""
    out = []
    for line in lines:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(line)
            continue
        out.append(orjson.dumps({keys.get(k, k): v for k, v in obj.items()}) if isinstance(obj, dict) else line)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_mix_is_read_whole_and_equals_the_per_record_decoder(seed: int) -> None:
    decoder = Decoder(InputConfig())
    lines = _mix(12_000, seed)
    for i in range(0, len(lines), 4_000):
        got = _check(decoder, lines[i:i + 4_000], arrow=True)
        assert not got.failures and got.n == 4_000


def test_a_parallel_read_in_blocks_equals_the_one_block_read() -> None:
    """``parallel``: Arrow parses the batch in 1 MB blocks on its pool (a 10,000-line batch is ~3 MB); the
    columns, failures and order are those of the one-block read, mangled rows included; a line longer
    than a block, under a cap that allows it, is still read whole."""
    decoder = Decoder(InputConfig())
    lines = _mix(10_000, 4)
    bad = [line for line, reason in MANGLED
           if reason == "bad_timestamp" or reason == "bad_type:client_ip" and b'"not-an-ip"' in line]
    lines[17], lines[9_000] = bad[0], bad[-1]  # rows Arrow reads and the finish patches per record
    assert sum(map(len, lines)) > 2 << 20
    raw = decoder.read_raw(lines, parallel=True)
    assert raw is not None  # read whole by Arrow, the bad rows then patched per record
    got = decoder.finish_raw(raw, lines)
    assert sorted(got.failures) == [17, 9_000]
    assert_columns_equal(got, decoder.decode_columns(lines))
    assert_columns_equal(got, _oracle(decoder, lines))
    big = Decoder(InputConfig(max_line_bytes=2 << 20))
    long_line = _line(user_agent="u" * 1_500_000)  # longer than a 1 MB block
    batch = lines[:50] + [long_line] + lines[50:100]
    raw = big.read_raw(batch, parallel=True)
    assert raw is not None
    got = big.finish_raw(raw, batch)
    assert_columns_equal(got, _oracle(big, batch))
    assert len(got.user_agent[50].as_py()) == big._ua_cap


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_on_the_generated_mix(preset: str) -> None:
    keys = PRESETS[preset]
    decoder = Decoder(InputConfig(preset=preset))
    batch = _renamed(_mix(3_000, 5), keys)
    got = _check(decoder, batch, arrow=True)
    want_unit = {"truesli": 1.0, "envoy": 1.0, "nginx": 1000.0, "alb": 1000.0}[preset]
    first = orjson.loads(batch[0])[keys["duration_ms"]]
    assert got.duration_ms[0].as_py() == first * want_unit


def test_custom_field_map_and_unit() -> None:
    fields = {"client_ip": "remote", "user_agent": "agent", "duration_ms": "took"}
    decoder = Decoder(InputConfig(fields=fields, duration_unit="us"))
    batch = _renamed(_mix(3_000, 6), fields)
    got = _check(decoder, batch, arrow=True)
    assert got.duration_ms[0].as_py() == orjson.loads(batch[0])["took"] * 1e-3


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_mangled_lines_inside_clean_batches_are_patched_per_record(preset: str) -> None:
    """Every MANGLED line of one JSON type per field (what Arrow can read) is patched into an Arrow
    read at its position, with its exact failure or values; the rest send the batch per record."""
    keys = PRESETS[preset]
    decoder = Decoder(InputConfig(preset=preset))
    clean = _renamed(_mix(400, 8), keys)
    patched = 0
    for line, _ in MANGLED:
        batch = clean[:200] + _renamed([line], keys) + clean[200:]
        read = _arrow(decoder, batch)
        got = _check(decoder, batch)
        if read is not None:
            patched += 1
            assert_columns_equal(read, got)
    # Lines of another JSON type for a field (epoch ts, "404", lists, ints as flags …) make Arrow raise.
    assert patched >= 25


def test_every_mangled_reason_at_its_row() -> None:
    decoder = Decoder(InputConfig())
    clean = _mix(300, 9)
    batch = list(clean)
    for k, (line, _) in enumerate(MANGLED):
        batch.insert(k * 5, line)
    got = _check(decoder, batch)
    reasons = {got.failures[i].reason for i in got.failures}
    assert {r for _, r in MANGLED if r and r != "future_timestamp"} <= reasons


def test_patched_rows_keep_their_positions_in_an_arrow_read() -> None:
    decoder = Decoder(InputConfig())
    clean = _mix(50, 10)
    odd = [_line(ts="2026-01-01T00:00:01Z"), _line(duration_ms=-1), _line(status=1000), _line(client_ip="x"),
           _line(path="https://Other.example.com:8443/x?y=1", host=None), _line(ts="2099-01-01T00:00:00.000Z"),
           b"{}", _line(method=""), _line(host="-", user_agent="-", forwarded_for="-"), _line(duration_ms=-5)]
    batch = clean[:10] + odd + clean[10:]
    got = _check(decoder, batch, arrow=True)
    assert sorted(got.failures) == [12, 13, 16, 17, 19]
    assert [got.failures[i].reason for i in sorted(got.failures)] == [
        "bad_type:status", "bad_type:client_ip", "missing_field:ts", "missing_field:method",
        "bad_type:duration_ms"]
    assert got.ts_ms[10].as_py() == T0_MS + 1_000
    assert got.duration_ms[11].as_py() is None and got.status[11].as_py() == 200
    assert got.host[14].as_py() == "other.example.com" and got.path[14].as_py() == "/x"
    assert got.host[18].as_py() == "" and got.user_agent[18].as_py() == "" and got.forwarded_for[18].as_py() is None
    assert got.client_ip[12].as_py() is None and got.status[12].as_py() is None


@pytest.mark.parametrize("line,reason", SUSPECT)
def test_suspect_lines_send_the_batch_per_record(line: bytes, reason: str | None) -> None:
    """…except valid non-ASCII UTF-8 (the msgspec path's screen wants ASCII, Arrow's takes it)."""
    decoder = Decoder(InputConfig())
    batch = _mix(100, 11) + [line]
    try:
        text = not line.isascii() and bool(line.decode("utf-8"))
    except UnicodeDecodeError:
        text = False
    got = _check(decoder, batch, arrow=text)
    assert (got.failures[100].reason if 100 in got.failures else None) == reason


ARROW_ONLY = [
    _line()[:-1] + b',"x":NaN}', _line()[:-1] + b',"x":Infinity}', _line()[:-1] + b',"x":-Infinity}',
    _line()[:-1] + b',"x":-Inf}', _line(duration_ms=_ABSENT)[:-1] + b',"duration_ms":NaN}',
    _line()[:-1] + b',"x": NaN}', _line()[:-1] + b',"x":[1, NaN]}', _line()[:-1] + b',"x":[Inf]}',
    _line()[:-1] + b',"x":\t-Infinity}', _line()[:-1] + b',"x":' + b"1" * 250 + b'e99}',
    _line()[:-1] + b',"x":-' + b"3" * 309 + b'}', _line()[:-1] + b',"x":[0,' + b"2" * 20 + b'.5E+290]}',
    _line()[:-1] + b',"x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    _line()[:-1] + b',"x":' + b"9" * 400 + b"}", _line()[:-1] + b',"x":2.5E+308}',
    _line() + b" " + _line(),                         # two objects on one line: two Arrow rows
    _line() + b"\n" + _line(),                        # a Kafka value holding a newline
    _line() + b"\n",
]


@pytest.mark.parametrize("index", range(len(ARROW_ONLY)))
def test_what_arrow_accepts_and_orjson_rejects_goes_per_record(index: int) -> None:
    decoder = Decoder(InputConfig())
    line = ARROW_ONLY[index]
    batch = _mix(50, 12) + [line] + _mix(5, 13)
    got = _check(decoder, batch, arrow=False)
    want = decoder.decode(line)
    assert got.failures.get(50) == (want if type(want) is DecodeFailure else None)


@pytest.mark.parametrize("index", range(len(ARROW_ONLY)))
def test_the_pattern_pass_left_to_the_finish_declines_the_same_batches(index: int) -> None:
    """``defer_pattern``: Arrow reads before the RE2 pass, which the finish runs — a read it declines is
    thrown away, and every value and failure is the per-record decoder's."""
    decoder = Decoder(InputConfig())
    batch = _mix(50, 12) + [ARROW_ONLY[index]] + _mix(5, 13)
    raw = decoder.read_raw(batch, defer_pattern=True)
    assert_columns_equal(decoder.finish_raw(raw, batch), _oracle(decoder, batch))
    clean = _mix(300, 18)
    raw = decoder.read_raw(clean, defer_pattern=True)
    assert raw is not None and raw.joined is not None  # read whole, the pass still to run
    got = decoder.finish_raw(raw, clean)
    assert got.encoded is not None  # finished from Arrow's columns, not per record
    assert_columns_equal(got, _oracle(decoder, clean))


def test_numbers_orjson_reads_are_read_whole() -> None:
    """Only a number that may overflow a double declines the batch: orjson reads an integer past 64 bits
    as a float, so numeric 64-bit ids (trace ids), long integers and long fractions stay on the whole-batch
    path — in a field Arrow skips and in the kept duration alike; an int64 status out of range makes Arrow
    raise (per record)."""
    decoder = Decoder(InputConfig())
    ok = [_line()[:-1] + b',"dd.trace_id":18446744073709551615}', _line()[:-1] + b',"x":-' + b"9" * 25 + b'}',
          _line()[:-1] + b',"x":' + b"4" * 299 + b'}', _line()[:-1] + b',"x":' + b"1" * 19 + b'e99}',
          _line()[:-1] + b',"x":[1.5e-400, 2E+99]}', _line(duration_ms=_ABSENT)[:-1] + b',"duration_ms":' + b"7" * 299 + b'}',
          _line(duration_ms=_ABSENT)[:-1] + b',"duration_ms":1234567890123456789012345}',
          _line(duration_ms=_ABSENT)[:-1] + b',"duration_ms":0.1000000000000000055511151231257827021181583404541015625}',
          _line(user_agent="id " + "8" * 400)]
    got = _check(decoder, _mix(40, 20) + ok, arrow=True)
    assert got.duration_ms[45].as_py() == float("7" * 299) and got.duration_ms[46].as_py() == 1.2345678901234568e24
    assert not got.failures
    _check(decoder, _mix(40, 20) + [_line(status=12345678901234567890)], arrow=False)


def test_arrow_alone_would_read_them_as_rows() -> None:
    """Why the screen exists: pyarrow reads these lines without an error, orjson rejects them."""
    import pyarrow.json as pj
    decoder = Decoder(InputConfig())
    options = pj.ParseOptions(explicit_schema=decoder._arrow[0], unexpected_field_behavior="ignore")
    for line in ARROW_ONLY[:16]:
        assert type(decoder.decode(line)) is DecodeFailure
        assert pj.read_json(pa.BufferReader(line), parse_options=options).num_rows >= 1


def test_nan_and_inf_inside_strings_keep_the_batch_whole() -> None:
    """The screen looks for NaN/Inf where a JSON value starts, not in text: an old IE's "InfoPath", a
    "NaN" in a query string or a path are ordinary values (real logs carry them in most batches)."""
    decoder = Decoder(InputConfig())
    odd = [_line(user_agent="Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; InfoPath.2)"),
           _line(path="/api/item?id=NaN&ref=Infinity"), _line(path="/Info")]
    got = _check(decoder, _mix(40, 17) + odd, arrow=True)
    assert not got.failures and got.path[41].as_py() == "/api/item" and got.path[42].as_py() == "/Info"
    # Text that looks like a value after ":" "," or "[" is declined all the same (the screen does not parse).
    _check(decoder, _mix(40, 17) + [_line(user_agent="x:NaN")], arrow=False)


def test_valid_utf8_is_read_whole_and_invalid_utf8_goes_per_record() -> None:
    """Raw UTF-8 values (not \\u-escaped) are read by Arrow as orjson reads them; bytes that are not UTF-8 —
    a stray byte, an overlong form, an encoded surrogate, past U+10FFFF, cut short — send the batch per
    record, where orjson names them."""
    decoder = Decoder(InputConfig())
    raw = [_line(user_agent="Mozilla/5.0 (Linux; Android 12; Infinix X6816C) caf\u00e9 \u5fae\u4fe1 \U0001f600"),
           _line(path="/\u00e9t\u00e9?q=\u00fc"), _line(host="b\u00fccher.example"), _line(method="g\u00e9t"),
           _line(ts="2026-01-01T00:00:01.2\u0665\u0660Z"), _line(client_ip="\uff11.2.3.4"),
           _line(forwarded_for="\u00e9, 1.2.3.4"), _line()[:-1] + ',"referer":"https://\u00e9.example/"}'.encode()]
    assert not any(x.isascii() for x in raw[:7])
    _check(decoder, _mix(40, 19) + raw, arrow=True)
    for bad in (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"):
        line = _line()[:-1] + b',"x":"' + bad + b'"}'
        _check(decoder, _mix(40, 19) + [line], arrow=False)


@pytest.mark.parametrize("odd", [b"", b"   ", b"\n", b" " + _line(), "a str item", bytearray(_line()),
                                 {"ts": "2026-01-01T00:00:01.000Z", "client_ip": "10.0.0.1", "method": "GET",
                                  "path": "/", "status": 200},
                                 OversizedRow(b'{"path":"/x"}', 70_000, "path", 69_000),
                                 b"127.0.0.1 - - [01/Jan/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 5"])
def test_items_that_are_not_one_json_line_send_the_batch_per_record(odd: Any) -> None:
    decoder = Decoder(InputConfig())
    batch = _mix(30, 14) + [odd] + _mix(3, 15)
    for items in (batch, [odd], [odd] + batch):
        got = decoder.decode_columns(items)
        assert_columns_equal(got, _oracle(decoder, items))
        assert _arrow(decoder, items) is None


def test_oversized_line_and_empty_batch() -> None:
    decoder = Decoder(InputConfig(max_line_bytes=1_000))
    big = _line(user_agent="x" * 1_000)
    _check(decoder, _mix(20, 16) + [big], arrow=False)
    got = _check(Decoder(InputConfig()), [], arrow=False)
    assert got.n == 0 and len(got.ts_ms) == 0


def test_arrow_type_mismatch_and_duplicate_key_decline_the_batch() -> None:
    decoder = Decoder(InputConfig())
    for line in (_line(status="200"), _line(status=200.0), _line(status=2e2), _line(rate_limited=1),
                 _line(ts=T0_MS), b'{"ts":"2026-01-01T00:00:01.000Z","ts":"2026-01-01T00:00:02.000Z"}',
                 b"[1, 2]", b'"s"'):
        _check(decoder, _mix(20, 17) + [line], arrow=False)


def test_caps_cuts_escapes_and_non_ascii_values() -> None:
    decoder = Decoder(InputConfig(max_path_chars=64, max_user_agent_chars=16))
    lines = [
        _line(path="/" + "p" * 100 + "?q=1"), _line(path="/a#b?c"), _line(path="/a?b#c"), _line(path="/a#frag"),
        _line(path="/\u00e9" * 40), _line(user_agent="\u00e9" * 20), _line(user_agent="-"), _line(user_agent=None),
        _line(host="WWW.Example.COM:8080"), _line(host="[2001:db8::1]:443"), _line(host=""),
        _line(forwarded_for="f" * 1_500), _line(forwarded_for="\u00e9" * 1_100), _line(method="get"),
        _line(method="\u00e9" * 3), _line(client_ip="2001:DB8::1"), _line(client_ip="10.0.0.1:8080"),
        _line(ts="2026-01-01T00:00:01.2\u0665\u0660Z"), _line(ts="2026-01-01 00:00:01.250Z"),
        _line(ts="2026-01-01t00:00:01.250Z"), _line(ts="2026-01-01T00:00:61.250Z"), _line(ts="1999-12-31T23:59:59.999Z"),
        _line(ts="2100-01-01T00:00:00.000Z"), _line(ts="2026x01-01T00:00:01.250Z"), _line(user_agent="\u0000"),
        _line(duration_ms=0), _line(duration_ms=-0.0), _line(duration_ms=1.7e99), _line(duration_ms=123456789012345678),
        _line(rate_limited=True, synthetic=False), _line(rate_limited=None, synthetic=True),
    ]
    batch = [orjson.loads(x) for x in lines]
    batch = [json.dumps(o).encode() for o in batch]  # \u-escaped: ASCII bytes, non-ASCII values
    assert all(x.isascii() for x in batch)
    got = _check(decoder, batch, arrow=True)
    assert got.path[0].as_py() == "/" + "p" * 63 and got.path[1].as_py() == "/a"
    assert got.path[3].as_py() == "/a#frag" and got.user_agent[5].as_py() == "\u00e9" * 16


def test_minutes_seen_first_in_a_batch_fill_the_same_cache() -> None:
    """A minute first met by the Arrow read is then read from MINUTE_MS_CACHE by the per-record path."""
    from streams.core.timeparse import MINUTE_MS_CACHE
    decoder = Decoder(InputConfig())
    ts = "2031-05-06T07:08:09.010Z"
    MINUTE_MS_CACHE.pop(ts[:16], None)
    got = _check(decoder, [_line(ts=ts)] * 3, arrow=True)
    assert ts[:16] in MINUTE_MS_CACHE
    assert got.ts_ms.to_pylist() == [decoder.decode(_line(ts=ts)).ts_ms] * 3 == [1_935_817_689_010] * 3


@pytest.mark.parametrize("ts, ms", [
    ("2026-01-01T00:00:60.000Z", 1_767_225_660_000),  # a leap second: the next minute's first
    ("2026-01-01t00:00:59.999Z", 1_767_225_659_999),
    ("2026-01-01 00:00:07.001Z", 1_767_225_607_001),
    ("2099-12-31T23:59:59.999Z", 4_102_444_799_999),
    ("2099-12-31T23:59:60.000Z", None),  # = 2100-01-01: out of range
    ("1999-12-31T23:59:60.000Z", 946_684_800_000),  # = 2000-01-01 (its minute is out of range: per record)
    ("2026-01-01T00:00:61.000Z", None), ("2026-01-01T00:00;00.000Z", None), ("2026-01-01T00:0:000.000Z", None),
    ("2026-02-29T00:00:00.000Z", None), ("2026-01-01T24:00:00.000Z", None), ("2026-01-01T00:00:0a.000Z", None),
])
def test_timestamps_read_by_minute_and_seconds_equal_the_per_record_parser(ts: str, ms: int | None) -> None:
    """The Arrow read converts each distinct minute once and looks the seconds up: every value, or the
    per-record failure, is the one the per-record parser gives (the row goes per record when in doubt)."""
    decoder = Decoder(InputConfig())
    got = _check(decoder, [_line(ts=ts), _line()], arrow=True)
    assert got.ts_ms[0].as_py() == ms
    assert (0 in got.failures) == (ms is None)


@pytest.mark.parametrize("ts", ["\u0662\u0660\u06626-01-01T00:05.123Z", "\U0001d7d0026-01-01T00:05.123Z",
                                "\u0662\u0660\u0662\u0666-01-01T00:05:01.123Z", "2026-01-01T00:05:0\u0661.123Z",
                                "2026-01-\u00e91T00:05:01.123Z"])
def test_escaped_non_ascii_timestamps_are_cut_by_code_points(ts: str) -> None:
    """JSON bytes that are all ASCII can unescape to other characters: the seconds and the suffix are cut
    by bytes only where the values themselves are ASCII, else a shifted cut of a timestamp without seconds
    ("...T00:05.123Z" after three two-byte digits) would pass for a valid one."""
    decoder = Decoder(InputConfig())
    line = json.dumps({**orjson.loads(_line()), "ts": ts}).encode()
    assert line.isascii()
    _check(decoder, [line, _line()], arrow=True)


@pytest.mark.parametrize("ip, want", [
    ("10.0.0.1", "10.0.0.1"), ("255.255.255.255", "255.255.255.255"), ("0.0.0.0", "0.0.0.0"),
    ("010.0.0.1", None), ("256.1.1.1", None), ("1.2.3", None), ("1.2.3.4.5", None),
    ("1.2.3.4:8080", "1.2.3.4"), (" 1.2.3.4", "1.2.3.4"), ("1.2.3.4\n", "1.2.3.4"), ("[::1]:80", "::1"),
    ("2001:DB8::1", "2001:db8::1"), ("::ffff:1.2.3.4", "::ffff:102:304"),
])
def test_client_ips_fixed_by_pattern_or_normalized_equal_the_per_record_decoder(ip: str, want: str | None) -> None:
    """Canonical dotted quads are kept as read (an RE2 test, no Python per value); every other distinct IP
    goes through normalize_ip; an invalid one sends its row per record, to its dead-letter reason."""
    decoder = Decoder(InputConfig())
    got = _check(decoder, [_line(client_ip=ip), _line(client_ip="10.0.0.1")], arrow=True)
    assert got.client_ip.to_pylist() == [want, "10.0.0.1"]
    assert (0 in got.failures) == (want is None)


_TYPED = {
    "ts": st.one_of(st.none(), st.integers(T0_MS - 600_000, T0_MS + 600_000).map(format_rfc3339),
                    st.sampled_from(["", "-", "2026-01-01T00:00:00Z", "2026-13-01T00:00:00.000Z",
                                     "2026-01-01T00:00:00.5Z"]), st.text(max_size=26)),
    "client_ip": st.one_of(st.none(), st.sampled_from(["", "-", "10.0.0.1", "010.0.0.1", "::1", "[::1]:80",
                                                       "10.0.0.1:80", "x"]), st.text(max_size=6)),
    "method": st.one_of(st.none(), st.sampled_from(["GET", "post", "", "X" * 17]), st.text(max_size=4)),
    "host": st.one_of(st.none(), st.sampled_from(["-", "", "A.b:80", "a.b:x"]), st.text(max_size=6)),
    "path": st.one_of(st.none(), st.sampled_from(["/", "/a?b", "/a#b", "x", "", "http://h/p?q", "/a?b#c"]),
                      st.text(max_size=8)),
    "status": st.one_of(st.none(), st.integers(-5, 1_005)),
    "duration_ms": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False),
                             st.integers(-3, 10**18), st.sampled_from([-1, -1.0, 0])),
    "user_agent": st.one_of(st.none(), st.sampled_from(["-", "", "ua"]), st.text(max_size=8)),
    "rate_limited": st.one_of(st.none(), st.booleans()),
    "synthetic": st.one_of(st.none(), st.booleans()),
    "forwarded_for": st.one_of(st.none(), st.sampled_from(["-", "", "1.2.3.4"]), st.text(max_size=5)),
    "bytes": st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=4), st.lists(st.integers(), max_size=2)),
}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({}, optional=_TYPED), min_size=1, max_size=10),
       st.sampled_from(sorted(PRESETS)), st.booleans())
def test_arbitrary_typed_objects_equal_the_per_record_decoder(objs: list[dict], preset: str, escaped: bool) -> None:
    """Each field of the JSON type Arrow reads it as (so the batch is read whole unless a screen trips):
    arbitrary values, absences and nulls, patched or finished, equal the oracle."""
    keys = PRESETS[preset]
    decoder = Decoder(InputConfig(preset=preset))
    base = orjson.loads(_line(ts="2026-01-01T00:00:00.250Z"))
    # stdlib json: \u-escapes non-ASCII and lone surrogates (or, not ``escaped``, writes them as UTF-8 —
    # hypothesis' text has no surrogates), writes integers past 64 bits
    batch = [json.dumps({keys.get(k, k): v for k, v in {**base, **o}.items()}, ensure_ascii=escaped).encode()
             for o in objs]
    _check(decoder, batch)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([x for x, _ in MANGLED + SUSPECT] + ARROW_ONLY)),
                min_size=1, max_size=12))
def test_arbitrary_batches_equal_the_per_record_decoder(batch: list[bytes]) -> None:
    _check(Decoder(InputConfig()), batch)


@pytest.mark.parametrize("batch_of", ["clean", "mangled"])
@pytest.mark.parametrize("parallel", [False, True])
def test_finish_groups_equals_decoding_each_group_alone(batch_of: str, parallel: bool) -> None:
    """One decode of a consume call's records split by partition = each partition decoded alone: every
    column value, every failure at its row in its group, the items themselves (Arrow's read on one
    thread or on its pool)."""
    decoder = Decoder(InputConfig())
    items = _mix(600, 8)
    if batch_of == "mangled":
        for k, (line, _) in enumerate(MANGLED):
            items[7 * k + 3] = line
    groups = {p: [i for i in range(len(items)) if (i * 7 + i // 50) % 3 == p] for p in range(3)}
    got = decoder.finish_groups(decoder.read_raw(items, parallel), items, groups)
    assert sorted(got) == [0, 1, 2]
    failed = 0
    for p, rows in groups.items():
        alone = [items[i] for i in rows]
        assert list(got[p].items) == alone
        assert_columns_equal(got[p].columns, _oracle(decoder, alone))
        failed += len(got[p].columns.failures)
    whole = _oracle(decoder, items).failures
    assert failed == len(whole) and (len(whole) > 20 if batch_of == "mangled" else not whole)
    assert decoder.finish_groups(decoder.read_raw(items), items, {}) == {}


def test_the_decode_hands_on_its_encodings_of_unchanged_columns() -> None:
    """The batch core reuses the decode's dictionary encodings: each equals encoding the finished column
    itself; a batch with a row patched per record hands none on (its columns were rebuilt)."""
    decoder = Decoder(InputConfig())
    lines = _mix(3_000, 9)
    got = _check(decoder, lines, arrow=True)
    _assert_encodings(got)
    lines[5] = MANGLED[0][0]  # "get", "Shop.Example.com:443", "/checkout?step=2#top": mapped, still encoded
    _assert_encodings(_check(decoder, lines, arrow=True))
    lines[6] = next(line for line, reason in MANGLED if reason == "bad_timestamp")
    assert _check(decoder, lines, arrow=True).encoded is None
    assert decoder.decode_columns([b"not json"] * 3).encoded is None  # per record: nothing to hand on


def _assert_encodings(got: RequestColumns) -> None:
    assert sorted(got.encoded) == ["host", "method", "path", "user_agent"]
    for name, enc in got.encoded.items():
        want = pc.dictionary_encode(getattr(got, name))
        assert enc.indices.to_pylist() == want.indices.to_pylist(), name
        assert enc.dictionary.to_pylist() == want.dictionary.to_pylist(), name
