"""Unit tests of the labelled traffic generator (streams.tools.gen)."""

from __future__ import annotations

import io
import ipaddress
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from streams.tools.gen import (
    BROWSER_UAS,
    CGNAT_IP,
    CRAWLER_UAS,
    LABELS,
    TRUTH_LATENCY_THRESHOLDS_MS,
    burst_window_ms,
    default_duration_s,
    generate,
    write_mix,
)

REQUIRED = {
    "ts": str,
    "client_ip": str,
    "method": str,
    "host": str,
    "path": str,
    "status": int,
    "duration_ms": float,
    "user_agent": str,
    "bytes": int,
    "request_id": str,
}
OPTIONAL = {"rate_limited", "synthetic"}
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SCANNER_TOOL_UAS = {
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 (compatible; Nikto/2.5.0)",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
}
BOTISH = ("bot", "crawl", "spider", "http", "python", "curl", "wget", "headless", "synthetic", "probe", "scan")


def _gen(**kw) -> tuple[bytes, dict, list[str]]:
    buf = io.BytesIO()
    labels: list[str] = []
    truth = generate(buf, labels_out=labels, **kw)
    return buf.getvalue(), truth, labels


def _ts_ms(ts: str) -> int:
    return (datetime.fromisoformat(ts) - EPOCH) // timedelta(milliseconds=1)


def _journey(method: str, path: str) -> str | None:
    """Journey membership per the truth contract in the streams.tools.gen docstring."""
    bare = path.split("?", 1)[0]
    if method == "POST" and bare in ("/checkout", "/cart/items"):
        return "checkout"
    if method == "POST" and bare == "/login":
        return "login"
    if method == "GET" and bare == "/search":
        return "search"
    if method == "GET" and (bare == "/" or bare.startswith(("/products/", "/category/"))):
        return "browse"
    return None


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict], dict, list[str]]:
    data, truth, labels = _gen(events=60_000, seed=3, bot_share=0.9)
    return [orjson.loads(line) for line in data.splitlines()], truth, labels


# --- determinism and size ---------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_truth():
    a, ta, la = _gen(events=7_000, seed=42)
    b, tb, lb = _gen(events=7_000, seed=42)
    assert a == b
    assert ta == tb
    assert la == lb


def test_different_seed_gives_different_bytes():
    a, _, _ = _gen(events=7_000, seed=42)
    b, _, _ = _gen(events=7_000, seed=43)
    assert a != b


@pytest.mark.parametrize("events", [0, 1, 2, 17, 255, 256, 257, 5_001])
def test_exact_line_count_and_newline_termination(events):
    data, truth, labels = _gen(events=events, seed=1)
    assert data.count(b"\n") == events
    assert data == b"" or data.endswith(b"\n")
    assert all(data.splitlines())  # no empty line
    assert truth["events"] == events
    assert len(labels) == events


def test_labels_out_is_optional_and_does_not_change_output():
    plain = io.BytesIO()
    truth = generate(plain, events=3_000, seed=9)
    data, truth2, _ = _gen(events=3_000, seed=9)
    assert plain.getvalue() == data
    assert truth == truth2


def test_default_duration_is_about_2000_events_per_minute_and_at_least_10_min():
    assert default_duration_s(0) == 600
    assert default_duration_s(1_000) == 600
    assert default_duration_s(20_000) == 600
    assert default_duration_s(20_001) == 660
    assert default_duration_s(200_000) == 6_000
    assert default_duration_s(1_000_000) == 30_000
    _, truth, _ = _gen(events=200_000 // 100, seed=1)
    assert truth["duration_s"] == 600


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError):
        generate(io.BytesIO(), events=-1, seed=1)
    with pytest.raises(ValueError):
        generate(io.BytesIO(), events=10, seed=1, bot_share=1.5)
    with pytest.raises(ValueError):
        generate(io.BytesIO(), events=10, seed=1, duration_s=0)


# --- record shape ---------------------------------------------------------------------


def test_every_line_has_the_required_fields_with_the_right_types(sample):
    recs, _, labels = sample
    for rec, label in zip(recs, labels, strict=True):
        assert set(REQUIRED) <= rec.keys() <= set(REQUIRED) | OPTIONAL
        for key, typ in REQUIRED.items():
            assert type(rec[key]) is typ, (key, rec)
        assert TS_RE.match(rec["ts"]), rec["ts"]
        ipaddress.ip_address(rec["client_ip"])
        assert rec["method"] in ("GET", "POST")
        assert rec["host"] == "shop.example.com"
        assert rec["path"].startswith("/")
        assert 100 <= rec["status"] <= 599
        assert rec["duration_ms"] >= 0 and round(rec["duration_ms"], 1) == rec["duration_ms"]
        assert rec["bytes"] >= 0
        assert re.fullmatch(r"[0-9a-f]{32}", rec["request_id"])
        assert ("rate_limited" in rec) == (label == "edge_rate_limited")
        if "rate_limited" in rec:
            assert rec["rate_limited"] is True and rec["status"] == 429
        if "synthetic" in rec:
            assert rec["synthetic"] is True and label == "synthetic"


def test_key_order_is_fixed(sample):
    recs, _, _ = sample
    assert list(recs[0])[:10] == list(REQUIRED)


def test_request_ids_are_unique(sample):
    recs, _, _ = sample
    assert len({r["request_id"] for r in recs}) == len(recs)


# --- labels and truth -----------------------------------------------------------------


def test_label_counts_sum_to_events_and_match_the_labelled_stream(sample):
    recs, truth, labels = sample
    assert set(truth["labels"]) == set(LABELS) | {"cgnat_real_user"}
    assert sum(truth["labels"][k] for k in LABELS) == len(recs) == 60_000
    counted = Counter(labels)
    assert {k: counted.get(k, 0) for k in LABELS} == {k: truth["labels"][k] for k in LABELS}


def test_label_shares_at_bot_share_0_9_are_exact():
    _, truth, _ = _gen(events=100_000, seed=5, bot_share=0.9)
    assert {k: truth["labels"][k] for k in LABELS} == {
        "real_user": 10_000,
        "crawler": 72_000,
        "scanner": 2_700,
        "credential_stuffing": 1_800,
        "edge_rate_limited": 3_600,
        "health_check": 5_400,
        "background_job": 2_700,
        "synthetic": 1_800,
    }


def test_truth_header_fields(sample):
    _, truth, _ = sample
    assert truth["seed"] == 3
    assert truth["events"] == 60_000
    assert truth["bot_share"] == 0.9
    assert truth["start_ms"] == 1767225600000
    assert truth["duration_s"] == 1_800
    assert truth["cgnat_ip"] == CGNAT_IP == "100.64.12.34"
    assert set(truth["journeys"]) == {"checkout", "login", "search", "browse", "all"}
    assert set(truth["journeys"]["all"]["slos"]) == {"availability"}


def test_truth_equals_recount_from_labelled_stream(sample):
    recs, truth, labels = sample
    expect: dict[str, dict] = {
        j: {"availability": {"good": 0, "total": 0}, "latency": {"good": 0, "total": 0}}
        for j in TRUTH_LATENCY_THRESHOLDS_MS
    }
    all_good = all_total = cgnat = 0
    for rec, label in zip(recs, labels, strict=True):
        if label != "real_user":
            continue
        ok = rec["status"] < 500
        all_total += 1
        all_good += ok
        cgnat += rec["client_ip"] == CGNAT_IP
        j = _journey(rec["method"], rec["path"])
        if j is None:
            assert rec["path"].startswith("/static/")
            continue
        slos = expect[j]
        slos["availability"]["total"] += 1
        slos["availability"]["good"] += ok
        slos["latency"]["total"] += 1
        slos["latency"]["good"] += rec["duration_ms"] <= TRUTH_LATENCY_THRESHOLDS_MS[j]
    for j, slos in expect.items():
        assert truth["journeys"][j]["slos"] == slos, j
    assert truth["journeys"]["all"]["slos"]["availability"] == {"good": all_good, "total": all_total}
    assert all_total == truth["labels"]["real_user"]
    assert cgnat == truth["labels"]["cgnat_real_user"] > 0
    # CGNAT is only ever a real user
    assert all(lab == "real_user" for r, lab in zip(recs, labels) if r["client_ip"] == CGNAT_IP)


def test_truth_is_not_trivial(sample):
    _, truth, _ = sample
    for j in ("checkout", "login", "search", "browse"):
        for slo in ("availability", "latency"):
            c = truth["journeys"][j]["slos"][slo]
            assert 0 < c["good"] < c["total"], (j, slo, c)
    all_c = truth["journeys"]["all"]["slos"]["availability"]
    assert 0.98 < all_c["good"] / all_c["total"] < 0.999


def test_latency_thresholds_constant():
    assert TRUTH_LATENCY_THRESHOLDS_MS == {"checkout": 800, "login": 300, "search": 500, "browse": 400}


def test_real_user_journey_mix_and_latency_shape(sample):
    recs, _, labels = sample
    real = [r for r, lab in zip(recs, labels) if lab == "real_user"]
    mix = Counter(_journey(r["method"], r["path"]) or "assets" for r in real)
    n = len(real)
    for j, share in {"browse": 0.45, "search": 0.15, "login": 0.12, "checkout": 0.10, "assets": 0.18}.items():
        assert abs(mix[j] / n - share) < 0.02, (j, mix[j] / n)
    durs = sorted(r["duration_ms"] for r in real)
    assert 100 <= durs[n // 2] <= 140
    assert 0.015 < sum(d > 800 for d in durs) / n < 0.045


# --- traffic classes ------------------------------------------------------------------


def test_bot_share_zero_gives_only_real_users():
    data, truth, labels = _gen(events=20_000, seed=8, bot_share=0.0)
    assert set(labels) == {"real_user"}
    assert truth["labels"]["real_user"] == 20_000
    assert all(truth["labels"][k] == 0 for k in LABELS if k != "real_user")
    assert b"rate_limited" not in data and b"synthetic" not in data
    assert truth["journeys"]["all"]["slos"]["availability"]["total"] == 20_000
    uas = {orjson.loads(line)["user_agent"] for line in data.splitlines()}
    assert uas <= set(BROWSER_UAS)


def test_bot_share_one_gives_no_real_users():
    _, truth, labels = _gen(events=5_000, seed=8, bot_share=1.0)
    assert "real_user" not in labels
    assert truth["journeys"]["all"]["slos"]["availability"] == {"good": 0, "total": 0}


def test_browser_ua_pool_is_realistic_and_not_botlike():
    assert len(set(BROWSER_UAS)) >= 20
    for ua in BROWSER_UAS:
        assert ua.startswith("Mozilla/5.0 (")
        assert not any(tok in ua.lower() for tok in BOTISH), ua
    families = ("Chrome/", "Firefox/", "Version/", "Edg/")
    assert all(any(f in ua for ua in BROWSER_UAS) for f in families)
    assert any("Mobile" in ua for ua in BROWSER_UAS)
    assert not set(BROWSER_UAS) & set(CRAWLER_UAS)


def test_real_user_addresses_avoid_reserved_and_bot_ranges(sample):
    recs, _, labels = sample
    banned = [ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
        "203.0.113.0/24", "185.220.101.0/24")]
    real_ips = {r["client_ip"] for r, lab in zip(recs, labels) if lab == "real_user"}
    other_ips = {r["client_ip"] for r, lab in zip(recs, labels) if lab != "real_user"}
    assert not real_ips & other_ips
    v6 = 0
    for ip in real_ips - {CGNAT_IP}:
        addr = ipaddress.ip_address(ip)
        if addr.version == 6:
            v6 += 1
            assert addr in ipaddress.ip_network("2001:db8::/32")
        else:
            assert not any(addr in net for net in banned), ip
    assert len(real_ips) > 4_000
    assert 0.02 < v6 / len(real_ips) < 0.09


def test_class_signatures(sample):
    recs, _, labels = sample
    by: dict[str, list[dict]] = {}
    for r, lab in zip(recs, labels):
        by.setdefault(lab, []).append(r)
    assert set(by) == set(LABELS)

    crawl = by["crawler"]
    assert {r["user_agent"] for r in crawl} <= set(CRAWLER_UAS)
    assert 150 <= len({r["client_ip"] for r in crawl}) <= 256
    assert all(r["method"] == "GET" for r in crawl)
    assert sum(r["status"] != 200 for r in crawl) / len(crawl) < 0.005

    scan = by["scanner"]
    tools = [r for r in scan if r["user_agent"] in SCANNER_TOOL_UAS]
    probes = [r for r in scan if r["client_ip"].startswith("185.220.101.") and r["client_ip"] != "185.220.101.77"]
    enum = [r for r in scan if r["client_ip"] == "185.220.101.77"]
    assert len(tools) + len(probes) + len(enum) == len(scan)
    for part in (tools, probes, enum):
        assert 0.25 < len(part) / len(scan) < 0.42
    assert {r["path"] for r in probes} <= {
        "/.env", "/wp-login.php", "/phpmyadmin/index.php", "/.git/config", "/cgi-bin/test.cgi", "/wp-admin/setup.php"}
    assert all(r["status"] == 404 and r["user_agent"] in BROWSER_UAS for r in probes + enum)
    assert all(re.fullmatch(r"/old/[0-9a-f]+\.html", r["path"]) for r in enum)
    assert len({r["path"] for r in enum}) == len(enum)

    stuff = by["credential_stuffing"]
    assert len({r["client_ip"] for r in stuff}) == 4
    assert all(ipaddress.ip_address(r["client_ip"]) in ipaddress.ip_network("203.0.113.0/24") for r in stuff)
    assert all((r["method"], r["path"]) == ("POST", "/login") and r["status"] in (200, 401) for r in stuff)
    assert all(r["user_agent"] in BROWSER_UAS for r in stuff)
    assert sum(r["status"] == 401 for r in stuff) / len(stuff) > 0.95

    rl = by["edge_rate_limited"]
    assert 10 <= len({r["client_ip"] for r in rl}) <= 20
    assert all(r["status"] == 429 and r["user_agent"] in BROWSER_UAS for r in rl)

    health = by["health_check"]
    assert all(r["user_agent"] == "kube-probe/1.29" and r["method"] == "GET" for r in health)
    assert {r["path"] for r in health} == {"/healthz", "/readyz"}
    assert all(r["status"] == 200 and r["client_ip"].startswith("10.") for r in health)

    bg = by["background_job"]
    assert all(r["user_agent"] == "acme-cron/2.3" and r["method"] == "POST" for r in bg)
    assert {r["path"] for r in bg} == {"/internal/jobs/reindex", "/internal/jobs/send-emails"}
    assert {r["status"] for r in bg} == {200, 500}
    assert 0.05 < sum(r["status"] == 500 for r in bg) / len(bg) < 0.15
    assert all(r["client_ip"].startswith("10.") for r in bg)

    syn = by["synthetic"]
    dd = [r for r in syn if r["user_agent"] == "Datadog/Synthetics"]
    flagged = [r for r in syn if r.get("synthetic") is True]
    assert len(dd) + len(flagged) == len(syn)
    assert not any("synthetic" in r for r in dd)
    assert all(r["user_agent"] in BROWSER_UAS for r in flagged)
    assert 0.4 < len(dd) / len(syn) < 0.6
    assert {r["path"] for r in syn} == {"/", "/search?q=probe"}
    assert all(r["method"] == "GET" for r in syn)


def test_flags_only_on_their_classes(sample):
    recs, _, labels = sample
    for r, lab in zip(recs, labels):
        if "synthetic" in r:
            assert lab == "synthetic"
        if "rate_limited" in r:
            assert lab == "edge_rate_limited"


# --- time -----------------------------------------------------------------------------


def _base_times(truth: dict, labels: list[str]) -> list[int]:
    """Expected base ts per line, per the timing contract in the streams.tools.gen docstring."""
    start, dur_ms = truth["start_ms"], truth["duration_s"] * 1000
    n_stuff = labels.count("credential_stuffing")
    m = len(labels) - n_stuff
    lo, hi = burst_window_ms(start, truth["duration_s"])
    out, k, s = [], 0, 0
    for lab in labels:
        if lab == "credential_stuffing":
            out.append(lo + (2 * s + 1) * (hi - lo) // (2 * n_stuff))
            s += 1
        else:
            out.append(start + k * dur_ms // m)
            k += 1
    return out


# (100_000, 60_000): the burst holds more stuffing lines than uniform lines fall into its window
@pytest.mark.parametrize("events,duration_s", [(60_000, None), (100_000, 60_000), (2_000, 30)])
def test_timestamps_jitter_at_most_2s(events, duration_s, sample):
    if events == 60_000:
        recs, truth, labels = sample
        ts = [_ts_ms(r["ts"]) for r in recs]
    else:
        data, truth, labels = _gen(events=events, seed=10, duration_s=duration_s)
        ts = [_ts_ms(line[7:31].decode()) for line in data.splitlines()]  # '{"ts":"' is 7 bytes
    start, end = truth["start_ms"], truth["start_ms"] + truth["duration_s"] * 1000
    offs = [t - b for t, b in zip(ts, _base_times(truth, labels), strict=True)]
    assert start <= min(ts) and max(ts) < end
    assert max(abs(o) for o in offs) <= 2_000
    assert min(offs) < -1_500 and max(offs) > 1_500  # the jitter is really used
    # file order follows time: slightly out of order, never by much more than the jitter
    running_max, worst = ts[0], 0
    for t in ts:
        worst = max(worst, running_max - t)
        running_max = max(running_max, t)
    assert 0 < worst <= 4_000 + truth["duration_s"] * 1000 // len(ts) + 1


def test_non_stuffing_lines_are_uniform_in_file_order(sample):
    recs, truth, labels = sample
    per_minute: Counter[int] = Counter()
    for r, lab in zip(recs, labels):
        if lab != "credential_stuffing":
            per_minute[(_ts_ms(r["ts"]) - truth["start_ms"]) // 60_000] += 1
    m = len(recs) - truth["labels"]["credential_stuffing"]
    expect = m / (truth["duration_s"] / 60)
    assert len(per_minute) == truth["duration_s"] // 60
    assert all(abs(c - expect) <= 70 for c in per_minute.values()), per_minute


def test_custom_start_and_duration():
    data, truth, _ = _gen(events=1_000, seed=2, start_ms=1_700_000_000_123, duration_s=120)
    ts = [_ts_ms(orjson.loads(line)["ts"]) for line in data.splitlines()]
    assert truth["start_ms"] == 1_700_000_000_123 and truth["duration_s"] == 120
    assert min(ts) >= 1_700_000_000_123 and max(ts) < 1_700_000_000_123 + 120_000
    assert orjson.loads(data.splitlines()[0])["ts"].startswith("2023-11-14T22:13:")


@pytest.mark.parametrize("events,duration_s", [(60_000, None), (100_000, 60_000), (50_000, 200), (5_000, 3)])
def test_credential_stuffing_burst_lies_within_its_5_minute_window(events, duration_s):
    data, truth, labels = _gen(events=events, seed=4, duration_s=duration_s)
    lo, hi = burst_window_ms(truth["start_ms"], truth["duration_s"])
    dur_ms = truth["duration_s"] * 1000
    assert lo == truth["start_ms"] + dur_ms * 2 // 5
    assert hi - lo == min(300_000, dur_ms - dur_ms * 2 // 5)
    lines = data.splitlines()
    stuff = [orjson.loads(lines[i]) for i, lab in enumerate(labels) if lab == "credential_stuffing"]
    stuff_ts = sorted(_ts_ms(r["ts"]) for r in stuff)
    assert len(stuff_ts) == truth["labels"]["credential_stuffing"] == round(events * 0.9 * 0.02)
    assert lo <= stuff_ts[0] and stuff_ts[-1] < hi
    # evenly spread: covers the window, no gap above the mean spacing + 2x jitter
    mean_gap = (hi - lo) / len(stuff_ts)
    assert stuff_ts[0] - lo <= mean_gap + 2_000 and hi - stuff_ts[-1] <= mean_gap + 2_000
    assert max(b - a for a, b in zip(stuff_ts, stuff_ts[1:])) <= mean_gap + 4_001
    # nothing else is (burst-shaped) POST /login from 203.0.113.0/24
    assert not any(b'"client_ip":"203.0.113.' in line for line, lab in zip(lines, labels)
                   if lab != "credential_stuffing")


@pytest.mark.parametrize("bot_share", [0.9, 0.0])
def test_cgnat_stays_under_60_requests_per_minute(bot_share):
    buf = io.BytesIO()
    truth = generate(buf, events=200_000, seed=6, bot_share=bot_share)
    needle = b'"client_ip":"' + CGNAT_IP.encode() + b'"'
    per_minute: Counter[int] = Counter()
    for line in buf.getvalue().splitlines():
        if needle in line:
            per_minute[_ts_ms(orjson.loads(line)["ts"]) // 60_000] += 1
    assert sum(per_minute.values()) == truth["labels"]["cgnat_real_user"]
    assert truth["labels"]["cgnat_real_user"] > 0
    assert max(per_minute.values()) < 60
    if bot_share == 0.9:  # 3 % of real-user traffic
        share = truth["labels"]["cgnat_real_user"] / truth["labels"]["real_user"]
        assert 0.025 < share < 0.035


# --- write_mix --------------------------------------------------------------------------


def test_write_mix_writes_stream_and_pretty_truth(tmp_path):
    out, truth_path = tmp_path / "req.jsonl", tmp_path / "truth.json"
    truth = write_mix(str(out), events=2_500, seed=12, bot_share=0.9, truth_path=str(truth_path))
    data, expect, _ = _gen(events=2_500, seed=12, bot_share=0.9)
    assert out.read_bytes() == data
    assert truth == expect
    text = truth_path.read_text()
    assert text.startswith("{\n  ") and text.endswith("\n")
    assert orjson.loads(text) == expect


def test_write_mix_without_truth_path(tmp_path):
    out = tmp_path / "req.jsonl"
    truth = write_mix(str(out), events=100, seed=1, bot_share=0.5)
    assert out.read_bytes().count(b"\n") == 100
    assert truth["labels"]["real_user"] == 50
    assert list(tmp_path.iterdir()) == [out]


def test_write_mix_dash_means_stdout(capfdbinary):
    truth = write_mix("-", events=50, seed=1, bot_share=0.9)
    captured = capfdbinary.readouterr().out
    data, expect, _ = _gen(events=50, seed=1, bot_share=0.9)
    assert captured == data
    assert truth == expect
