"""streams.core.formats through the decoder: each format's documented layout, every field variant,
exact mapped values; a mixed file through ``format: auto``. Lines are written here from each format's own
documentation (nginx/Apache log_format, HAProxy manual 8.2.3, AWS ELB/ALB access-log docs, Envoy/Istio
default formats, Traefik, Caddy, Cloudflare Logpush, Google Cloud LoggingEntry.httpRequest)."""

from __future__ import annotations

import orjson
import pytest

from streams.config import InputConfig
from streams.core.decode import DecodeFailure, Decoder
from streams.core.formats.units import duration_ms, duration_text_ms, epoch_ms_any
from streams.core.model import Request

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
UA = "Mozilla/5.0 (X11; Linux x86_64)"


def decode(item, **cfg) -> Request | DecodeFailure:
    return Decoder(InputConfig(**cfg)).decode(item)


def classify(item, **cfg):
    return Decoder(InputConfig(**cfg)).classify(item)


def R(ts=T0, ip="203.0.113.9", method="GET", host="", path="/", status=200, duration=None, ua="", fwd=None):
    return Request(ts, ip, method, host, path, status, duration, ua, forwarded_for=fwd)


# -- units -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, ms", [("0.123s", 123.0), ("2ms", 2.0), ("250µs", 0.25), ("250μs", 0.25),
                                      ("250us", 0.25), ("1500ns", 0.0015), ("1m2.5s", 62_500.0), ("1h", 3_600_000.0),
                                      ("0s", 0.0), (".5s", 500.0)])
def test_duration_text_units(text: str, ms: float) -> None:
    assert duration_text_ms(text) == pytest.approx(ms, rel=1e-12)


@pytest.mark.parametrize("text", ["", "s", "1", "1 parsec", "-1s", "1e400s", "1.2.3s"])
def test_duration_text_without_a_unit_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        duration_text_ms(text)


@pytest.mark.parametrize("value, factor, ms", [("0.5", 1000.0, 500.0), (1_500_000, 1e-6, 1.5), ("-", 1.0, None),
                                               ("", 1.0, None), (None, 1.0, None), (-1, 1000.0, None),
                                               ("2ms", 1000.0, 2.0)])
def test_duration_in_a_named_unit(value, factor: float, ms: float | None) -> None:
    assert duration_ms(value, factor) == ms


@pytest.mark.parametrize("value", [1_767_225_600, 1_767_225_600_000, 1_767_225_600_000_000,
                                   1_767_225_600_000_000_000, 1_767_225_600.0])
def test_epoch_in_any_unit(value: float) -> None:
    assert epoch_ms_any(value) == T0


@pytest.mark.parametrize("unit, raw, expected", [("ns", "1500000", 1.5), ("µs", "1500", 1.5), ("us", "1500", 1.5)])
def test_field_map_names_the_unit(unit: str, raw: str, expected: float) -> None:
    line = orjson.dumps({"t": "2026-01-01T00:00:00Z", "ip": "1.2.3.4", "m": "GET", "p": "/", "s": 200, "d": raw})
    fields = {"ts": "t", "client_ip": "ip", "method": "m", "path": "p", "status": "s", "duration_ms": "d"}
    assert decode(line, fields=fields, duration_unit=unit) == R(ip="1.2.3.4", duration=expected)


def test_duration_text_with_a_unit_keeps_its_unit_under_any_mapping() -> None:
    line = orjson.dumps({"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/",
                         "status": 200, "duration_ms": "0.123s"})
    assert decode(line) == decode(line, duration_unit="s") == R(ip="1.2.3.4", duration=123.0)


# -- CLF layouts ---------------------------------------------------------------------------------------
CLF_HEAD = '[01/Jan/2026:00:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"'


@pytest.mark.parametrize("prefix, ip, fwd, host, layout", [
    # $proxy_add_x_forwarded_for before ident/user: the right-most entry is $remote_addr (the peer)
    ("198.51.100.7, 10.0.0.1, 127.0.0.1 - -", "127.0.0.1", "198.51.100.7, 10.0.0.1", "", "xff_list"),
    # "$http_x_forwarded_for" $remote_addr
    ('"198.51.100.7, 10.0.0.2" 10.0.0.5 - -', "10.0.0.5", "198.51.100.7, 10.0.0.2", "", "xff_list"),
    ('"-" 10.0.0.5 - -', "10.0.0.5", None, "", "xff_list"),
    # IPv6 hops, uncompressed, no quotes
    ("2001:0db8:0000:0000:0000:0000:0:0001, 10.0.0.2 10.0.0.5 - -", "10.0.0.5",
     "2001:0db8:0000:0000:0000:0000:0:0001, 10.0.0.2", "", "xff_list"),
    # Apache vhost_combined: %v:%p %h %l %u
    ("www.Example.com:443 203.0.113.9 - frank", "203.0.113.9", None, "www.example.com", "vhost"),
    # nginx "$host $remote_addr - $remote_user"
    ("shop.example.com 2001:db8::7 - -", "2001:db8::7", None, "shop.example.com", "vhost"),
])
def test_clf_heads(prefix: str, ip: str, fwd: str | None, host: str, layout: str) -> None:
    name, out = classify(f"{prefix} {CLF_HEAD}")
    assert name == f"combined/{layout}"
    assert out == R(ip=ip, host=host, path="/a", ua=UA, fwd=fwd)


def test_clf_head_that_is_not_an_address_list_names_combined() -> None:
    assert decode(f"a b c - - {CLF_HEAD}") == DecodeFailure(
        "bad_type:client_ip", "combined: the field before ident and user is not an address, an address list "
        "or 'vhost address': 'a b c'")


def test_traefik_clf_request_count_is_not_latency() -> None:
    # Traefik: <common> "<referer>" "<ua>" <request count> "<router>" "<backend URL>" <duration>ms
    line = ('203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET /api HTTP/2.0" 200 17 "-" "curl/8.5.0" 262 '
            '"websecure-api@docker" "http://172.19.0.3:8080" 27ms')
    assert classify(line) == ("combined/traefik", R(path="/api", duration=27.0, ua="curl/8.5.0"))


def test_traefik_clf_bare_dash_referer_and_broken_router_quote() -> None:
    line = ('203.0.113.9 - alice [01/Jan/2026:00:00:00 +0000] "POST /login HTTP/1.1" 302 0 - "Mozilla/5.0 '
            '\\"quoted\\"" 13 "router-1 "http://10.0.0.6:14008" 1.5s')
    assert decode(line) == R(method="POST", path="/login", status=302, duration=1500.0,
                             ua='Mozilla/5.0 "quoted"')


def test_clf_without_a_status_is_missing_status() -> None:
    # Traefik writes "-" for the status (and size) of a request that got no response
    line = '::1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" - - "-" "-" 27 "-" "-" 0ms'
    assert decode(line) == DecodeFailure(
        "missing_field:status", "combined: the status is '-': no response was logged (an aborted request)")


def test_ingress_nginx_reads_request_time_not_request_length() -> None:
    # ingress-nginx: ... $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name]
    #                $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id
    line = ('2001:db8::9 - - [01/Jan/2026:00:00:00 +0000] "GET /products/42 HTTP/1.1" 200 59 "-" "curl/8.5.0" '
            '489 0.031 [default-web-8080] [] 10.0.0.5:8080, 10.0.0.6:8080 59, 59 0.030, 0.001 200, 200 abc123')
    assert classify(line) == ("combined/ingress_nginx",
                              R(ip="2001:db8::9", path="/products/42", duration=31.0, ua="curl/8.5.0"))
    rejected = line.replace(" 0.031 [default-web-8080]", " - [default-web-8080]")
    assert decode(rejected) == R(ip="2001:db8::9", path="/products/42", duration=None, ua="curl/8.5.0")


def test_clf_trailing_request_time_is_seconds() -> None:
    assert decode(f"203.0.113.9 - - {CLF_HEAD} 0.075") == R(path="/a", ua=UA, duration=75.0)


# -- HAProxy ---------------------------------------------------------------------------------------------
HAPROXY = ('haproxy[14389]: 10.0.1.2:33317 [01/Jan/2026:00:00:00.250] http-in static/srv1 10/0/30/69/109 200 2750 '
           '- - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"')


@pytest.mark.parametrize("prefix", ["Jan  1 00:00:00 lb1 ", "<134>Jan  1 00:00:00 lb1 ", "2026-01-01T00:00:00+00:00 lb1 ",
                                    "<134>1 2026-01-01T00:00:00.250Z lb1 haproxy 14389 - - "])
def test_haproxy_httplog_behind_syslog_prefixes(prefix: str) -> None:
    line = prefix + HAPROXY if not prefix.startswith("<134>1") else prefix + HAPROXY.split(": ", 1)[1]
    name, out = classify(line)
    assert name == "syslog > haproxy"
    assert out == R(ts=T0 + 250, ip="10.0.1.2", path="/index.html", duration=109.0)


@pytest.mark.parametrize("client, ip", [("[2001:db8::1]:443", "2001:db8::1"), ("2001:db8::1:5000", "2001:db8::1"),
                                        ("-:22222", ""), ("unix:1", "")])
def test_haproxy_clients(client: str, ip: str) -> None:
    line = HAPROXY.split(": ", 1)[1].replace("10.0.1.2:33317", client)
    assert decode(line) == R(ts=T0 + 250, ip=ip, path="/index.html", duration=109.0)


@pytest.mark.parametrize("timers, duration", [("10/0/30/69/109", 109.0), ("10/0/30/69/+109", 109.0),
                                              ("10/0/-1/-1/-1", None), ("0/0/0/0/0", 0.0)])
def test_haproxy_total_active_time_in_ms(timers: str, duration: float | None) -> None:
    line = HAPROXY.split(": ", 1)[1].replace("10/0/30/69/109", timers)
    assert decode(line) == R(ts=T0 + 250, ip="10.0.1.2", path="/index.html", duration=duration)


def test_haproxy_broken_line_names_haproxy() -> None:
    line = "10.0.1.2:33317 [01/Jan/2026:00:00:00.250] http-in static/srv1 junk"
    assert decode(line) == DecodeFailure(
        "unparseable_line", "haproxy: after 'frontend backend/server' expected the timers TR/Tw/Tc/Tr/Ta, a "
        "status, bytes and a quoted request at the end of the line")


# -- AWS -------------------------------------------------------------------------------------------------
ALB = ('h2 2026-01-01T00:00:00.123456Z app/my-lb/50dc6c495c0c9188 203.0.113.9:2817 10.0.0.1:80 0.000 0.048 0.000 '
       '200 200 34 366 "GET https://Shop.Example.com:443/cart?x=1 HTTP/2.0" "curl/8.5.0" '
       'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2d6bc24d8a067 '
       '"Root=1-58337262-36d228ad5d99923122bbe354" "shop.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/1" '
       '1 2026-01-01T00:00:00.075000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1')


def test_alb_native() -> None:
    assert classify(ALB) == ("aws_alb", R(ts=T0 + 123, host="shop.example.com", path="/cart", duration=48.0,
                                          ua="curl/8.5.0"))


@pytest.mark.parametrize("kind", ["http", "https", "h2", "grpcs", "ws", "wss"])
def test_alb_types(kind: str) -> None:
    assert classify(kind + ALB[2:])[0] == "aws_alb"


def test_alb_no_target_answered_means_no_duration() -> None:
    line = ALB.replace("0.000 0.048 0.000 200 200", "0.000 -1 -1 504 -")
    assert decode(line) == R(ts=T0 + 123, host="shop.example.com", path="/cart", status=504, ua="curl/8.5.0")


def test_alb_ipv6_client() -> None:
    assert decode(ALB.replace("203.0.113.9:2817", "2001:db8::5:2817")).client_ip == "2001:db8::5"


ELB = ('2026-01-01T00:00:00.500000Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 '
       '200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -')


def test_classic_elb() -> None:
    assert classify(ELB) == ("aws_elb", R(ts=T0 + 500, ip="192.168.131.39", host="www.example.com", duration=1.048,
                                          ua="curl/7.38.0"))


def test_classic_elb_tcp_listener_has_no_status() -> None:
    line = ('2026-01-01T00:00:00.500000Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 '
            '0.000041 - - 82 305 "- - - " "-" - -')
    assert decode(line) == DecodeFailure(
        "missing_field:status", "aws_elb: no HTTP status ('-'): a TCP listener, or a client that sent no request")


# -- Envoy / Istio -----------------------------------------------------------------------------------------
ENVOY = ('[2026-01-01T00:00:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" '
         '"nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"')


def test_envoy_default_text_peer_from_forwarded_for() -> None:
    assert classify(ENVOY) == ("envoy", R(ts=T0 + 310, ip="10.0.35.28", method="POST", host="locations",
                                          path="/api/v1/locations", status=204, duration=226.0, ua="nsq2http",
                                          fwd="10.0.35.28"))


def test_envoy_default_text_without_forwarded_for_has_no_client_address() -> None:
    line = ENVOY.replace('"10.0.35.28"', '"-"')
    assert decode(line) == R(ts=T0 + 310, ip="", method="POST", host="locations", path="/api/v1/locations",
                             status=204, duration=226.0, ua="nsq2http")


def test_envoy_connection_without_request() -> None:
    line = '[2026-01-01T00:00:00.000Z] "- - -" 0 UF,URX 0 0 0 - "-" "-" "-" "-" "127.0.0.1:9200"'
    assert decode(line) == R(ip="", method="-", path="-", status=0, duration=0.0)


def test_istio_default_text() -> None:
    line = ('[2026-01-01T00:00:00.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" '
            '"curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "127.0.0.1:80" '
            'inbound|8000|| 127.0.0.1:41854 10.44.1.27:80 [2001:db8::23]:37652 '
            'outbound_.8000_._.httpbin.default.svc.cluster.local default')
    assert classify(line) == ("envoy", R(ts=T0 + 409, ip="2001:db8::23", host="httpbin", path="/status/418",
                                         status=418, duration=4.0, ua="curl/7.73.0-DEV"))


def test_envoy_broken_line_names_envoy() -> None:
    assert decode('[2026-01-01T00:00:00.000Z] "GET / HTTP/1.1" two-hundred').reason == "unparseable_line"
    assert decode('[2026-01-01T00:00:00.000Z] "GET / HTTP/1.1" two-hundred').error.startswith("envoy: ")


# -- JSON families -----------------------------------------------------------------------------------------
def test_istio_json_auto_detected() -> None:
    line = orjson.dumps({"start_time": "2026-01-01T00:00:00.123Z", "method": "GET", "path": "/p?q",
                         "protocol": "HTTP/1.1", "response_code": 503, "response_flags": "UF",
                         "bytes_received": 0, "bytes_sent": 91, "duration": 17, "upstream_service_time": None,
                         "x_forwarded_for": "198.51.100.1", "user_agent": "curl/8.5.0", "request_id": "r",
                         "authority": "reviews:9080", "upstream_host": "10.0.0.9:9080",
                         "downstream_remote_address": "10.0.0.5:41854"})
    assert classify(line) == ("envoy", R(ts=T0 + 123, ip="10.0.0.5", host="reviews", path="/p", status=503,
                                         duration=17.0, ua="curl/8.5.0", fwd="198.51.100.1"))


def test_nginx_json_with_request_time_local_and_request_time() -> None:
    # log_format json escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr","request":"$request",...}'
    line = orjson.dumps({"time_local": "01/Jan/2026:01:00:00 +0100", "remote_addr": "2001:db8::1",
                         "remote_user": "", "request": "PUT /v1/cart/7?x=1 HTTP/1.1", "status": "201",
                         "body_bytes_sent": "12", "request_time": "0.042", "http_referrer": "",
                         "http_user_agent": UA, "http_x_forwarded_for": "-", "host": "API.example.com"})
    assert classify(line) == ("nginx_json", R(ip="2001:db8::1", method="PUT", host="api.example.com",
                                              path="/v1/cart/7", status=201, duration=42.0, ua=UA))


def test_nginx_json_bracketed_time_local_and_other_key_spellings() -> None:
    line = orjson.dumps({"time": "[01/Jan/2026:00:00:00 +0000]", "remote_ip": "203.0.113.9",
                         "request": "GET /x HTTP/2.0", "status": 502, "request_time": "1.250",
                         "user_agent": "curl/8.5.0", "x_forwarded_for": "198.51.100.2"})
    assert classify(line) == ("nginx_json", R(path="/x", status=502, duration=1250.0, ua="curl/8.5.0",
                                              fwd="198.51.100.2"))


def test_nginx_json_msec_and_method_uri() -> None:
    line = orjson.dumps({"msec": "1767225600.250", "remote_addr": "10.0.0.1", "request_method": "GET",
                         "request_uri": "/", "status": 200, "request_time": 0.5,
                         "http_x_forwarded_for": "198.51.100.3"})
    assert decode(line) == R(ts=T0 + 250, ip="10.0.0.1", duration=500.0, fwd="198.51.100.3")


def test_traefik_json_duration_in_nanoseconds() -> None:
    line = orjson.dumps({"ClientAddr": "[2001:db8::3]:51234", "ClientHost": "2001:db8::3", "ClientPort": "51234",
                         "DownstreamContentSize": 19, "DownstreamStatus": 200, "Duration": 2_345_678,
                         "OriginDuration": 2_100_000, "OriginStatus": 200, "RequestHost": "whoami.example.com",
                         "RequestMethod": "GET", "RequestPath": "/bar?x=1", "RequestProtocol": "HTTP/1.1",
                         "RouterName": "whoami@docker", "StartUTC": "2026-01-01T00:00:00.123456789Z",
                         "request_User-Agent": "curl/8.5.0", "request_X-Forwarded-For": "198.51.100.9",
                         "level": "info", "msg": "", "time": "2026-01-01T00:00:01Z"})
    assert classify(line) == ("traefik_json", R(ts=T0 + 123, ip="2001:db8::3", host="whoami.example.com",
                                                path="/bar", duration=2.345678, ua="curl/8.5.0",
                                                fwd="198.51.100.9"))


def test_caddy_json_headers_as_lists() -> None:
    line = orjson.dumps({"level": "info", "ts": 1767225600.5, "logger": "http.log.access.log0",
                         "msg": "handled request", "request": {
                             "remote_ip": "10.0.0.5", "remote_port": "41342", "client_ip": "198.51.100.4",
                             "proto": "HTTP/2.0", "method": "GET", "host": "example.com", "uri": "/x?y=1",
                             "headers": {"User-Agent": ["curl/8.5.0"], "X-Forwarded-For": ["198.51.100.4", "10.0.0.2"],
                                         "Accept": ["*/*"]}},
                         "bytes_read": 0, "user_id": "", "duration": 0.000929675, "size": 10900, "status": 404,
                         "resp_headers": {"Server": ["Caddy"]}})
    assert classify(line) == ("caddy", R(ts=T0 + 500, ip="10.0.0.5", host="example.com", path="/x", status=404,
                                         duration=0.929675, ua="curl/8.5.0", fwd="198.51.100.4, 10.0.0.2"))


def test_cloudflare_logpush_http_requests() -> None:
    rec = {"ClientIP": "2001:db8::77", "ClientRequestHost": "www.example.com", "ClientRequestMethod": "POST",
           "ClientRequestURI": "/login?next=/", "ClientRequestUserAgent": UA, "EdgeResponseStatus": 403,
           "EdgeStartTimestamp": "2026-01-01T00:00:00Z", "EdgeEndTimestamp": "2026-01-01T00:00:00Z",
           "OriginResponseDurationMs": 35, "RayID": "7f1"}
    expected = R(ip="2001:db8::77", method="POST", host="www.example.com", path="/login", status=403,
                 duration=35.0, ua=UA)
    assert classify(orjson.dumps(rec)) == ("cloudflare", expected)
    del rec["OriginResponseDurationMs"]
    rec.update(EdgeStartTimestamp=1_767_225_600_000_000_000, OriginResponseTime=35_000_000)  # unixnano, ns
    assert decode(orjson.dumps(rec)) == expected


def test_google_cloud_load_balancer_entry() -> None:
    line = orjson.dumps({"insertId": "1", "jsonPayload": {
        "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
        "statusDetails": "response_sent_by_backend"},
        "httpRequest": {"requestMethod": "GET", "requestUrl": "https://shop.example.com/cart?id=1",
                        "requestSize": "83", "status": 502, "responseSize": "12", "userAgent": "curl/8.5.0",
                        "remoteIp": "203.0.113.9", "serverIp": "10.0.0.3", "latency": "0.123456s",
                        "protocol": "HTTP/1.1"},
        "resource": {"type": "http_load_balancer"}, "timestamp": "2026-01-01T00:00:00.000123Z",
        "severity": "WARNING", "logName": "projects/p/logs/requests"})
    assert classify(line) == ("gcp_lb", R(host="shop.example.com", path="/cart", status=502,
                                          duration=123.456, ua="curl/8.5.0"))


def test_json_family_failure_names_the_family() -> None:
    line = orjson.dumps({"httpRequest": {"requestMethod": "GET", "requestUrl": "/", "status": 200,
                                         "remoteIp": "1.2.3.4", "latency": "fast"}, "timestamp": "2026-01-01T00:00:00Z"})
    assert decode(line) == DecodeFailure(
        "bad_type:duration_ms", "gcp_lb: latency: duration 'fast' is not a number with a unit (ns, us, µs, ms, s, m, h)")


def test_configured_mapping_wins_when_it_finds_its_fields() -> None:
    # a truesli-shaped record that also carries Envoy-like keys is read by the configured mapping
    line = orjson.dumps({"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/",
                         "status": 200, "start_time": "2020-01-01T00:00:00Z", "response_code": 500})
    assert classify(line) == ("json:truesli", R(ip="1.2.3.4"))


def test_unknown_json_keeps_the_configured_mappings_reason() -> None:
    assert decode(b'{"foo": 1}') == DecodeFailure("missing_field:ts", "no timestamp")


# -- envelopes -------------------------------------------------------------------------------------------
CLF = '203.0.113.9 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0"'


def test_docker_json_envelope() -> None:
    line = orjson.dumps({"log": CLF + "\n", "stream": "stdout", "time": "2026-01-01T00:00:09.1Z"})
    assert classify(line) == ("docker_json > combined/plain", R(ua="curl/8.5.0"))


def test_docker_json_envelope_around_json() -> None:
    inner = orjson.dumps({"start_time": "2026-01-01T00:00:00Z", "downstream_remote_address": "1.2.3.4:1",
                          "method": "GET", "path": "/", "response_code": 200, "duration": 3}).decode()
    assert classify(orjson.dumps({"log": inner, "stream": "stderr"})) == (
        "docker_json > envoy", R(ip="1.2.3.4", duration=3.0))


def test_cri_envelope_and_cri_around_syslog() -> None:
    assert classify(f"2026-01-01T00:00:09.669794202Z stdout F {CLF}") == ("cri > combined/plain", R(ua="curl/8.5.0"))
    name, out = classify("2026-01-01T00:00:09Z stderr F Jan  1 00:00:00 lb1 " + HAPROXY)
    assert (name, out) == ("cri > syslog > haproxy", R(ts=T0 + 250, ip="10.0.1.2", path="/index.html", duration=109.0))


def test_envelope_failure_names_the_envelope_and_the_format() -> None:
    out = decode(f"2026-01-01T00:00:09Z stdout F " + HAPROXY.split(": ", 1)[1].replace("200 2750", "xx 2750"))
    assert out.reason == "unparseable_line" and out.error.startswith("cri > haproxy: ")


# -- a mixed file through auto -----------------------------------------------------------------------------
def test_mixed_formats_in_one_stream() -> None:
    lines = [CLF, ENVOY, ALB, ELB, "Jan  1 00:00:00 lb1 " + HAPROXY, f"2026-01-01T00:00:09Z stdout F {CLF}",
             orjson.dumps({"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/",
                           "status": 200}).decode(), "garbage"]
    d = Decoder(InputConfig())
    names = [d.classify(line.encode())[0] for line in lines]
    assert names == ["combined/plain", "envoy", "aws_alb", "aws_elb", "syslog > haproxy", "cri > combined/plain",
                     "json:truesli", "-"]
    assert [d.decode(line.encode()) == d.classify(line.encode())[1] for line in lines] == [True] * len(lines)
    assert [type(d.decode(line)).__name__ for line in lines] == ["Request"] * 7 + ["DecodeFailure"]


def test_combined_format_reads_only_the_clf_family() -> None:
    assert decode(ENVOY, format="combined") == DecodeFailure("unparseable_line", "not Common/Combined Log Format")
    assert decode(f"198.51.100.7, 10.0.0.1 - - {CLF_HEAD}", format="combined") == R(
        ip="10.0.0.1", path="/a", ua=UA, fwd="198.51.100.7")


# -- a custom text format (input.line_regex) ----------------------------------------------------------------
CUSTOM = (r'^(?P<ts>\S+) (?P<client_ip>\S+) (?P<host>\S+) "(?P<request>[^"]*)" (?P<status>\d{3}) '
          r'(?P<duration>\S+) "(?P<user_agent>[^"]*)"')


@pytest.mark.parametrize("duration, unit, expected", [("1500", "us", 1.5), ("0.25", "s", 250.0), ("12", None, 12.0),
                                                      ("3ms", "s", 3.0), ("-", None, None)])
def test_custom_line_regex(duration: str, unit: str | None, expected: float | None) -> None:
    line = f'2026-01-01T00:00:00Z 203.0.113.9 Shop.example.com "GET /x?y HTTP/1.1" 201 {duration} "curl/8.5.0"'
    assert classify(line, line_regex=CUSTOM, duration_unit=unit) == (
        "custom", R(host="shop.example.com", path="/x", status=201, duration=expected, ua="curl/8.5.0"))


def test_custom_line_regex_falls_back_to_the_built_in_formats_and_names_itself_on_failure() -> None:
    assert classify(ENVOY, line_regex=CUSTOM)[0] == "envoy"
    bad = '2026-13-01T00:00:00Z 203.0.113.9 h "GET / HTTP/1.1" 200 1 "-"'
    assert decode(bad, line_regex=CUSTOM) == DecodeFailure("bad_timestamp", "custom: month must be in 1..12")
    epoch = '1767225600.5 203.0.113.9 h "GET / HTTP/1.1" 200 1 "-"'
    assert decode(epoch, line_regex=CUSTOM) == R(ts=T0 + 500, host="h", duration=1.0)


@pytest.mark.parametrize("pattern, message", [
    (r"(?P<ts>\S+) (?P<status>\d+)", "line_regex needs the named groups ts, status and either request or method "
                                    "and path (missing: request / method+path)"),
    (r"(?P<ts>\S+) (?P<status>\d+) (?P<request>.*) (?P<colour>\S+)", "unknown named group(s) ['colour']"),
    (r"(?P<ts>\S+) (?P<status>\d+) (?P<request>.*)(?=x)", "not a valid RE2 pattern"),
])
def test_custom_line_regex_is_validated(pattern: str, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        InputConfig(line_regex=pattern)
    assert message in str(info.value)
