"""JSON access logs, recognised by their keys (one function per family, tried in :data:`FAMILIES` order).

| family | recognised by | time | duration (unit) |
|---|---|---|---|
| envoy (also Istio's JSON) | ``start_time`` + ``response_code``/``downstream_remote_address`` | ``start_time`` | ``duration`` (ms) |
| nginx_json | a client key (``remote_addr``…) + ``request``/``request_uri``/``request_method`` | ``time_iso8601``, ``time_local`` (CLF), ``msec`` (s) | ``request_time`` (s) |
| traefik_json | ``RequestMethod`` + ``DownstreamStatus``/``Duration`` | ``StartUTC`` | ``Duration`` (**ns**) |
| caddy | ``request`` object + ``status`` | ``ts`` (epoch s) | ``duration`` (s, or text with a unit) |
| cloudflare | ``ClientRequestMethod`` / ``EdgeStartTimestamp`` + ``ClientIP`` | ``EdgeStartTimestamp`` (RFC 3339 or epoch s/ns) | ``OriginResponseDurationMs`` (ms), else ``OriginResponseTime`` (ns) |
| gcp_lb | ``httpRequest`` object | ``timestamp`` | ``httpRequest.latency`` (``"0.123s"``) |
| aws_alb_json | ``elb_status_code`` + ``request_verb`` | ``time`` | ``target_processing_time`` (s) |

Peers and X-Forwarded-For: each family's peer address is the TCP peer (Traefik ``ClientAddr``, Caddy
``remote_ip``), with the logged X-Forwarded-For for the trusted-proxy rules — not the proxy's own idea
of the client.
"""

from __future__ import annotations

from typing import Any, Callable

from streams.core.formats.common import DecodeFailure, fail, parse_time, split_request_line
from streams.core.formats.units import duration_ms, epoch_ms_any


def _time(fmt: str, value: Any) -> int | DecodeFailure:
    if value is None or value == "" or value == "-":
        return fail(fmt, "missing_field:ts", "no timestamp")
    if type(value) is str:
        if value[:1].isdigit() and value.replace(".", "", 1).isdigit():
            value = float(value)
        else:
            return parse_time(fmt, value)
    if type(value) is int or type(value) is float:
        try:
            return epoch_ms_any(value)
        except ValueError as exc:
            return fail(fmt, "bad_timestamp", str(exc))
    return fail(fmt, "bad_type:ts", f"timestamp of type {type(value).__name__}")


def _duration(fmt: str, key: str, value: Any, factor: float) -> float | None | DecodeFailure:
    try:
        return duration_ms(value, factor)
    except ValueError as exc:
        return fail(fmt, "bad_type:duration_ms", f"{key}: {exc}")


def _record(fmt: str, ts: Any, client: Any, method: Any, host: Any, path: Any, status: Any,
            duration: Any, ua: Any, xff: Any) -> dict | DecodeFailure:
    if type(ts) is DecodeFailure:
        return ts
    if type(duration) is DecodeFailure:
        return duration
    return {"ts": ts, "client_ip": client, "method": method, "host": host, "path": path, "status": status,
            "duration_ms": duration, "user_agent": ua, "forwarded_for": xff}


# -- families --------------------------------------------------------------------------------------------
def envoy(obj: dict) -> dict | DecodeFailure | None:
    if "start_time" not in obj or not ("response_code" in obj or "downstream_remote_address" in obj):
        return None
    g = obj.get
    return _record("envoy", _time("envoy", g("start_time")), g("downstream_remote_address"), g("method"),
                   g("authority"), g("path"), g("response_code"), _duration("envoy", "duration", g("duration"), 1.0),
                   g("user_agent"), g("x_forwarded_for"))


_NGINX_CLIENT = ("remote_addr", "remote_ip", "client_ip", "clientip", "client")
_NGINX_TIME = ("time_iso8601", "time_local", "msec", "@timestamp", "timestamp", "time")


def nginx_json(obj: dict) -> dict | DecodeFailure | None:
    """nginx ``log_format … escape=json`` with nginx's variable names (``$remote_addr`` as
    ``remote_addr``…), including the common spellings of the client key. Read when it has a client key
    and ``request`` / ``request_uri`` / ``request_method``."""
    g = obj.get
    client_key = next((k for k in _NGINX_CLIENT if k in obj), None)
    if client_key is None or not ("request" in obj or "request_uri" in obj or "request_method" in obj):
        return None
    name = "nginx_json"
    method, path = g("request_method"), g("request_uri") or g("uri")
    request = g("request")
    if type(request) is str and (method is None or path is None):
        split = split_request_line(name, request)
        if type(split) is DecodeFailure:
            return split
        method, path = split
    ts_value = next((g(k) for k in _NGINX_TIME if g(k) not in (None, "", "-")), None)
    return _record(name, _time(name, ts_value), g(client_key), method,
                   g("host") or g("http_host") or g("server_name"), path, g("status"),
                   _duration(name, "request_time", g("request_time"), 1000.0),
                   g("http_user_agent") or g("user_agent") or g("agent"),
                   g("http_x_forwarded_for") or g("x_forwarded_for"))


def traefik_json(obj: dict) -> dict | DecodeFailure | None:
    if "RequestMethod" not in obj or not ("DownstreamStatus" in obj or "Duration" in obj):
        return None
    g = obj.get
    name = "traefik_json"
    return _record(name, _time(name, g("StartUTC") or g("StartLocal") or g("time")),
                   g("ClientAddr") or g("ClientHost"), g("RequestMethod"), g("RequestHost"), g("RequestPath"),
                   g("DownstreamStatus"), _duration(name, "Duration", g("Duration"), 1e-6),
                   g("request_User-Agent"), g("request_X-Forwarded-For"))


def caddy(obj: dict) -> dict | DecodeFailure | None:
    req = obj.get("request")
    if type(req) is not dict or "status" not in obj or "method" not in req:
        return None
    name = "caddy"
    headers = req.get("headers")
    headers = headers if type(headers) is dict else {}
    return _record(name, _time(name, obj.get("ts")),
                   req.get("remote_ip") or req.get("remote_addr") or req.get("client_ip"), req.get("method"),
                   req.get("host"), req.get("uri"), obj.get("status"),
                   _duration(name, "duration", obj.get("duration"), 1000.0),
                   _header(headers.get("User-Agent")), _header(headers.get("X-Forwarded-For"), ", "))


def _header(value: Any, sep: str | None = None) -> Any:
    """Caddy logs each header as a list of values: the first (the user agent), or all joined (XFF)."""
    if type(value) is list:
        if not value:
            return None
        if sep is None or len(value) == 1:
            return value[0]
        return sep.join(v for v in value if type(v) is str)
    return value


def cloudflare(obj: dict) -> dict | DecodeFailure | None:
    if "ClientIP" not in obj or not ("ClientRequestMethod" in obj or "EdgeStartTimestamp" in obj):
        return None
    g = obj.get
    name = "cloudflare"
    if g("OriginResponseDurationMs") is not None:
        duration = _duration(name, "OriginResponseDurationMs", g("OriginResponseDurationMs"), 1.0)
    else:
        duration = _duration(name, "OriginResponseTime", g("OriginResponseTime"), 1e-6)
    return _record(name, _time(name, g("EdgeStartTimestamp")), g("ClientIP"), g("ClientRequestMethod"),
                   g("ClientRequestHost"), g("ClientRequestURI") or g("ClientRequestPath"), g("EdgeResponseStatus"),
                   duration, g("ClientRequestUserAgent"), None)


def gcp_lb(obj: dict) -> dict | DecodeFailure | None:
    hr = obj.get("httpRequest")
    if type(hr) is not dict:
        return None
    name = "gcp_lb"
    g = hr.get
    return _record(name, _time(name, obj.get("timestamp")), g("remoteIp"), g("requestMethod"), "",
                   g("requestUrl"), g("status"), _duration(name, "latency", g("latency"), 1000.0),
                   g("userAgent"), None)


def aws_alb_json(obj: dict) -> dict | DecodeFailure | None:
    if "elb_status_code" not in obj or "request_verb" not in obj:
        return None
    g = obj.get
    name = "aws_alb_json"
    return _record(name, _time(name, g("time")), g("client"), g("request_verb"), g("domain_name"),
                   g("request_url"), g("elb_status_code"),
                   _duration(name, "target_processing_time", g("target_processing_time"), 1000.0),
                   g("user_agent"), None)


FAMILIES: tuple[tuple[str, Callable[[dict], dict | DecodeFailure | None]], ...] = (
    ("envoy", envoy), ("nginx_json", nginx_json), ("traefik_json", traefik_json), ("caddy", caddy),
    ("cloudflare", cloudflare), ("gcp_lb", gcp_lb), ("aws_alb_json", aws_alb_json))


def recognise(obj: dict) -> tuple[str, dict | DecodeFailure] | None:
    """(family, canonical record or failure) of the first family whose keys ``obj`` has; None if none."""
    for name, family in FAMILIES:
        out = family(obj)
        if out is not None:
            return name, out
    return None
