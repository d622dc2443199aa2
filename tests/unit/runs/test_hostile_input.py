"""Hostile input is bounded (DESIGN §3.6) and every record is accounted for (§3.1), whatever arrives.

Property tests throw arbitrary bytes, text and half-valid JSON objects at the decoder and the pipeline;
the explicit cases pin the exact outcome of known nasty inputs.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.core.filters.bot_ua as bot_ua
import streams.core.filters.traffic as traffic
from streams.config import FIELD_NAMES, Config, InputConfig
from streams.core.decode import RAW_LIMIT, DecodeFailure, Decoder
from streams.core.pipeline import Pipeline
from streams.core.timeparse import format_rfc3339
from streams.core.model import Request

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 60_000
Y2099 = 4_070_908_800_000  # 2099-01-01T00:00:00Z

DECODE_REASONS = {"oversized", "empty", "invalid_utf8", "malformed_json", "not_an_object", "bad_timestamp",
                  "unparseable_line", "future_timestamp"}
PIPELINE_REASONS = DECODE_REASONS | {"too_late"}
SCHEMA_REASON = re.compile(r"^[a-z0-9_]+(:[a-z0-9_]+)?$")  # schemas/dead_letter.schema.json

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE_PROPERTY = settings(max_examples=200, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def _compile_crawler_list_once():
    """Every Pipeline compiles the ~1,500 crawler-list regexes; the property test builds one per example.
    Compiled RE2 patterns are immutable, so sharing them between pipelines changes nothing but run time."""
    compile_re2 = traffic.compile_re2
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(traffic, "compile_re2", functools.lru_cache(maxsize=None)(compile_re2))
        yield


def is_documented(reason: str, plain: set[str]) -> bool:
    if reason in plain:
        return True
    prefix, _, field = reason.partition(":")
    return prefix in ("missing_field", "bad_type") and field in FIELD_NAMES


def valid_line(ts_ms: int = T0, **over: Any) -> bytes:
    rec: dict[str, Any] = {"ts": format_rfc3339(ts_ms), "client_ip": "198.51.100.20", "method": "GET",
                           "path": "/checkout", "status": 200, "duration_ms": 12,
                           "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
    rec.update(over)
    return orjson.dumps(rec)


# -- strategies ----------------------------------------------------------------------------------------

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

PLAUSIBLE: dict[str, st.SearchStrategy] = {
    "ts": st.one_of(
        st.integers(T0 - 600_000, T0 + 600_000),                              # epoch ms around now
        st.integers((T0 - 600_000) // 1000, (T0 + 600_000) // 1000),          # epoch seconds
        st.integers(T0 - 600_000, T0 + 600_000).map(format_rfc3339),
        st.integers(T0 - 600_000, T0 + 600_000).map(lambda ms: str(ms)),
        st.sampled_from([Y2099, 0, 946_684_800_000, "2026-13-01T00:00:00Z", "yesterday", "2026-01-01T00:00:00+99:00",
                         "2026-01-01T00:00:00.²²²Z", "9" * 40]),
    ),
    "client_ip": st.one_of(
        st.sampled_from(["198.51.100.20", "203.0.113.9:443", "2001:db8::1", "[2001:db8::1]:443", "::ffff:1.2.3.4",
                         "999.1.1.1", "-", "", " 10.0.0.1 ", "fe80::1%eth0", "[::1"]),
        st.ip_addresses().map(str),
    ),
    "method": st.sampled_from(["GET", "POST", "get", "PROPFIND", "", "M" * 17, "ß", "G E T"]),
    "host": st.sampled_from(["example.com", "API.Example.com:8443", "[::1]:80", "-", "", "a" * 300]),
    "path": st.one_of(
        st.sampled_from(["/", "/checkout", "/api/login", "/health", "/metrics", "/.env", "/wp-login.php",
                         "/internal/x", "/a?b=c", "https://Shop.example.com:443/p?q", "http://", "*", "?",
                         "/\x00\x1f"]),
        st.text(max_size=30),
    ),
    "status": st.one_of(st.integers(-5, 1005),
                        st.sampled_from(["200", "503", "1000", "abc", "²", "٢٠٠", "", "0"])),
    "duration_ms": st.one_of(st.floats(), st.integers(-5, 10**6),
                             st.sampled_from(["12.5", "fast", "-", "nan", "1e400"])),
    "user_agent": st.one_of(
        st.sampled_from(["Mozilla/5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "sqlmap/1.7",
                         "kube-probe/1.29", "Datadog/Synthetics", "", "-", "curl/8.5.0", "Mozilla/5.0 (" * 60]),
        st.text(max_size=40),
    ),
    "rate_limited": st.sampled_from([True, False, "true", "0", "maybe", 2, None]),
    "synthetic": st.sampled_from([True, False, "yes", "no", "maybe", None]),
    "forwarded_for": st.sampled_from(["198.51.100.1, 10.0.0.1", "-", "", "x" * 2000]),
}

# Objects with keys from the request_log contract, each value plausible or of a random type.
JSON_OBJECTS = st.fixed_dictionaries({}, optional={
    name: (st.one_of(PLAUSIBLE[name], JUNK) if name in PLAUSIBLE else JUNK) for name in FIELD_NAMES
})

# A valid record with one or two fields replaced: reaches the checks behind the first ones.
_FIELD_AND_VALUE = st.one_of([st.tuples(st.just(name), st.one_of(PLAUSIBLE[name], JUNK) if name in PLAUSIBLE
                                        else JUNK) for name in FIELD_NAMES])
PERTURBED = st.builds(
    lambda pairs: {**orjson.loads(valid_line()), **dict(pairs)},
    st.lists(_FIELD_AND_VALUE, min_size=1, max_size=2),
)

VALID_RECORDS = st.builds(
    lambda ts, ip, path, status, ua: valid_line(ts, client_ip=ip, path=path, status=status, user_agent=ua),
    st.integers(T0 - 300_000, T0 + 300_000), st.sampled_from(["198.51.100.20", "203.0.113.9", "2001:db8::7"]),
    st.sampled_from(["/", "/checkout", "/health", "/api/login"]), st.sampled_from([200, 201, 404, 500, 503]),
    st.sampled_from(["Mozilla/5.0", "curl/8.5.0", "Googlebot/2.1"]),
)

CLF_LINES = st.builds(
    lambda ip, when, req, status, tail: f'{ip} - - [{when}] "{req}" {status} 0{tail}',
    st.sampled_from(["1.2.3.4", "2001:db8::1", "nope"]),
    st.sampled_from(["01/Jan/2026:00:00:30 +0000", "01/Jan/2026:01:00:30 +0100", "31/Dec/1999:23:59:59 +0000",
                     "01/Foo/2026:00:00:00 +0000", "x"]),
    st.one_of(st.sampled_from(["GET / HTTP/1.1", "\x16\x03\x01", "-", "POST /api/login HTTP/1.1"]),
              st.text(max_size=20)),
    st.sampled_from(["200", "404", "503", "abc"]),
    st.one_of(st.just(""), st.just(' "-" "-"'), st.just(' "-" "Mozilla/5.0" 0.125'), st.text(max_size=20)),
)


def _mutate(data: bytes, cut: int, junk: bytes) -> bytes:
    """Truncate a valid JSON line somewhere and splice in junk bytes."""
    cut %= len(data) + 1
    return data[:cut] + junk + data[cut:]


ITEMS = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    JSON_OBJECTS.map(orjson.dumps),
    JSON_OBJECTS.map(lambda o: orjson.dumps(o).decode()),
    JSON_OBJECTS,                                                     # already-parsed rows
    PERTURBED.map(orjson.dumps),
    PERTURBED,
    VALID_RECORDS,
    st.builds(_mutate, VALID_RECORDS, st.integers(0, 400), st.binary(min_size=1, max_size=8)),
    CLF_LINES,
    CLF_LINES.map(lambda s: s.encode("utf-8", "surrogatepass")),
)

DECODERS = [Decoder(InputConfig(preset=p, format=f)) for p in ("truesli", "nginx", "envoy", "alb")
            for f in ("auto", "jsonl", "combined")]
DECODERS.append(Decoder(InputConfig(fields={"path": "request.path", "status": "response.status"},
                                    max_line_bytes=256, max_user_agent_chars=16, duration_unit="us")))


# -- (a) the decoder never raises ----------------------------------------------------------------------

def check_decoded(out: Request | DecodeFailure, ua_cap: int) -> None:
    if isinstance(out, DecodeFailure):
        assert is_documented(out.reason, DECODE_REASONS), out
        assert out.reason != "future_timestamp"  # only the pipeline knows the clock
        assert isinstance(out.error, str) and out.error
    else:
        assert type(out) is Request
        assert type(out.ts_ms) is int and 946_684_800_000 <= out.ts_ms < 4_102_444_800_000
        assert type(out.status) is int and 0 <= out.status <= 999
        assert out.duration_ms is None or (type(out.duration_ms) is float and out.duration_ms >= 0)
        assert len(out.user_agent) <= ua_cap
        assert out.path and out.method == out.method.upper()


@PROPERTY
@given(st.binary(max_size=600), st.sampled_from(DECODERS))
def test_decode_arbitrary_bytes_never_raises(data: bytes, decoder: Decoder) -> None:
    check_decoded(decoder.decode(data), 512)


@PROPERTY
@given(st.text(max_size=600), st.sampled_from(DECODERS))
def test_decode_arbitrary_text_never_raises(text: str, decoder: Decoder) -> None:
    check_decoded(decoder.decode(text), 512)


@PROPERTY
@given(ITEMS, st.sampled_from(DECODERS))
def test_decode_structured_hostile_items_never_raises(item: Any, decoder: Decoder) -> None:
    check_decoded(decoder.decode(item), 512)


@PROPERTY
@given(st.one_of(JSON_OBJECTS, PERTURBED))
def test_decode_json_object_bytes_and_dict_agree(obj: dict) -> None:
    # The same object as a JSON line or as an already-parsed row decodes the same way (NaN/inf floats
    # become null in JSON, so compare only rows that survive a round trip unchanged).
    line = orjson.dumps(obj)
    if orjson.loads(line) != obj:
        return
    decoder = DECODERS[0]
    assert decoder.decode(line) == decoder.decode(obj)


# -- (b) the pipeline accounts for every record --------------------------------------------------------

def check_outputs(out: Any, batch: list) -> None:
    tally = out.tally
    tally.check_conservation()
    assert tally.consumed == len(batch)
    assert len(out.dead_letters) == sum(tally.dead_lettered.values())
    assert Counter(d.reason for d in out.dead_letters) == Counter(tally.dead_lettered)
    offsets = [d.offset for d in out.dead_letters]
    assert offsets == sorted(set(offsets)) and all(1 <= o <= len(batch) for o in offsets)
    for d in out.dead_letters:
        assert d.reason and SCHEMA_REASON.match(d.reason), d
        assert is_documented(d.reason, PIPELINE_REASONS), d
        assert len(d.raw) <= RAW_LIMIT
    for c in out.counters:
        assert 0 <= c.good <= c.total <= c.raw_total and 0 <= c.raw_good <= c.raw_total


@PIPELINE_PROPERTY
@given(st.lists(st.lists(ITEMS, max_size=25), min_size=1, max_size=4))
def test_pipeline_conserves_every_record(batches: list[list]) -> None:
    pipeline = Pipeline(Config())
    latest: dict[str, Any] = {}
    per_batch_consumed = 0
    for batch in batches:
        out = pipeline.process(batch, now_ms=NOW)
        check_outputs(out, batch)
        per_batch_consumed += out.tally.consumed
        for c in out.counters:
            latest[c.key] = c
    end = pipeline.flush()
    assert end.tally.consumed == 0 and end.dead_letters == []
    for c in end.counters:
        latest[c.key] = c

    cumulative = pipeline.tally
    cumulative.check_conservation()
    assert cumulative.consumed == per_batch_consumed == sum(len(b) for b in batches)
    # The default config has one catch-all journey with one availability SLO: every counted record is in
    # exactly one window's total, every filtered one only in raw_total, nothing is unmatched.
    assert cumulative.unmatched == 0
    assert sum(c.total for c in latest.values()) == cumulative.counted
    assert sum(c.raw_total for c in latest.values()) == cumulative.counted + sum(cumulative.filtered.values())


# -- explicit hostile cases ----------------------------------------------------------------------------

def test_one_megabyte_line_is_oversized() -> None:
    line = valid_line(user_agent="A" * 1_048_576)
    pipeline = Pipeline(Config())
    out = pipeline.process([line, valid_line()], now_ms=NOW)
    assert out.tally.to_dict() == {"consumed": 2, "counted": 1, "filtered": {}, "excluded": {}, "unmatched": 0,
                                   "dead_lettered": 1, "dead_letter_reasons": {"oversized": 1}, "late": 0}
    [dead] = out.dead_letters
    assert (dead.reason, dead.error, dead.offset, dead.ts_ms) == (
        "oversized", f"record is {len(line)} bytes; the cap is 65536", 1, None)
    assert dead.raw == line[:RAW_LIMIT].decode()


# "a"×512 is one bare lowercase word (a crawler's shape); "("×512 names no browser, platform or engine.
@pytest.mark.parametrize("ua, filtered", [("Mozilla/5.0 (" * 5000, {}), ("a" * 65_536 + "bot", {"crawler": 1}),
                                          ("(" * 65_536, {"automation": 1}),
                                          ("Mozilla/5.0 " + "\\" * 65_000 + '"', {})])
def test_huge_user_agent_is_truncated_before_any_regex(ua: str, filtered: dict) -> None:
    cfg = Config(input=InputConfig(max_line_bytes=200_000))
    line = valid_line(user_agent=ua)
    assert len(line) < 200_000
    decoded = Decoder(cfg.input).decode(line)
    assert decoded == Request(T0, "198.51.100.20", "GET", "", "/checkout", 200, 12.0, ua[:512])
    assert len(decoded.user_agent) == 512
    pipeline = Pipeline(cfg)
    out = pipeline.process([line], now_ms=NOW)
    n = 0 if filtered else 1
    assert out.tally.to_dict() == {"consumed": 1, "counted": n, "filtered": filtered, "excluded": {}, "unmatched": 0,
                                   "dead_lettered": 0, "dead_letter_reasons": {}, "late": 0}
    [counter] = pipeline.flush().counters
    assert (counter.window_start_ms, counter.good, counter.total, counter.raw_total) == (T0, n, n, 1)


def test_huge_user_agent_in_a_combined_line_is_truncated() -> None:
    ua = "Mozilla/5.0 (" * 5000
    line = f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "{ua}" 0.5'
    out = Decoder(InputConfig(max_line_bytes=200_000)).decode(line)
    assert out == Request(T0, "1.2.3.4", "GET", "", "/", 200, 500.0, ua[:512])


def test_combined_line_full_of_quotes_and_backslashes_is_rejected() -> None:
    line = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "' + '\\"' * 20_000 + ' 200 0'
    out = Decoder(InputConfig()).decode(line)
    assert out == DecodeFailure("unparseable_line", "combined: has a [dd/Mon/yyyy:…] time but not the layout "
                                "'client ident user [time] \"METHOD target protocol\" status bytes'")


def test_invalid_utf8_inside_a_json_string() -> None:
    line = valid_line(user_agent="PLACEHOLDER").replace(b"PLACEHOLDER", b"Mozilla\xff\xfe/5.0")
    out = Pipeline(Config()).process([line, valid_line()], now_ms=NOW)
    assert out.tally.counted == 1 and out.tally.dead_lettered == {"invalid_utf8": 1}
    assert [(d.reason, d.offset) for d in out.dead_letters] == [("invalid_utf8", 1)]
    assert "\\xff\\xfe" in out.dead_letters[0].raw


def test_dead_letter_raw_is_bounded_for_invalid_utf8_bytes() -> None:
    # Each undecodable byte becomes 4 characters ("\xff") in raw; the schema caps raw at 4096 characters.
    out = Pipeline(Config()).process([b"\xff" * 5000], now_ms=NOW)
    [dead] = out.dead_letters
    assert dead.reason == "invalid_utf8"
    assert len(dead.raw) <= RAW_LIMIT


def test_duplicate_keys_last_one_wins() -> None:
    line = valid_line()[:-1] + b',"status":503,"path":"/health","path":"/checkout","status":500}'
    assert Decoder(InputConfig()).decode(line) == Request(
        T0, "198.51.100.20", "GET", "", "/checkout", 500, 12.0, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    pipeline = Pipeline(Config())
    assert pipeline.process([line], now_ms=NOW).tally.counted == 1
    [counter] = pipeline.flush().counters
    assert (counter.good, counter.total) == (0, 1)


@pytest.mark.parametrize("status", [b"1000000000000000000000000000000", b"18446744073709551615", b"-1",
                                    b"9223372036854775808"])
def test_huge_integer_status(status: bytes) -> None:
    line = valid_line()[:-1] + b',"status":' + status + b"}"
    assert Decoder(InputConfig()).decode(line) == DecodeFailure("bad_type:status",
                                                                "status must be an integer 0..999")


@pytest.mark.parametrize("ts", [b"1000000000000000000000000000000", b"18446744073709551615", b"1e300"])
def test_huge_number_timestamp_is_bad_timestamp(ts: bytes) -> None:
    line = b'{"ts":' + ts + b',"client_ip":"1.2.3.4","method":"GET","path":"/","status":200}'
    assert Decoder(InputConfig()).decode(line) == DecodeFailure(
        "bad_timestamp", "epoch value too large (expected seconds or milliseconds)")


def test_integer_beyond_double_range_is_malformed_json() -> None:
    line = b'{"ts":' + b"9" * 5000 + b',"client_ip":"1.2.3.4","method":"GET","path":"/","status":200}'
    assert Decoder(InputConfig()).decode(line).reason == "malformed_json"


@pytest.mark.parametrize("row", [
    {"ts": T0, "client_ip": "1.2.3.4", "method": "GET", "path": "/", "status": 200, "duration_ms": 10**400},
    {"ts": 10**400, "client_ip": "1.2.3.4", "method": "GET", "path": "/", "status": 200},
    {"ts": T0, "client_ip": "1.2.3.4", "method": "GET", "path": "/", "status": 10**400},
])
def test_huge_python_ints_in_parsed_rows_never_raise(row: dict) -> None:
    out = Decoder(InputConfig()).decode(row)
    assert type(out) is DecodeFailure
    assert out.reason in ("bad_type:duration_ms", "bad_timestamp", "bad_type:status")


def test_control_characters_in_the_path() -> None:
    escaped = valid_line(path="/a\x00b\x1fc\x7fd\u2028")
    raw = valid_line(path="PLACEHOLDER").replace(b"PLACEHOLDER", b"/a\x01b")
    clf = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a\x01b\tc HTTP/1.1" 200 0'
    decoder = Decoder(InputConfig())
    assert decoder.decode(escaped) == Request(T0, "198.51.100.20", "GET", "", "/a\x00b\x1fc\x7fd\u2028", 200,
                                              12.0, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    assert decoder.decode(raw).reason == "malformed_json"   # JSON forbids raw control characters in strings
    assert decoder.decode(clf) == Request(T0, "1.2.3.4", "GET", "", "/a\x01b\tc", 200, None, "")
    out = Pipeline(Config()).process([escaped, raw, clf], now_ms=NOW)
    assert out.tally.to_dict() == {"consumed": 3, "counted": 2, "filtered": {}, "excluded": {}, "unmatched": 0,
                                   "dead_lettered": 1, "dead_letter_reasons": {"malformed_json": 1}, "late": 0}


def test_year_2099_in_a_2026_stream_is_future_timestamp_and_the_stream_goes_on() -> None:
    pipeline = Pipeline(Config())
    batch = [valid_line(T0), valid_line(Y2099), valid_line(T0 + 1_000), valid_line(T0 + 2_000, status=503)]
    out = pipeline.process(batch, now_ms=NOW)
    assert out.tally.to_dict() == {"consumed": 4, "counted": 3, "filtered": {}, "excluded": {}, "unmatched": 0,
                                   "dead_lettered": 1, "dead_letter_reasons": {"future_timestamp": 1}, "late": 0}
    [dead] = out.dead_letters
    assert (dead.reason, dead.offset, dead.ts_ms) == ("future_timestamp", 2, Y2099)
    # The absurd record did not drag the watermark to 2099: the 2026 window is still open, then complete.
    assert out.counters == []
    later = pipeline.process([valid_line(T0 + 5_000)], now_ms=NOW)
    assert later.tally.counted == 1 and later.dead_letters == []
    [counter] = pipeline.flush().counters
    assert (counter.window_start_ms, counter.good, counter.total) == (T0, 3, 4)
    assert pipeline.tally.to_dict() == {"consumed": 5, "counted": 4, "filtered": {}, "excluded": {},
                                        "unmatched": 0, "dead_lettered": 1,
                                        "dead_letter_reasons": {"future_timestamp": 1}, "late": 0}


def test_status_with_non_decimal_digits_does_not_crash_the_pipeline() -> None:
    out = Pipeline(Config()).process([valid_line(status="²"), valid_line()], now_ms=NOW)
    assert out.tally.counted == 1 and out.tally.dead_lettered == {"bad_type:status": 1}


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    line = b'{"ts":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    out = Pipeline(Config(input=InputConfig(max_line_bytes=300_000))).process([line], now_ms=NOW)
    assert out.tally.dead_lettered == {"malformed_json": 1}


# -- hostile input at volume: a hostile configuration, regex-tripping user agents, multi-MB lines --------

# Patterns that backtrack catastrophically in a backtracking engine (Python's re, PCRE): nested and
# overlapping quantifiers. truesli compiles every user-supplied pattern with RE2, which runs them in time
# linear in the input; patterns RE2 cannot run in linear time (backreferences, look-around) are rejected
# when the config is loaded.
EVIL_PATTERNS = [r"(a+)+$", r"(x+x+)+y", r"(.*a){12}", r"^(([a-z])+.)+[A-Z]([a-z])+$", r"(\w|\d)+!"]

HOSTILE_CONFIG = {
    "input": {"max_line_bytes": 1 << 20, "trusted_proxies": ["10.0.0.0/8"]},
    "journeys": [
        {"name": "checkout", "match": {"path_regex": r"^/(checkout|cart)(/[^/]+)*/?$"},
         "slos": [{"name": "availability", "kind": "availability", "objective": 0.999},
                  {"name": "latency", "kind": "latency", "objective": 0.99, "threshold_ms": 300}]},
        {"name": "all", "slos": [{"name": "availability", "kind": "availability", "objective": 0.99}]},
    ],
    "exclusions": [{"reason": "health", "match": {"paths": ["/health"]}},
                   {"reason": "probe", "user_agent_regex": r"(a|aa)+$"}],
    "filters": {"bot_ua": {"patterns": EVIL_PATTERNS, "allow": [r"(b+)+c"]}},
}

# User agents built to make a backtracking engine run for hours on the patterns above and the crawler list.
EVIL_UAS = ["a" * 65_536 + "!", "x" * 65_536, "Mozilla/5.0 " + "a" * 60_000 + "\x00", ("ab" * 32_768),
            "Mozilla/5.0 (" * 5_000 + "bot", "Googlebot" + " " * 65_000 + "/", "\\" * 65_536 + "b" * 100 + "c",
            "é" * 30_000 + "bot", "(" * 65_536, "1" * 65_535 + "!"]


def test_backreferences_and_look_around_are_rejected_at_config_load() -> None:
    from streams.config import ConfigError, config_from_dict

    for where, doc in (
        ("filters.bot_ua.patterns", {"filters": {"bot_ua": {"patterns": [r"(a+)\1"]}}}),
        ("filters.bot_ua.allow", {"filters": {"bot_ua": {"allow": [r"foo(?=bar)"]}}}),
        ("exclusions[0].user_agent_regex", {"exclusions": [{"reason": "x", "user_agent_regex": r"(?<!a)b"}]}),
        ("journeys[0].match.path_regex", {"journeys": [{"name": "j", "match": {"path_regex": r"(\w)\1"},
                                                         "slos": [{"name": "a", "kind": "availability",
                                                                   "objective": 0.9}]}]}),
    ):
        with pytest.raises(ConfigError) as err:
            config_from_dict(doc)
        assert f"{where}: not a valid RE2 pattern" in str(err.value), str(err.value)
        assert "RE2 has no backreferences or look-around" in str(err.value)


def test_backtracking_prone_patterns_are_compiled_with_re2() -> None:
    import re2

    from streams.config import config_from_dict

    pipeline = Pipeline(config_from_dict(HOSTILE_CONFIG))
    bot = next(f.__self__ for _, f in pipeline.filters._stateless if type(f.__self__) is bot_ua.BotUaCheck)
    c = bot.classifier
    assert len(c._user) == len(EVIL_PATTERNS)
    tables = [c._payload, c._typo, c._tools, c._human, c._user, c._classes, c._class_hints, c._hints]
    tables += [lst._table for lst in c._lists]
    # Each table is searched as one RE2 set; an entry's own regex (compiled on its first hit) is RE2 too.
    assert all(type(t._set) is re2.Set for t in tables if len(t)), {type(t._set) for t in tables}
    compiled = [t.entry_regex(k) for t in tables for k in range(len(t))]
    compiled += [lst._exclude for lst in c._lists if lst._exclude is not None] + [c._browser]
    compiled += [ex.ua_regex for ex in pipeline.router._exclusions if ex.ua_regex is not None]
    assert all(type(rx) is re2._Regexp for rx in compiled), {type(rx) for rx in compiled}


class _Spy:
    """Wraps a compiled pattern and remembers the longest text it was asked to search."""

    longest = 0

    def __init__(self, rx: Any) -> None:
        self._rx = rx

    def search(self, text: str) -> Any:
        cls = type(self)
        cls.longest = max(cls.longest, len(text))
        return self._rx.search(text)

    def sub(self, repl: str, text: str) -> Any:
        cls = type(self)
        cls.longest = max(cls.longest, len(text))
        return self._rx.sub(repl, text)


def test_no_regex_ever_sees_more_than_the_user_agent_cap(monkeypatch) -> None:
    """Time per record is bounded structurally: user agents are cut to max_user_agent_chars and paths to
    max_path_chars before any pattern runs (and every pattern is RE2, linear in that), so a 64 KB user
    agent costs what 512 characters cost and a 60 KB path what 2 KB cost."""
    import streams.core.journeys as journeys
    from streams.config import config_from_dict
    from streams.core.regex import compile_re2

    spy_ua = type("SpyUa", (_Spy,), {"longest": 0})
    spy_path = type("SpyPath", (_Spy,), {"longest": 0})
    monkeypatch.setattr(traffic, "compile_re2", lambda p, **kw: spy_ua(compile_re2(p, **kw)))
    monkeypatch.setattr(journeys, "compile_re2", lambda p, **kw: spy_path(compile_re2(p, **kw)))
    # The batch core runs path patterns with Arrow's RE2 kernel over the batch's distinct routes
    # (core/route_columns.py): record the longest path any route rule is evaluated on.
    import pyarrow.compute as pc
    import streams.core.route_columns as route_columns
    real_mask = route_columns.route_mask

    def mask_spy(match, regex, methods, hosts, paths):
        if len(paths):
            spy_path.longest = max(spy_path.longest, pc.max(pc.utf8_length(paths)).as_py())
        return real_mask(match, regex, methods, hosts, paths)

    monkeypatch.setattr(route_columns, "route_mask", mask_spy)
    cfg = config_from_dict(HOSTILE_CONFIG)
    pipeline = Pipeline(cfg)
    # The exclusion's UA regex goes through journeys.compile_re2 as well: count its inputs as UAs.
    for ex in pipeline.router._exclusions:
        if ex.ua_regex is not None:
            object.__setattr__(ex, "ua_regex", spy_ua(ex.ua_regex._rx))
    batch = [valid_line(user_agent=ua, path=path)
             for ua in EVIL_UAS for path in ("/checkout/" + "a/" * 30_000 + "!", "/x")]
    batch += [f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "{ua}"'.encode()
              for ua in EVIL_UAS[:4]]
    out = pipeline.process(batch, now_ms=NOW)
    check_outputs(out, batch)
    assert out.tally.dead_lettered == {}
    assert spy_ua.longest == cfg.input.max_user_agent_chars == 512
    assert spy_path.longest == cfg.input.max_path_chars == 2048
    # The per-record router (user reports, the oracle) never caches a 2 KB key; the batch core keeps none.
    assert all(len(path) <= 256 for _, _, path in pipeline.router._route_cache)
    # Every evil UA hit a pattern (bot_ua) or the probe exclusion after truncation: none were let through
    # as real users by accident, and the tally says exactly where each went.
    assert out.tally.consumed == len(batch) == out.tally.accounted()


# What each evil UA becomes once cut to 512 characters: the decision is made on the cut text, in RE2.
GENERIC = ("crawlerdetect:[a-z0-9\\-_]*(bot|crawl|headless|archiver|transcoder|spider|uptime|validator|fetcher|"
           "cron|checker|reader|extractor|monitoring|analyzer|scraper)")
NO_BROWSER = ("filtered", "automation", "truesli:no-browser-token")  # names no browser, platform or engine
VERDICTS = [
    ("excluded", "probe", "exclusions[1]"),                 # 512 × "a" ends in a: (a|aa)+$
    ("filtered", "crawler", "truesli:bot-shapes"),          # 512 × "x": no "y" left for (x+x+)+y; one bare word
    ("excluded", "probe", "exclusions[1]"),                 # the NUL that would end it was cut off
    ("filtered", "crawler", "pattern:(.*a){12}"),
    ("filtered", "crawler", "pattern:(.*a){12}"),           # "Mozilla/5.0 (" repeated has a's to spare
    ("filtered", "crawler", GENERIC),                       # "Googlebot/" was cut, CrawlerDetect's "…bot" not
    NO_BROWSER,
    NO_BROWSER,                                             # "bot" after 30,000 é was cut off
    NO_BROWSER,
    NO_BROWSER,                                             # (\w|\d)+! needs the "!" that was cut off
]


def test_evil_user_agents_against_the_real_crawler_list_and_user_patterns() -> None:
    from streams.config import config_from_dict

    pipeline = Pipeline(config_from_dict(HOSTILE_CONFIG), collect_verdicts=True)
    batch = [valid_line(user_agent=ua) for ua in EVIL_UAS]
    out = pipeline.process(batch, now_ms=NOW)
    check_outputs(out, batch)
    assert [(v.verdict, v.reason, v.rule) for v in out.verdicts] == VERDICTS


MULTI_MB = [2 << 20, 8 << 20, 32 << 20]


@pytest.mark.parametrize("size", MULTI_MB)
def test_multi_megabyte_lines_are_dead_lettered_as_oversized_without_parsing(size: int) -> None:
    big_ua = valid_line(user_agent="A" * size)
    not_json = b"{" + b"[" * size
    clf = ('1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /' + "a" * size + ' HTTP/1.1" 200 0').encode()
    batch = [big_ua, not_json, clf, valid_line()]
    out = Pipeline(Config()).process(batch, now_ms=NOW)
    check_outputs(out, batch)
    assert out.tally.to_dict() == {"consumed": 4, "counted": 1, "filtered": {}, "excluded": {}, "unmatched": 0,
                                   "dead_lettered": 3, "dead_letter_reasons": {"oversized": 3}, "late": 0}
    assert [(d.offset, d.error) for d in out.dead_letters] == [
        (i + 1, f"record is {len(item)} bytes; the cap is 65536") for i, item in enumerate(batch[:3])]
    assert all(len(d.raw) == RAW_LIMIT for d in out.dead_letters)


def test_multi_megabyte_line_in_a_file_is_dead_lettered_by_truesli_process(tmp_path) -> None:
    import subprocess
    import sys


    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.write(valid_line() + b"\n")
        f.write(valid_line(user_agent="B" * (8 << 20)) + b"\n")
        f.write(b'{"ts":' + b"[" * (3 << 20) + b"\n")
        f.write(valid_line(T0 + 1_000, status=503) + b"\n")
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", str(path), "--counters",
                        str(tmp_path / "c.jsonl"), "--dead-letters", str(tmp_path / "d.jsonl")],
                       cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    dead = [orjson.loads(line) for line in (tmp_path / "d.jsonl").read_bytes().splitlines()]
    assert [(d["reason"], d["source"]["line"]) for d in dead] == [("oversized", 2), ("oversized", 3)]
    assert all(len(d["raw"]) == RAW_LIMIT for d in dead)
    counters = [orjson.loads(line) for line in (tmp_path / "c.jsonl").read_bytes().splitlines()]
    assert [(c["good"], c["total"]) for c in counters] == [(1, 2)]


# Whole pipeline under the hostile config: every record accounted for, every rejection dead-lettered with
# a documented reason, whatever the bytes.
DUPLICATE_KEYS = st.builds(
    lambda ts, status, path: (valid_line()[:-1] + b',"ts":' + orjson.dumps(ts) + b',"status":'
                              + orjson.dumps(status) + b',"path":' + orjson.dumps(path) + b"}"),
    PLAUSIBLE["ts"], PLAUSIBLE["status"], PLAUSIBLE["path"])
CONTROL_CHARS = st.builds(
    lambda field, chars, raw: (valid_line(**{field: "PLACEHOLDER"}).replace(
        b"PLACEHOLDER", chars.encode("utf-8", "surrogatepass") if raw else orjson.dumps(chars)[1:-1])),
    st.sampled_from(["path", "user_agent", "method", "client_ip", "host", "forwarded_for"]),
    st.text(alphabet=st.characters(max_codepoint=0x9F, categories=["Cc"]) | st.sampled_from("\u2028\u2029\ufeff"),
            min_size=1, max_size=8),
    st.booleans())
NUMBERS = st.builds(
    lambda field, number: valid_line()[:-1] + f',"{field}":{number}}}'.encode(),
    st.sampled_from(["ts", "status", "duration_ms"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "9" * 400, "-0", "0e0",
                     "1.7976931348623157e308", "4.9e-324", "18446744073709551616", "-9223372036854775809"]))
HOSTILE_UA_LINES = st.builds(lambda ua, ip, fwd: valid_line(user_agent=ua, client_ip=ip, forwarded_for=fwd),
                             st.sampled_from(EVIL_UAS) | st.text(min_size=500, max_size=700),
                             st.sampled_from(["10.0.0.1", "198.51.100.20"]),
                             st.sampled_from(["1.2.3.4, 10.0.0.2", "x" * 2000, ", " * 500, "10.0.0.3, " * 200,
                                              "2001:db8::1, 10.9.9.9", ""]))
HOSTILE_ITEMS = st.one_of(ITEMS, DUPLICATE_KEYS, CONTROL_CHARS, NUMBERS, HOSTILE_UA_LINES)


@pytest.fixture(scope="module")
def hostile_config():
    from streams.config import config_from_dict

    return config_from_dict(HOSTILE_CONFIG)


@PIPELINE_PROPERTY
@given(batches=st.lists(st.lists(HOSTILE_ITEMS, max_size=20), min_size=1, max_size=3))
def test_whole_pipeline_under_a_hostile_config_conserves_and_dead_letters_with_reasons(
        hostile_config, batches: list[list]) -> None:
    pipeline = Pipeline(hostile_config)
    consumed = 0
    for batch in batches:
        out = pipeline.process(batch, now_ms=NOW)
        check_outputs(out, batch)
        consumed += len(batch)
    pipeline.flush()
    pipeline.tally.check_conservation()
    assert pipeline.tally.consumed == consumed


def test_long_paths_are_cut_to_max_path_chars_before_matching() -> None:
    path = "/products/" + "p" * 10_000
    clf = f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET {path}?q=1 HTTP/1.1" 200 0'
    decoder = Decoder(InputConfig(max_line_bytes=100_000, max_path_chars=64))
    assert decoder.decode(valid_line(path=path + "?q=1")).path == path[:64]
    assert decoder.decode(clf).path == path[:64]
    assert decoder.decode(valid_line(path="https://shop.example.com" + path)).path == path[:64]


def test_nothing_in_truesli_evaluates_or_unpickles_anything() -> None:
    """No eval (DESIGN §3.6): no eval/exec/compile of strings, no pickle/marshal, YAML only via safe_load,
    and Python's backtracking ``re`` only in the two modules whose patterns are fixed (never user-supplied)."""

    forbidden = re.compile(r"\b(eval|exec)\(|\bimport (pickle|marshal|shelve)\b|yaml\.(load|unsafe_load|full_load)\(|"
                           r"(?<![\w.])compile\(|\bre\.(compile|search|match|fullmatch|findall|sub)\(")
    hits = {}
    for path in sorted((ROOT / "streams").rglob("*.py")):
        for line in path.read_text().splitlines():
            if forbidden.search(line):
                hits[str(path.relative_to(ROOT))] = hits.get(str(path.relative_to(ROOT)), 0) + 1
    # config/sli.py parses status specs of the (trusted) config; config/secrets.py spots secret-looking header
    # and query names in the (trusted) config; remote_write/encode.py checks truesli's own metric and label
    # names; core/formats/* hold the fixed layouts of the access-log formats (possessive quantifiers or
    # anchored fields, no nested repetition: linear; measured on 60 KB adversarial lines by
    # bench/formats.py --hostile); kafka/security.py reads Kafka clients' own error and debug messages (broker address, SASL
    # payload to redact) — never request logs. Nothing else. (Counted per file, not by line number: unrelated
    # edits must not break this.)
    assert hits == {"streams/config/sli.py": 3, "streams/config/secrets.py": 2, "streams/core/formats/aws.py": 2,
                    "streams/core/formats/clf.py": 8, "streams/core/formats/envelope.py": 2,
                    "streams/core/formats/envoy.py": 2, "streams/core/formats/haproxy.py": 2,
                    "streams/core/formats/units.py": 2, "streams/kafka/security.py": 2,
                    "streams/sinks/remote_write/encode.py": 2}, hits


def test_lone_surrogates_in_text_records_and_rows_are_invalid_utf8_not_a_crash() -> None:
    """Found by the atheris fuzzer (tests/fuzz/fuzz_core.py): a text record or a parsed row with a lone
    surrogate in its user agent reached RE2, which cannot encode it, and the exception escaped the
    pipeline. Bytes never could: orjson and the UTF-8 decoder reject lone surrogates."""
    from streams.config import config_from_dict

    clf = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 200 0 "-" "Mozilla\udc80"'
    row = {"ts": T0, "client_ip": "1.2.3.4", "method": "GET", "path": "/a", "status": 200,
           "user_agent": "aaa\ud800"}
    row_path = {**row, "user_agent": "Mozilla/5.0", "path": "/\udfff"}
    ok_row = {**row, "user_agent": "Mozilla/5.0 é"}
    pipeline = Pipeline(config_from_dict(HOSTILE_CONFIG))
    out = pipeline.process([clf, row, row_path, ok_row], now_ms=NOW)
    check_outputs(out, [clf, row, row_path, ok_row])
    assert [(d.reason, d.offset) for d in out.dead_letters] == [("invalid_utf8", 1), ("invalid_utf8", 2),
                                                                  ("invalid_utf8", 3)]
    assert out.tally.counted == 1


def _process_peak_rss_mb(path, tmp_path) -> tuple[int, list[dict]]:
    import subprocess
    import sys


    dead = tmp_path / f"{path.name}.dead.jsonl"
    code = ("import resource, runpy, sys\n"
            f"sys.argv = ['truesli', 'process', {str(path)!r}, '--dead-letters', {str(dead)!r}]\n"
            "try:\n    runpy.run_module('streams.cli', run_name='__main__')\n"
            "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return int(r.stderr.decode().split()[-1]), [orjson.loads(x) for x in dead.read_bytes().splitlines()]


def test_a_64_mb_line_without_newline_is_read_in_bounded_memory(tmp_path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_bytes(valid_line() + b"\n" + b"x" * 70_000 + b"\n")
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as f:
        f.write(valid_line() + b"\n")
        for _ in range(64):
            f.write(b"y" * (1 << 20))          # 64 MB, no newline: the file ends inside the line
    base_mb, base_dead = _process_peak_rss_mb(small, tmp_path)
    huge_mb, huge_dead = _process_peak_rss_mb(huge, tmp_path)
    assert [(d["reason"], d["source"]["line"], d["error"]) for d in base_dead] == [
        ("oversized", 2, "record is 70000 bytes; the cap is 65536")]
    assert [(d["reason"], d["source"]["line"], d["error"]) for d in huge_dead] == [
        ("oversized", 2, f"record is {64 << 20} bytes; the cap is 65536")]
    assert huge_dead[0]["raw"] == "y" * RAW_LIMIT
    # The reader holds at most the cap of an over-long line, never the line.
    assert huge_mb - base_mb < 16, (base_mb, huge_mb)
