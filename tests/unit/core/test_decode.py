"""streams.core.decode: one raw record → a Request, or a DecodeFailure with a stable reason."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import pytest

from streams.config import InputConfig
from streams.core.decode import DecodeFailure, Decoder
from streams.core.model import Request

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MISSING = object()
UNPARSEABLE = DecodeFailure(
    "unparseable_line", "not JSON and not a known access-log format (combined, haproxy, aws_alb, aws_elb, "
    "envoy; also inside docker_json, cri or syslog envelopes)")
VALID: dict[str, Any] = {"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/",
                         "status": 200}
VALID_REQUEST = Request(T0, "1.2.3.4", "GET", "", "/", 200, None, "")


def decode(item: bytes | str | dict, **cfg: Any) -> Request | DecodeFailure:
    return Decoder(InputConfig(**cfg)).decode(item)


def record(**over: Any) -> bytes:
    """VALID with some fields replaced (or removed with MISSING), as a JSON line."""
    rec = dict(VALID)
    for key, value in over.items():
        if value is MISSING:
            rec.pop(key, None)
        else:
            rec[key] = value
    return orjson.dumps(rec)


def req(**over: Any) -> Request:
    """VALID_REQUEST with some fields replaced."""
    fields = {name: getattr(VALID_REQUEST, name) for name in Request.__dataclass_fields__}
    fields.update(over)
    return Request(**fields)


def test_minimal_record() -> None:
    assert decode(record()) == VALID_REQUEST


# -- truesli preset ------------------------------------------------------------------------------------

def test_truesli_preset_every_field() -> None:
    line = orjson.dumps({
        "ts": "2026-01-01T00:00:01.250Z", "client_ip": "203.0.113.9", "method": "post",
        "host": "API.Example.COM:8443", "path": "/v1/orders?id=7&x=y", "status": "201",
        "duration_ms": "87.5", "user_agent": "Mozilla/5.0 (X11)", "bytes": 512, "route": "/v1/orders",
        "service": "orders", "request_id": "req-1", "rate_limited": True, "synthetic": "false",
        "bot_score": 0.1, "asn": 64500, "country": "DE", "forwarded_for": "198.51.100.1, 10.0.0.1",
    })
    assert decode(line) == Request(
        T0 + 1250, "203.0.113.9", "POST", "api.example.com", "/v1/orders", 201, 87.5, "Mozilla/5.0 (X11)",
        rate_limited=True, synthetic=False, forwarded_for="198.51.100.1, 10.0.0.1")


@pytest.mark.parametrize("field", ["bytes", "route", "service", "request_id", "bot_score", "asn", "country"])
@pytest.mark.parametrize("value", ["x" * 300, 7, [1], {"a": 1}, True])
def test_fields_not_carried_by_request_never_fail_a_record(field: str, value: Any) -> None:
    # Request carries no bytes/route/service/request_id/bot_score/asn/country: whatever they hold is ignored.
    assert decode(record(**{field: value})) == VALID_REQUEST


@pytest.mark.parametrize("host, expected", [
    ("Example.COM", "example.com"),
    ("example.com:8080", "example.com"),
    ("EXAMPLE.com:443", "example.com"),
    ("example.com:", "example.com:"),      # not a port: kept
    ("example.com:http", "example.com:http"),
    ("", ""),
    ("-", ""),
    (None, ""),
])
def test_host_lowercased_and_port_stripped(host: Any, expected: str) -> None:
    assert decode(record(host=host)) == req(host=expected)


@pytest.mark.parametrize("path, expected_path", [
    ("/search?q=1&page=2", "/search"),
    ("/a/b?", "/a/b"),
    ("?x=1", "/"),
    ("/plain", "/plain"),
    ("/with#fragment", "/with#fragment"),
    ("/a?b#c", "/a"),
    ("/a#b?c", "/a"),                        # a fragment before the "?" goes too
    ("*", "*"),                              # OPTIONS * keeps its asterisk-form target
])
def test_query_string_stripped_from_path(path: str, expected_path: str) -> None:
    assert decode(record(path=path)) == req(path=expected_path)


@pytest.mark.parametrize("path, host, expected_path, expected_host", [
    ("https://Shop.Example.com:443/x/y?z=1", MISSING, "/x/y", "shop.example.com"),
    ("http://example.com", MISSING, "/", "example.com"),
    ("http://example.com?x=1", MISSING, "/", "example.com"),
    ("https://shop.example.com/cart", "api.example.com", "/cart", "api.example.com"),  # host field wins
])
def test_absolute_url_path_gives_host(path: str, host: Any, expected_path: str, expected_host: str) -> None:
    assert decode(record(path=path, host=host)) == req(path=expected_path, host=expected_host)


@pytest.mark.parametrize("status, expected", [("200", 200), ("503", 503), ("0", 0), ("999", 999), (0, 0),
                                              (999, 999), (404, 404)])
def test_status_as_int_or_digit_string(status: Any, expected: int) -> None:
    assert decode(record(status=status)) == req(status=expected)


@pytest.mark.parametrize("duration, expected", [
    ("12.5", 12.5), ("0", 0.0), (0, 0.0), (87, 87.0), (1.25, 1.25), ("1e3", 1000.0),
    ("-", None), ("", None), (None, None), (MISSING, None),
])
def test_duration_as_number_or_string(duration: Any, expected: float | None) -> None:
    out = decode(record(duration_ms=duration))
    assert out == req(duration_ms=expected)
    assert expected is None or type(out.duration_ms) is float


@pytest.mark.parametrize("ip, expected", [
    ("1.2.3.4", "1.2.3.4"),
    (" 1.2.3.4 ", "1.2.3.4"),
    ("1.2.3.4:5678", "1.2.3.4"),
    ("2001:DB8::1", "2001:db8::1"),
    ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("[::1]", "::1"),
])
def test_client_ip_canonical_form(ip: str, expected: str) -> None:
    assert decode(record(client_ip=ip)) == req(client_ip=expected)


@pytest.mark.parametrize("value, expected", [
    (True, True), ("true", True), ("True", True), ("1", True), (1, True), ("yes", True),
    (False, False), ("false", False), ("False", False), ("0", False), (0, False), ("no", False),
    ("", False), ("-", False), (None, False), (MISSING, False),
])
def test_boolean_flags(value: Any, expected: bool) -> None:
    assert decode(record(rate_limited=value)) == req(rate_limited=expected)
    assert decode(record(synthetic=value)) == req(synthetic=expected)


def test_forwarded_for_is_truncated() -> None:
    assert decode(record(forwarded_for="f" * 2000)) == req(forwarded_for="f" * 1024)
    assert decode(record(forwarded_for="f" * 1024)) == req(forwarded_for="f" * 1024)


def test_forwarded_for_dash_is_absent() -> None:
    assert decode(record(forwarded_for="-")) == VALID_REQUEST


def test_method_is_uppercased_and_16_chars_allowed() -> None:
    assert decode(record(method="propfind")) == req(method="PROPFIND")
    assert decode(record(method="M" * 16)) == req(method="M" * 16)


# -- user agent cap ------------------------------------------------------------------------------------

def test_user_agent_truncated_to_default_cap() -> None:
    assert decode(record(user_agent="a" * 600)) == req(user_agent="a" * 512)
    assert decode(record(user_agent="b" * 512)) == req(user_agent="b" * 512)


def test_user_agent_truncated_to_configured_cap() -> None:
    out = decode(record(user_agent="Mozilla/5.0 (X11; Linux x86_64)"), max_user_agent_chars=16)
    assert out == req(user_agent="Mozilla/5.0 (X11")
    assert len(out.user_agent) == 16


@pytest.mark.parametrize("ua", ["-", None, MISSING])
def test_absent_user_agent_is_empty_string(ua: Any) -> None:
    assert decode(record(user_agent=ua)) == req(user_agent="")


# -- nginx / envoy / alb presets -----------------------------------------------------------------------

def test_nginx_escape_json_preset() -> None:
    # log_format escape=json writes every variable as a JSON string.
    line = orjson.dumps({
        "time_iso8601": "2026-01-01T00:00:00+00:00", "remote_addr": "203.0.113.7", "request_method": "GET",
        "host": "Shop.Example.com", "request_uri": "/cart?id=1", "status": "200", "request_time": "0.125",
        "http_user_agent": "Mozilla/5.0", "body_bytes_sent": "512", "http_x_forwarded_for": "-",
        "request_id": "7f3a",
    })
    assert decode(line, preset="nginx") == Request(
        T0, "203.0.113.7", "GET", "shop.example.com", "/cart", 200, 125.0, "Mozilla/5.0")


def test_nginx_request_time_seconds_to_ms() -> None:
    line = orjson.dumps({"time_iso8601": "2026-01-01T01:00:00+01:00", "remote_addr": "10.0.0.1",
                         "request_method": "POST", "request_uri": "/api", "status": "502",
                         "request_time": "1.500", "http_x_forwarded_for": "198.51.100.7"})
    assert decode(line, preset="nginx") == Request(T0, "10.0.0.1", "POST", "", "/api", 502, 1500.0, "",
                                                   forwarded_for="198.51.100.7")


def test_nginx_preset_ignores_truesli_names() -> None:
    assert decode(record(), preset="nginx") == DecodeFailure("missing_field:ts", "no timestamp")


def test_envoy_preset() -> None:
    line = orjson.dumps({
        "start_time": "2026-01-01T00:00:00.123Z", "downstream_remote_address": "1.2.3.4:5678",
        "method": "POST", "authority": "API.example.com:443", "path": "/v1/pay?x=1", "response_code": 503,
        "duration": 17, "user_agent": "curl/8.5.0", "bytes_sent": 0, "x_forwarded_for": "10.0.0.1",
        "request_id": "r-1",
    })
    assert decode(line, preset="envoy") == Request(
        T0 + 123, "1.2.3.4", "POST", "api.example.com", "/v1/pay", 503, 17.0, "curl/8.5.0",
        forwarded_for="10.0.0.1")


def test_envoy_ipv6_remote_address_with_port() -> None:
    line = orjson.dumps({"start_time": "2026-01-01T00:00:00Z", "downstream_remote_address": "[2001:db8::1]:443",
                         "method": "GET", "path": "/", "response_code": 200, "duration": 3})
    assert decode(line, preset="envoy") == Request(T0, "2001:db8::1", "GET", "", "/", 200, 3.0, "")


def test_alb_preset() -> None:
    line = orjson.dumps({
        "time": "2026-01-01T00:00:00.000000Z", "client": "1.2.3.4:5678", "request_verb": "GET",
        "domain_name": "-", "request_url": "https://Shop.Example.com:443/p?q=1", "elb_status_code": "200",
        "target_processing_time": "0.005", "user_agent": "Mozilla/5.0", "sent_bytes": "1024",
        "trace_id": "Root=1-67890abc-def",
    })
    assert decode(line, preset="alb") == Request(
        T0, "1.2.3.4", "GET", "shop.example.com", "/p", 200, 5.0, "Mozilla/5.0")


def test_alb_minus_one_processing_time_means_no_duration() -> None:
    # ALB writes target_processing_time = -1 when it could not dispatch to a target or the target timed
    # out; those are exactly the ELB-generated 502/503/504s an availability SLO must count.
    line = orjson.dumps({
        "time": "2026-01-01T00:00:00.000000Z", "client": "1.2.3.4:5678", "request_verb": "GET",
        "domain_name": "shop.example.com", "request_url": "https://shop.example.com:443/p",
        "elb_status_code": "504", "target_processing_time": "-1", "user_agent": "Mozilla/5.0",
    })
    assert decode(line, preset="alb") == Request(T0, "1.2.3.4", "GET", "shop.example.com", "/p", 504, None,
                                                 "Mozilla/5.0")


# -- fields overrides and duration_unit ----------------------------------------------------------------

ECS_FIELDS = {"ts": "@timestamp", "client_ip": "client.ip", "method": "http.request.method",
              "path": "url.path", "status": "http.response.status_code", "duration_ms": "event.duration_ms",
              "user_agent": "user_agent.original", "host": "url.domain"}


def test_fields_override_with_dotted_nested_keys() -> None:
    line = orjson.dumps({
        "@timestamp": "2026-01-01T00:00:00Z", "client": {"ip": "1.2.3.4"},
        "http": {"request": {"method": "get"}, "response": {"status_code": 404}},
        "url": {"path": "/x?y", "domain": "Example.com"}, "event": {"duration_ms": 2.5},
        "user_agent": {"original": "Mozilla/5.0"},
    })
    assert decode(line, fields=ECS_FIELDS) == Request(T0, "1.2.3.4", "GET", "example.com", "/x", 404, 2.5,
                                                      "Mozilla/5.0")


def test_fields_override_missing_nested_key_is_missing_field() -> None:
    line = orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "client": {"ip": "1.2.3.4"},
                         "http": {"request": "GET"}, "url": {"path": "/"}})
    assert decode(line, fields=ECS_FIELDS) == DecodeFailure("missing_field:method", "no HTTP method")


def test_fields_override_plain_key_on_top_of_preset() -> None:
    line = orjson.dumps({"time_iso8601": "2026-01-01T00:00:00+00:00", "remote_addr": "10.0.0.1",
                         "request_method": "GET", "request_uri": "/", "status": "200",
                         "request_time": "0.5", "upstream_time_ms": "40"})
    out = decode(line, preset="nginx", fields={"duration_ms": "upstream_time_ms"})
    # the override changes the key, not the preset's unit (nginx = seconds)
    assert out == Request(T0, "10.0.0.1", "GET", "", "/", 200, 40_000.0, "")


@pytest.mark.parametrize("unit, raw, expected", [("ms", "12", 12.0), ("s", "0.25", 250.0),
                                                 ("us", "1500", 1.5)])
def test_duration_unit_override(unit: str, raw: str, expected: float) -> None:
    line = orjson.dumps({"time_iso8601": "2026-01-01T00:00:00+00:00", "remote_addr": "10.0.0.1",
                         "request_method": "GET", "request_uri": "/", "status": "200", "request_time": raw})
    assert decode(line, preset="nginx", duration_unit=unit) == Request(T0, "10.0.0.1", "GET", "", "/", 200,
                                                                       expected, "")


def test_duration_unit_seconds_on_truesli_preset() -> None:
    assert decode(record(duration_ms=0.25), duration_unit="s") == req(duration_ms=250.0)


# -- Common / Combined Log Format ----------------------------------------------------------------------

COMBINED = ('203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET /index.html?x=1 HTTP/1.1" 200 1234 '
            '"https://ref.example/" "Mozilla/5.0 (X11; Linux x86_64)"')


def test_combined_line() -> None:
    assert decode(COMBINED) == Request(T0, "203.0.113.9", "GET", "", "/index.html", 200, None,
                                       "Mozilla/5.0 (X11; Linux x86_64)")


def test_combined_line_as_bytes_with_crlf() -> None:
    assert decode(COMBINED.encode() + b"\r\n") == decode(COMBINED)


def test_common_line_without_referer_and_ua() -> None:
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
    ts = int(datetime(2000, 10, 10, 20, 55, 36, tzinfo=timezone.utc).timestamp()) * 1000
    assert decode(line) == Request(ts, "127.0.0.1", "GET", "", "/apache_pb.gif", 200, None, "")


def test_common_line_with_trailing_request_time() -> None:
    line = '10.1.1.1 - - [01/Jan/2026:00:00:00 +0000] "POST /api/login HTTP/1.1" 401 - 0.125'
    assert decode(line) == Request(T0, "10.1.1.1", "POST", "", "/api/login", 401, 125.0, "")


def test_combined_line_with_trailing_request_time() -> None:
    assert decode(COMBINED + " 0.250") == Request(T0, "203.0.113.9", "GET", "", "/index.html", 200, 250.0,
                                                  "Mozilla/5.0 (X11; Linux x86_64)")


def test_combined_trailing_non_number_is_ignored() -> None:
    assert decode(COMBINED + ' x 0.5') == decode(COMBINED)


def test_combined_trailing_quoted_address_list_is_forwarded_for() -> None:
    # nginx's default `main` layout ends with "$http_x_forwarded_for": read for the trusted-proxy rules.
    assert decode(COMBINED + ' "198.51.100.1, 10.0.0.1"') == req(
        ts_ms=T0, client_ip="203.0.113.9", path="/index.html", user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        forwarded_for="198.51.100.1, 10.0.0.1")
    assert decode(COMBINED + ' "-"') == decode(COMBINED + ' "not an address"') == decode(COMBINED)


def test_combined_escaped_quotes_in_user_agent() -> None:
    line = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla \\"quoted\\" agent"'
    assert decode(line) == Request(T0, "1.2.3.4", "GET", "", "/", 200, None, 'Mozilla "quoted" agent')


def test_combined_ipv6_client_offset_and_absolute_url() -> None:
    line = ('2001:DB8::1 - - [01/Jan/2026:00:00:00 -0530] "post http://H.example.com:8080/p?q HTTP/1.1" 201 - '
            '"-" "-"')
    assert decode(line) == Request(T0 + 19_800_000, "2001:db8::1", "POST", "h.example.com", "/p", 201, None, "")


def test_combined_request_line_without_protocol() -> None:
    line = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /old" 200 0'
    assert decode(line) == Request(T0, "1.2.3.4", "GET", "", "/old", 200, None, "")


def test_combined_user_agent_truncated() -> None:
    line = f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "{"u" * 40}"'
    assert decode(line, max_user_agent_chars=16) == Request(T0, "1.2.3.4", "GET", "", "/", 200, None, "u" * 16)


@pytest.mark.parametrize("request_line", ["\x16\x03\x01", "\\x16\\x03\\x01\\x00", "GET", "GET / HTTP/1.1 x",
                                          "G3T / HTTP/1.1"])
def test_combined_junk_request_line(request_line: str) -> None:
    line = f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "{request_line}" 400 0 "-" "-"'
    assert decode(line) == DecodeFailure("unparseable_line",
                                         "combined: request line is not 'METHOD target [protocol]'")


@pytest.mark.parametrize("request_line", ["-", ""])
def test_combined_empty_request_line_is_a_request_without_method_and_path(request_line: str) -> None:
    # nginx writes "" and Apache "-" when the client sent no request line before the server answered.
    line = f'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "{request_line}" 400 0 "-" "-"'
    assert decode(line) == Request(T0, "1.2.3.4", "-", "", "-", 400, None, "")


def test_combined_bad_client_ip() -> None:
    line = 'not-an-ip - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0'
    assert decode(line) == DecodeFailure("bad_type:client_ip", "combined: not an IP address")


@pytest.mark.parametrize("when", ["01/Jan/1999:00:00:00 +0000", "01/Foo/2026:00:00:00 +0000", "yesterday"])
def test_combined_bad_time(when: str) -> None:
    line = f'1.2.3.4 - - [{when}] "GET / HTTP/1.1" 200 0'
    assert decode(line).reason == "bad_timestamp"


def test_combined_format_rejects_json() -> None:
    assert decode(record(), format="combined") == DecodeFailure(
        "unparseable_line", "not Common/Combined Log Format")


# -- input kinds ---------------------------------------------------------------------------------------

def test_bytes_str_dict_give_the_same_request() -> None:
    as_dict = {"ts": T0, "client_ip": "1.2.3.4", "method": "GET", "path": "/a?b", "status": 200,
               "duration_ms": 5, "user_agent": "ua"}
    line = orjson.dumps(as_dict)
    expected = Request(T0, "1.2.3.4", "GET", "", "/a", 200, 5.0, "ua")
    assert decode(line) == expected
    assert decode(line.decode()) == expected
    assert decode(bytearray(line)) == expected
    assert decode(memoryview(line)) == expected
    assert decode(as_dict) == expected
    assert decode(b"  \t" + line) == expected
    assert decode("  " + line.decode()) == expected


# -- dead-letter reasons -------------------------------------------------------------------------------

def test_oversized() -> None:
    assert decode(b"x" * 257, max_line_bytes=256) == DecodeFailure("oversized", "record is 257 bytes; the cap is 256")
    assert decode("x" * 257, max_line_bytes=256) == DecodeFailure("oversized", "record is 257 bytes; the cap is 256")
    padded = record(user_agent="a" * 65_536)
    assert decode(padded) == DecodeFailure("oversized", f"record is {len(padded)} bytes; the cap is 65536")


def test_exactly_at_the_cap_is_not_oversized() -> None:
    line = record(user_agent="")
    line = line[:-1] + b',"pad":"' + b"p" * (256 - len(line) - 9) + b'"}'
    assert len(line) == 256
    assert decode(line, max_line_bytes=256) == VALID_REQUEST


@pytest.mark.parametrize("item", [b"", b"   ", b" \t ", "", "   ", "\t"])
def test_empty(item: bytes | str) -> None:
    assert decode(item) == DecodeFailure("empty", "empty record")


@pytest.mark.parametrize("item", [
    b'{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","method":"GET","path":"/\xff","status":200}',
    b'{"ts":"\xc3\x28"}',
    b'{"a":"\xed\xa0\x80"}',                               # UTF-8-encoded surrogate
    b'{"ts":"2026-01-01T00:00:00Z","user_agent":"\\ud800"}',  # lone surrogate escape
])
def test_invalid_utf8_in_json(item: bytes) -> None:
    assert decode(item).reason == "invalid_utf8"


@pytest.mark.parametrize("item", [
    b"\xff\xfe garbage",
    b'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "\xff"',
])
def test_invalid_utf8_in_non_json(item: bytes) -> None:
    assert decode(item).reason == "invalid_utf8"


@pytest.mark.parametrize("item", [
    b'{"ts":"2026',
    b'{"ts":NaN}',
    b'{"ts":Infinity}',
    b'{"ts":-Infinity}',
    b'{"a":1} x',
    b'{"a":1,}',
    b"{'a':1}",
    b'{"a":1e400}',
    b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    b'{"a":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001,
])
def test_malformed_json(item: bytes) -> None:
    assert decode(item).reason == "malformed_json"


def test_malformed_json_as_str() -> None:
    assert decode('{"a":' + "[" * 10_000 + "]" * 10_000 + "}").reason == "malformed_json"


@pytest.mark.parametrize("item, kind", [(b"[1]", "list"), (b'"x"', "str"), (b"1", "int"), (b"null", "NoneType"),
                                        (b"true", "bool"), ("[1]", "list")])
def test_not_an_object_in_jsonl_format(item: bytes | str, kind: str) -> None:
    assert decode(item, format="jsonl") == DecodeFailure("not_an_object", f"expected a JSON object, got {kind}")


def test_json_array_in_auto_format_is_unparseable_line() -> None:
    assert decode(b"[1]") == UNPARSEABLE


def test_clf_line_in_jsonl_format_is_malformed_json() -> None:
    assert decode(COMBINED, format="jsonl").reason == "malformed_json"


@pytest.mark.parametrize("field, error", [("ts", "no timestamp"), ("client_ip", "no client IP"),
                                          ("method", "no HTTP method"), ("path", "no request path"),
                                          ("status", "no status code")])
@pytest.mark.parametrize("how", ["absent", "null"])
def test_missing_required_field(field: str, error: str, how: str) -> None:
    line = record(**{field: MISSING if how == "absent" else None})
    assert decode(line) == DecodeFailure(f"missing_field:{field}", error)


@pytest.mark.parametrize("field, value", [("ts", ""), ("ts", "-"), ("client_ip", "-"),
                                          ("method", ""), ("path", "")])
def test_empty_required_field_is_missing(field: str, value: str) -> None:
    assert decode(record(**{field: value})).reason == f"missing_field:{field}"


def test_empty_client_ip_is_a_request_without_a_client_address() -> None:
    # what an archive row of such a request holds, and what a JSON log of a UNIX-socket listener writes
    assert decode(record(client_ip="")) == decode(dict(VALID, client_ip="")) == req(client_ip="")


def test_first_problem_in_field_order_wins() -> None:
    assert decode(record(ts=MISSING, client_ip=5, status="x")).reason == "missing_field:ts"
    assert decode(record(client_ip=5, status="x")).reason == "bad_type:client_ip"


@pytest.mark.parametrize("value", [[1767225600], {"s": 1}, True, False])
def test_bad_type_ts(value: Any) -> None:
    assert decode(record(ts=value)) == DecodeFailure(
        "bad_type:ts", f"timestamp of type {type(value).__name__}")


@pytest.mark.parametrize("value", [16_909_060, 1.5, ["1.2.3.4"], True])
def test_bad_type_client_ip_not_a_string(value: Any) -> None:
    assert decode(record(client_ip=value)) == DecodeFailure(
        "bad_type:client_ip", f"client IP of type {type(value).__name__}")


@pytest.mark.parametrize("value", ["999.1.1.1", "1.2.3", "localhost", "1.2.3.4.5", "[::1", "1" * 70])
def test_bad_type_client_ip_not_an_address(value: str) -> None:
    assert decode(record(client_ip=value)) == DecodeFailure("bad_type:client_ip", "not an IP address")


@pytest.mark.parametrize("value", [5, ["GET"], "M" * 17, True])
def test_bad_type_method(value: Any) -> None:
    assert decode(record(method=value)) == DecodeFailure("bad_type:method", "method must be a short string")


@pytest.mark.parametrize("value", [5, ["/"], {"p": "/"}, True])
def test_bad_type_path(value: Any) -> None:
    assert decode(record(path=value)) == DecodeFailure("bad_type:path", f"path of type {type(value).__name__}")


@pytest.mark.parametrize("value", [5, ["a.com"], True])
def test_bad_type_host(value: Any) -> None:
    assert decode(record(host=value)) == DecodeFailure("bad_type:host", f"host of type {type(value).__name__}")


@pytest.mark.parametrize("value", [True, False, "abc", 1000, -1, 200.5, 200.0, "1000", "-1", "2OO", " 200",
                                   "200.0", [200], {}, ""])
def test_bad_type_status(value: Any) -> None:
    assert decode(record(status=value)) == DecodeFailure("bad_type:status", "status must be an integer 0..999")


@pytest.mark.parametrize("value", ["²", "¹²³", "①"])
def test_bad_type_status_non_decimal_digit_characters(value: str) -> None:
    # str.isdigit() is true for superscripts and circled digits but int() rejects them: must not raise.
    assert decode(record(status=value)) == DecodeFailure("bad_type:status", "status must be an integer 0..999")


@pytest.mark.parametrize("value", [-2, -0.5, "-5", "inf", "nan", {"ms": 1}, [1], True])
def test_bad_type_duration_not_finite_nonnegative(value: Any) -> None:
    assert decode(record(duration_ms=value)) == DecodeFailure(
        "bad_type:duration_ms", "duration must be a finite number ≥ 0")


def test_bad_type_duration_not_a_number() -> None:
    assert decode(record(duration_ms="fast")) == DecodeFailure("bad_type:duration_ms", "duration is not a number")


@pytest.mark.parametrize("value", [5, [5], [], True, {"ua": 1}])
def test_bad_type_user_agent(value: Any) -> None:
    assert decode(record(user_agent=value)) == DecodeFailure(
        "bad_type:user_agent", f"user agent of type {type(value).__name__}")


@pytest.mark.parametrize("value", ["maybe", 2, [], {}, 0.5, "TRUE"])
def test_bad_type_rate_limited(value: Any) -> None:
    assert decode(record(rate_limited=value)) == DecodeFailure(
        "bad_type:rate_limited", "rate_limited must be a boolean")


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_bad_type_synthetic(value: Any) -> None:
    assert decode(record(synthetic=value)) == DecodeFailure("bad_type:synthetic", "synthetic must be a boolean")


def test_bad_type_forwarded_for() -> None:
    assert decode(record(forwarded_for=[1, 2])) == DecodeFailure(
        "bad_type:forwarded_for", "forwarded_for must be a string")


def test_headers_logged_as_lists() -> None:
    # Caddy (and others) log each request header as the list of its values.
    assert decode(record(user_agent=["curl/8.5.0", "x"], forwarded_for=["198.51.100.1", "10.0.0.1"])) == req(
        user_agent="curl/8.5.0", forwarded_for="198.51.100.1, 10.0.0.1")


@pytest.mark.parametrize("ts, error", [
    (0, "timestamp outside 2000-01-01 .. 2100-01-01"),
    ("1970-01-01T00:00:00Z", "timestamp outside 2000-01-01 .. 2100-01-01"),
    (915_148_800_000, "timestamp outside 2000-01-01 .. 2100-01-01"),     # 1999 in ms
    (4_102_444_800, "timestamp outside 2000-01-01 .. 2100-01-01"),       # 2100 in s
    (1e20, "epoch value too large (expected seconds or milliseconds)"),
    ("yesterday", "not an RFC 3339 timestamp"),
])
def test_bad_timestamp(ts: Any, error: str) -> None:
    assert decode(record(ts=ts)) == DecodeFailure("bad_timestamp", error)


@pytest.mark.parametrize("ts", [b"100000000000000000000000000000", b"-5", b'"01/Jan/2026:00:00:00 +0000"',
                                b'"2026-01-01T00:00:00+0000"', b'"20260101T000000Z"'])
def test_bad_timestamp_other_shapes(ts: bytes) -> None:
    line = b'{"ts":' + ts + b',"client_ip":"1.2.3.4","method":"GET","path":"/","status":200}'
    assert decode(line).reason == "bad_timestamp"


def test_bad_timestamp_month_13() -> None:
    assert decode(record(ts="2026-13-01T00:00:00Z")).reason == "bad_timestamp"


def test_bad_timestamp_in_a_dict_row() -> None:
    row = dict(VALID, ts=float("nan"))
    assert decode(row) == DecodeFailure("bad_timestamp", "not a finite number")


@pytest.mark.parametrize("item", [b"hello world", "hello world", b"\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03",
                                  b"GET / HTTP/1.1"])
def test_unparseable_line(item: bytes | str) -> None:
    assert decode(item) == UNPARSEABLE


def test_clf_time_without_the_layout_names_combined() -> None:
    assert decode(b"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] GET / 200 0") == DecodeFailure(
        "unparseable_line", "combined: has a [dd/Mon/yyyy:…] time but not the layout "
        "'client ident user [time] \"METHOD target protocol\" status bytes'")


def test_duplicate_keys_last_wins() -> None:
    line = b'{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","method":"GET","path":"/","status":500,"status":200}'
    assert decode(line) == VALID_REQUEST


@pytest.mark.parametrize("value", [-1, "-1", -1.0])
def test_minus_one_duration_means_unknown_not_bad(value: Any) -> None:
    # -1 is the access-log sentinel for "no upstream answered": keep the request, without a duration.
    r = decode(record(duration_ms=value))
    assert isinstance(r, Request) and r.duration_ms is None and r.status == 200


# -- hot-path fast paths give what the general path gives -------------------------------------------------

@pytest.mark.parametrize("ts, expected", [
    ("2026-01-01T00:00:01.250Z", T0 + 1_250),
    ("2026-01-01T00:00:01.000Z", T0 + 1_000),
    ("2026-01-01T00:00:01.١٢٣Z", T0 + 1_123),  # Arabic-Indic digits: int() reads them
])
def test_cached_second_gives_the_same_timestamp(ts: str, expected: int) -> None:
    """The first decode fills the second cache (general path), the second one hits it (fast path)."""
    first, second = decode(record(ts=ts)), decode(record(ts=ts))
    assert first == second == req(ts_ms=expected)


@pytest.mark.parametrize("ts", ["2026-01-01T00:00:01.²²²Z", "2026-01-01T00:00:01.25xZ",
                                "2026-01-01T00:00:01.-25Z"])
def test_cached_second_with_a_bad_fraction_is_still_bad(ts: str) -> None:
    assert decode(record(ts="2026-01-01T00:00:01.500Z")) == req(ts_ms=T0 + 1_500)  # the second is cached
    result = decode(record(ts=ts))
    assert type(result) is DecodeFailure and result.reason == "bad_timestamp"


def test_cached_second_out_of_range_names_the_bound() -> None:
    assert decode(record(ts="2099-12-31T23:59:59.999Z")) == req(ts_ms=4_102_444_799_999)
    for _ in range(2):  # the second time, 1999's second is cached: the fast path must not accept it
        assert decode(record(ts="1999-12-31T23:59:59.999Z")) == DecodeFailure(
            "bad_timestamp", "timestamp outside 2000-01-01 .. 2100-01-01")


def test_host_cache_is_bounded_and_exact() -> None:
    import streams.core.decode as decode_mod

    decoder = Decoder(InputConfig())
    n = decode_mod._HOST_CACHE_LIMIT + 500
    for i in range(n):
        got = decoder.decode(record(host=f"H{i}.Example.COM:8443"))
        assert got == req(host=f"h{i}.example.com")
        assert len(decode_mod._HOST_CACHE) <= decode_mod._HOST_CACHE_LIMIT
    long_host = "a" * 300 + ".Example.com"
    assert decoder.decode(record(host=long_host)) == req(host=long_host.lower())
    assert long_host not in decode_mod._HOST_CACHE  # hostile lengths are never kept


def test_dict_subclass_decodes_like_a_dict() -> None:
    from collections import defaultdict

    row = defaultdict(lambda: "surprise", VALID)
    assert decode(row) == decode(dict(VALID)) == VALID_REQUEST
    assert "host" not in row  # decoding did not fill the row's missing keys


@pytest.mark.parametrize("text", ["1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "0.00.1.1",
                                  "1.2.3", "1.2.3.4.5", "1..3.4", "\u0661.2.3.4", "+1.2.3.4", "1.2.3.0400",
                                  "1.2.3.-4", "1.2.3.4\n"])
def test_ipv4_shortcut_agrees_with_ipaddress(text: str) -> None:
    """The shortcut claims only what ipaddress would print back unchanged; the rest goes to ipaddress."""
    import ipaddress

    from streams.core.decode import _is_canonical_ipv4

    try:
        expected = str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        expected = False
    assert _is_canonical_ipv4(text) is expected
