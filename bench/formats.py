"""Per-line decode cost of each log format: `scripts/bench formats [--lines N]`.

Generates N lines of every format (varying client, path, status and duration so caches behave as on real
logs: ~1,000 distinct clients, seconds advancing), then times ``Decoder.decode`` over each set with the
default config (``format: auto``) — best of 3, side by side in one run, plus a bare ``orjson.loads`` loop
over the truesli JSON lines as the yardstick. Prints µs/line and lines/s per format, and µs/line of what
the core runs: ``Decoder.decode_columns`` over batches of 20,000 lines as the file reader hands them over
(Arrow arrays of lines), which takes whole batches where the format has a whole-batch decode (JSON lines,
Common/Combined) and is the per-record decode plus building the columns elsewhere.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402

from streams.config import InputConfig  # noqa: E402
from streams.core.decode import Decoder, DecodeFailure  # noqa: E402
from streams.core.line_arrays import ArrowLines  # noqa: E402

BATCH = 20_000

MONTH = "Jan"


def _vals(i: int) -> dict:
    sec = i // 20
    return {"ip": f"198.51.{(i * 7) % 4}.{(i * 13) % 250 + 1}", "path": f"/p/{i % 97}", "status": (200, 200, 404, 503)[i % 4],
            "ms": (i * 37) % 900 + 1, "hh": f"{sec // 3600 % 24:02d}", "mm": f"{sec // 60 % 60:02d}",
            "ss": f"{sec % 60:02d}", "frac": f"{i % 1000:03d}"}


def _line(fmt: str, i: int) -> bytes:
    v = _vals(i)
    t = f"{v['hh']}:{v['mm']}:{v['ss']}"
    iso = f"2026-01-01T{t}.{v['frac']}Z"
    clf = f"01/{MONTH}/2026:{t} +0000"
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
    if fmt == "truesli_json":
        return orjson.dumps({"ts": iso, "client_ip": v["ip"], "method": "GET", "host": "shop.example.com",
                             "path": v["path"] + "?q=1", "status": v["status"], "duration_ms": v["ms"], "user_agent": ua})
    if fmt == "combined":
        return f'{v["ip"]} - - [{clf}] "GET {v["path"]}?q=1 HTTP/1.1" {v["status"]} 512 "-" "{ua}" 0.{v["ms"]:03d}'.encode()
    if fmt == "combined_xff_list":
        return f'10.0.0.2, {v["ip"]} - - [{clf}] "GET {v["path"]} HTTP/1.1" {v["status"]} 512 "-" "{ua}"'.encode()
    if fmt == "traefik_clf":
        return (f'{v["ip"]} - - [{clf}] "GET {v["path"]} HTTP/1.1" {v["status"]} 512 "-" "{ua}" {i} "r@docker" '
                f'"http://10.0.0.3:80" {v["ms"]}ms').encode()
    if fmt == "ingress_nginx":
        return (f'{v["ip"]} - - [{clf}] "GET {v["path"]} HTTP/1.1" {v["status"]} 512 "-" "{ua}" 345 0.{v["ms"]:03d} '
                f'[default-shop-80] [] 10.0.0.9:80 512 0.{v["ms"]:03d} {v["status"]} {i:032x}').encode()
    if fmt == "haproxy_syslog":
        return (f'Jan  1 {t} lb1 haproxy[1]: {v["ip"]}:4000 [01/{MONTH}/2026:{t}.{v["frac"]}] fe be/s1 '
                f'0/0/1/{v["ms"]}/{v["ms"] + 1} {v["status"]} 512 - - ---- 1/1/0/0/0 0/0 "GET {v["path"]} HTTP/1.1"').encode()
    if fmt == "aws_alb":
        return (f'https {iso[:-1]}123Z app/lb/1 {v["ip"]}:4000 10.0.0.1:80 0.000 0.{v["ms"]:03d} 0.000 {v["status"]} '
                f'{v["status"]} 34 366 "GET https://shop.example.com:443{v["path"]} HTTP/1.1" "{ua}" '
                f'ECDHE TLSv1.2 arn:tg "Root=1" "shop.example.com" "arn:cert" 0 {iso} "forward" "-" "-" '
                f'"10.0.0.1:80" "200" "-" "-"').encode()
    if fmt == "envoy_text":
        return (f'[{iso}] "GET {v["path"]} HTTP/1.1" {v["status"]} - 0 512 {v["ms"]} {v["ms"]} "{v["ip"]}" '
                f'"{ua}" "id-{i}" "shop.example.com" "10.0.0.9:80"').encode()
    if fmt == "cri_combined":
        return f"{iso} stdout F ".encode() + _line("combined", i)
    if fmt == "docker_json_combined":
        return orjson.dumps({"log": _line("combined", i).decode() + "\n", "stream": "stdout", "time": iso})
    if fmt == "envoy_json":
        return orjson.dumps({"start_time": iso, "downstream_remote_address": v["ip"] + ":4000", "method": "GET",
                             "authority": "shop.example.com", "path": v["path"], "response_code": v["status"],
                             "duration": v["ms"], "user_agent": ua})
    if fmt == "caddy_json":
        return orjson.dumps({"level": "info", "ts": 1767225600 + i / 20, "msg": "handled request",
                             "request": {"remote_ip": v["ip"], "method": "GET", "host": "shop.example.com",
                                         "uri": v["path"], "headers": {"User-Agent": [ua]}},
                             "duration": v["ms"] / 1000, "status": v["status"]})
    if fmt == "gcp_lb_json":
        return orjson.dumps({"httpRequest": {"requestMethod": "GET", "requestUrl": "https://shop.example.com" + v["path"],
                                             "status": v["status"], "userAgent": ua, "remoteIp": v["ip"],
                                             "latency": f"0.{v['ms']:03d}s"}, "timestamp": iso})
    raise ValueError(fmt)


FORMATS = ("truesli_json", "combined", "combined_xff_list", "traefik_clf", "ingress_nginx", "haproxy_syslog", "aws_alb", "envoy_text",
           "cri_combined", "docker_json_combined", "envoy_json", "caddy_json", "gcp_lb_json")


def _best(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


HOSTILE = {
    # 60 KB lines built to make each family's patterns work hardest: many separators, quotes and brackets
    "clf_head_of_spaces": "1 " * 30_000 + "- - [01/Jan/2026:00:00:00 +0000]",
    "clf_quotes_backslashes": '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "' + '\\"' * 20_000 + " 200 0",
    "clf_xff_of_commas": "1.2.3.4, " * 6_000 + "- - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 0",
    "traefik_tail": '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-" 1' + " 1" * 30_000 + "s",
    "haproxy_quotes": "1.2.3.4:1 [01/Jan/2026:00:00:00.000] f b/s 0/0/0/0/0 200 0 " + '" ' * 30_000 + '"',
    "syslog_sd": "<1>1 2026-01-01T00:00:00Z h a p m " + '[x a="' * 10_000 + " x",
    "envoy_fields": '[2026-01-01T00:00:00.000Z] "GET / HTTP/1.1" 200 - ' + '"x" ' * 15_000,
    "alb_fields": "https 2026-01-01T00:00:00.000000Z lb 1.2.3.4:1 " + "x " * 30_000,
}


def hostile() -> None:
    decoder = Decoder(InputConfig(max_line_bytes=1 << 20))
    print(f"{'hostile 60 KB line':40} {'ms/line':>8}  result")
    for name, line in HOSTILE.items():
        raw = line.encode()
        t = _best(3, lambda: decoder.decode(raw))
        out = decoder.decode(raw)
        print(f"{name:40} {t * 1e3:8.2f}  {out[0] if type(out) is DecodeFailure else 'decoded'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--hostile", action="store_true", help="time adversarial 60 KB lines instead")
    args = ap.parse_args()
    if args.hostile:
        hostile()
        return
    decoder = Decoder(InputConfig())
    decode = decoder.decode
    rows = []
    base = [_line("truesli_json", i) for i in range(args.lines)]
    loads = orjson.loads
    t = _best(3, lambda: [loads(x) for x in base])
    rows.append(("bare orjson.loads (truesli JSON lines)", t, None, args.lines))
    for fmt in FORMATS:
        lines = [_line(fmt, i) for i in range(args.lines)]
        bad = [x for x in lines[:1000] if type(decode(x)) is DecodeFailure]
        if bad:
            raise SystemExit(f"{fmt}: generated line does not decode: {bad[0][:200]!r} → {decode(bad[0])}")
        t = _best(3, lambda: [decode(x) for x in lines])
        batches = [ArrowLines.of([pa.array(lines[i:i + BATCH], pa.large_binary())])
                   for i in range(0, len(lines), BATCH)]
        tb = _best(3, lambda: [decoder.decode_columns(b) for b in batches])
        rows.append((fmt, t, tb, args.lines))
    print(f"{'format':40} {'µs/line':>8} {'lines/s':>11} {'batches µs/line':>16}")
    for name, t, tb, n in rows:
        print(f"{name:40} {t / n * 1e6:8.2f} {n / t:11,.0f} {'' if tb is None else f'{tb / n * 1e6:16.2f}'}")


if __name__ == "__main__":
    main()
