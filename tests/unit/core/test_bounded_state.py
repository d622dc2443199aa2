"""Bounded state and cardinality (DESIGN §3.5), with more distinct IPs, paths and user agents than any
cache holds: per-IP state never exceeds ``state.max_tracked_ips``, every cache keyed by input stays at
its limit, and every exported label — window counters, remote-write series, /metrics — comes from the
configured journeys, SLOs and reasons, never from a raw path, IP or user agent.

The 1,000,000-IP / 1,000,000-path memory figure is a benchmark (scripts/bench memory, docs/benchmarks.md);
these tests assert the bounds that make it hold, on sizes, not on time.
"""

from __future__ import annotations

import functools
from pathlib import Path

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import streams.core.decode as decode_mod
import streams.core.filters as filters_mod
import streams.core.filters.bot_ua as bot_ua
import streams.core.filters.scanner as scanner_mod
import streams.core.journeys as journeys_mod
import streams.core.pipeline as pipeline_mod
import streams.core.timeparse as timeparse_mod
from streams.config import config_from_dict
from streams.core.decode import normalize_ip
from streams.core.filters.bot_ua import BotUaCheck
from streams.core.filters.ipstate import IpStateStore
from streams.core.filters.scanner import ScannerCheck
from streams.core.merge import CounterBook
from streams.core.pipeline import Pipeline
from streams.live.metrics import render
from streams.sinks.cumulative import CumulativeExporter
from streams.sinks.series import counter_samples
from streams.live.stage_a import StageAStats
from tests.unit.helpers import BROWSER, T0_MS

ROOT = Path(__file__).resolve().parents[3]
MAX_IPS = 1_000
RECORDS = 120_000   # > every input-keyed cache (routes 50,000; user agents 100,000)
BATCH = 2_000
MALFORMED = b'{"ts": "2026-01-01T00:00:01Z", "client_ip": '


@pytest.fixture(scope="module")
def config():
    doc = yaml.safe_load((ROOT / "examples" / "truesli.yaml").read_text())
    doc["state"] = {"max_tracked_ips": MAX_IPS, "ip_ttl_s": 100_000}
    doc["exclusions"].append({"reason": "uptime", "user_agent_regex": r"(?i)uptime-\d+x$"})
    doc["filters"]["bot_ua"]["patterns"] = [r"(a+)+$", r"(?i)my-crawler/\d+"]
    return config_from_dict(doc)


def _ip(n: int) -> str:
    return f"11.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _record(n: int) -> bytes:
    """Record n: a distinct IP, path and user agent each; the kind of traffic rotates with n % 10."""
    kind = n % 10
    ts = T0_MS + n * 5  # 600 s of event time: ten 60 s windows
    method, path, status, ua = "GET", f"/x/{n}", 200, f"{BROWSER} build/{n}"
    if kind == 0:
        path, ua = f"/products/{n}", f"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) r{n}"
    elif kind == 1:
        path, ua = "/search", f"sqlmap/1.{n}"
    elif kind == 2:
        path = "/health"
    elif kind == 3:
        method, path = "POST", f"/checkout/{n}"
    elif kind == 4:
        path = f"/products/{n}"
    elif kind == 5:
        method, path, status = "POST", "/login", 200 if n % 20 else 401
    elif kind == 6:
        path, status = "/search", 503 if n % 7 == 0 else 200
    elif kind == 7 and n % 1000 == 7:
        return MALFORMED
    return orjson.dumps({"ts": ts, "client_ip": _ip(n), "method": method, "path": f"{path}?session={n}",
                         "status": status, "duration_ms": n % 900, "user_agent": ua})


@pytest.fixture(scope="module")
def run(config):
    """One pipeline over RECORDS records; the per-IP state size after every batch."""
    normalize_ip.cache_clear()
    pipeline = Pipeline(config)
    sizes = []
    counters = []
    for start in range(0, RECORDS, BATCH):
        out = pipeline.process([_record(n) for n in range(start, start + BATCH)])
        out.tally.check_conservation()
        counters += out.counters
        sizes.append(len(pipeline.filters.store))
    counters += pipeline.flush().counters
    return pipeline, sizes, counters


def _reached_state(n: int) -> bool:
    """Records that reach the per-IP filters: not excluded, not a bot by user agent, decodable."""
    return n % 10 not in (0, 2) and not (n % 10 == 7 and n % 1000 == 7)


def test_per_ip_state_stays_at_its_maximum(run):
    pipeline, sizes, _ = run
    store = pipeline.filters.store
    reached = sum(1 for n in range(RECORDS) if _reached_state(n))
    assert max(sizes) == MAX_IPS and sizes[-1] == MAX_IPS
    assert len(store) == MAX_IPS
    assert store.evicted == reached - MAX_IPS
    # The survivors are exactly the most recently seen IPs, oldest first.
    assert [ip for ip, _ in store.items()] == [_ip(n) for n in range(RECORDS) if _reached_state(n)][-MAX_IPS:]


def test_every_input_keyed_cache_is_bounded(run):
    pipeline, _, _ = run
    router = pipeline.router
    [bot] = [f.__self__ for _, f in pipeline.filters._stateless if isinstance(f.__self__, BotUaCheck)]
    [scan] = [f.__self__ for _, f in pipeline.filters._stateful if isinstance(f.__self__, ScannerCheck)]
    # The batch core decides routes per batch over its distinct values (no cache); the per-record router's
    # cache (user reports, the oracle) stays bounded.
    assert len(router._route_cache) <= journeys_mod._CACHE_LIMIT
    assert 0 < len(router._ua_cache) <= journeys_mod._CACHE_LIMIT
    assert 0 < len(bot._cache) <= bot_ua._CACHE_LIMIT
    assert 0 < len(scan._ua_cache) <= scanner_mod._CACHE_LIMIT
    assert 0 < len(pipeline.filters._ua_verdicts) <= filters_mod._UA_CACHE_LIMIT
    assert 0 < len(pipeline._net_cache) <= pipeline_mod._NET_CACHE_LIMIT
    assert len(decode_mod._HOST_CACHE) <= decode_mod._HOST_CACHE_LIMIT
    assert len(timeparse_mod.SECOND_MS_CACHE) <= timeparse_mod._CACHE_LIMIT
    assert normalize_ip.cache_info().currsize <= normalize_ip.cache_info().maxsize == 1 << 16


def test_the_ip_store_never_holds_more_than_its_maximum_at_any_touch():
    store = IpStateStore(100, 3600)
    for n in range(5_000):
        store.touch(_ip(n), T0_MS + n)
        assert len(store) == min(n + 1, 100)
    assert store.evicted == 4_900


def test_404_evidence_of_one_ip_is_bounded_by_the_threshold():
    # One IP scanning 5,000 distinct paths: the evidence kept is at most threshold + 1 paths per bucket.
    cfg = config_from_dict({"filters": {"scanner": {"distinct_404_threshold": 20, "window_s": 600,
                                                    "cooldown_s": 1}},
                            "state": {"ip_ttl_s": 1200}})
    pipeline = Pipeline(cfg)
    largest = 0
    for n in range(5_000):
        line = orjson.dumps({"ts": T0_MS + n * 100, "client_ip": "203.0.113.7", "method": "GET",
                             "path": f"/guess/{n}", "status": 404, "user_agent": BROWSER})
        pipeline.process([line])
        x = dict(pipeline.filters.store.items())["203.0.113.7"].x
        largest = max(largest, len(x.nf_paths or ()) + len(x.nf_prev or ()))
    # The 21st distinct 404 flags the IP and drops its evidence; every later 404 extends the cooldown
    # without collecting paths, so no more than 20 are ever held (the structural cap is 2 × 21).
    assert largest == 20
    assert (pipeline.tally.counted, pipeline.tally.filtered) == (20, {"scanner": 4_980})


def _configured(config):
    journeys = {j.name for j in config.journeys}
    slos = {s.name for j in config.journeys for s in j.slos}
    return journeys, slos


def test_window_counters_carry_only_configured_labels(config, run):
    pipeline, _, counters = run
    journeys, _ = _configured(config)
    pairs = {(j.name, s.name) for j in config.journeys for s in j.slos}
    merged = merge_counters(counters)
    assert {(c.journey, c.slo) for c in merged} == pairs
    assert {r for c in merged for r in c.filtered} == {"crawler", "scanner"}
    assert {c.window_start_ms for c in merged} == {T0_MS + 60_000 * k for k in range(10)}
    assert len(merged) == len(pairs) * 10
    tally = pipeline.tally
    assert set(tally.filtered) == {"crawler", "scanner"}
    assert set(tally.excluded) == {"health"}
    assert tally.dead_lettered == {"malformed_json": RECORDS // 1000}
    assert tally.consumed == RECORDS


def test_remote_write_series_carry_only_configured_labels(config, run):
    _, _, counters = run
    journeys, slos = _configured(config)
    merged = merge_counters(counters)
    samples = list(counter_samples(merged))
    exporter = CumulativeExporter(0, 21_600_000, {j.name: j.slos[0].name for j in config.journeys})
    samples_live = exporter.observe(counters)
    for group, extra in ((samples, {}), (samples_live, {"partition": {"0"}})):
        values: dict[str, set[str]] = {}
        for labels, _, _ in group:
            for k, v in labels.items():
                values.setdefault(k, set()).add(v)
        assert values == {"__name__": {"truesli_sli_events_total", "truesli_raw_events_total",
                                       "truesli_filtered_events_total"},
                          "journey": journeys, "slo": slos, "result": {"good", "bad"},
                          "reason": {"crawler", "scanner"}, **extra}
        series = {tuple(sorted(labels.items())) for labels, _, _ in group}
        # journeys × SLOs × {good, bad} × {sli, raw} + journeys × filter reasons: nothing grows with input.
        assert len(series) <= len(journeys) * 2 * 2 * 2 + len(journeys) * 2


def test_metrics_labels_are_reasons_and_partitions_only(run):
    pipeline, _, _ = run
    stats = StageAStats(tallies={0: pipeline.tally, 1: pipeline.tally}, lag={0: 0, 1: 3},
                        state_ips={0: len(pipeline.filters.store)})
    values: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(render(stats).decode()):
        for sample in family.samples:
            for k, v in sample.labels.items():
                values.setdefault(k, set()).add(v)
    assert values == {"reason": {"crawler", "scanner", "health", "malformed_json"}, "partition": {"0", "1"}}


def merge_counters(counters):
    book = CounterBook()
    book.add(counters)
    return book.merged()


@functools.cache
def _hostile_ips() -> list[str]:
    return [_ip(n) for n in range(RECORDS) if _reached_state(n)]


def test_no_label_is_a_raw_path_ip_or_user_agent(config, run):
    # Belt and braces over the exact sets above: not one exported value looks like input.
    pipeline, _, counters = run
    ips = set(_hostile_ips())
    labels = [v for labels, _, _ in counter_samples(merge_counters(counters)) for v in labels.values()]
    assert not [v for v in labels if v in ips or v.startswith("/") or "Mozilla" in v or "sqlmap" in v]
