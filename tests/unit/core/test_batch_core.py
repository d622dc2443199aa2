"""The batch core against the record-at-a-time oracle: identical outputs, batch for batch, and identical state.

Every test runs the product ``Pipeline`` (the batch core) and ``OraclePipeline`` (the per-record walk,
tests/support/oracle_pipeline.py) over the same batches with the same clock and demands equal counters,
dead letters, tallies, flags and verdicts after every batch, and equal per-IP state (values, touch order,
change sequence numbers) at the end.
"""

from __future__ import annotations

import copy
import io
import random

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config import Config, config_from_dict
from streams.core.pipeline import Pipeline
from streams.tools.gen import generate
from tests.support.oracle_pipeline import OraclePipeline
from tests.unit.core.test_batch_decode import MANGLED, SUSPECT
from tests.unit.helpers import BROWSER, GOOGLEBOT, T0_MS, req

EXAMPLE = yaml.safe_load(open("examples/truesli.yaml"))
NOW = T0_MS + 7_200_000  # two hours after the generator's first request


def _mix(events: int, seed: int, bot_share: float = 0.9) -> list[bytes]:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=bot_share)
    return buf.getvalue().splitlines()


def _values(ip: str, st) -> tuple:
    return (ip, st.seq, st.last_ms, st.rate_idx, st.rate_cur, st.rate_prev, st.rate_until, st.rate_rule,
            None if st.x is None else tuple(getattr(st.x, f) for f in st.x.__slots__))


def _state(p: Pipeline) -> list:
    return [_values(ip, st) for ip, st in p.filters.store.items()]


def _changes(p: Pipeline) -> tuple:
    evicted, touched = p.filters.store.take_changes()
    return evicted, [_values(ip, st) for ip, st in touched]


def _check(config: Config, batches: list[list], *, now: int | None = NOW, step_ms: int = 1_000,
           track: bool = False, verdicts: bool = True) -> dict:
    got = Pipeline(config, collect_verdicts=verdicts, track_state_changes=track)
    want = OraclePipeline(config, collect_verdicts=verdicts, track_state_changes=track)
    summary = {"counted": 0, "flags": 0, "dead": 0, "late": 0}
    for k, batch in enumerate(batches):
        t = None if now is None else now + k * step_ms
        a, b = got.process(batch, t), want.process(batch, t)
        assert a.counters == b.counters, k
        assert a.dead_letters == b.dead_letters, k
        assert a.tally == b.tally, k
        assert a.flags == b.flags, k
        assert a.verdicts == b.verdicts, k
        if track:
            assert _changes(got) == _changes(want), k
        summary["counted"] += a.tally.counted
        summary["flags"] += len(a.flags)
        summary["dead"] += len(a.dead_letters)
        summary["late"] += a.tally.late
    a, b = got.flush(), want.flush()
    assert a.counters == b.counters
    assert _state(got) == _state(want)
    assert got.tally == want.tally
    got.tally.check_conservation()
    return summary


def _batches(lines: list, size: int) -> list[list]:
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def _config(**changes) -> Config:
    data = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        node = data
        *head, last = dotted.split("__")
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    return config_from_dict(data)


@pytest.mark.parametrize("size", [1, 997, 5_000])
def test_generated_mix_default_config(size: int) -> None:
    s = _check(Config(), _batches(_mix(12_000, 3), size))
    assert s["counted"] > 0


def test_generated_mix_example_config_with_state_tracking() -> None:
    s = _check(_config(), _batches(_mix(30_000, 5), 2_500), track=True)
    assert s["counted"] > 0 and s["flags"] > 0


def test_every_rule_fires_with_tight_thresholds() -> None:
    config = _config(filters__rate_limited__max_requests=5, filters__scanner__distinct_404_threshold=1,
                     filters__credential_stuffing__max_failures=1, filters__credential_stuffing__max_attempts=2)
    s = _check(config, _batches(_mix(20_000, 9, bot_share=0.5), 1_500), track=True)
    assert s["flags"] > 0  # the rules fired: the walk, not only the quiet path, was compared


def test_eviction_walks_the_whole_batch() -> None:
    config = _config(state__max_tracked_ips=50)
    _check(config, _batches(_mix(8_000, 2, bot_share=0.3), 800), track=True)


def test_rules_disabled_one_at_a_time() -> None:
    lines = _mix(6_000, 4, bot_share=0.5)
    for name in ("rate_limited", "scanner", "credential_stuffing", "bot_ua", "synthetic"):
        _check(_config(**{f"filters__{name}__enabled": False}), _batches(lines, 1_000))


def test_keep_classes_and_ip_lists() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["journeys"][0]["keep"] = ["crawler", "automation"]
    data["filters"]["bot_ua"]["keep"] = ["monitoring"]
    lines = _mix(8_000, 6)
    _check(config_from_dict(data), _batches(lines, 1_000))
    data["filters"]["ip_deny"]["deny"] = ["34.0.0.0/8"]
    data["filters"]["synthetic"]["ips"] = ["160.79.104.0/24"]
    _check(config_from_dict(data), _batches(lines, 1_000))


def test_trusted_proxies_and_forwarded_for() -> None:
    lines = []
    for i in range(600):
        lines.append(req(ts=T0_MS + i * 500, ip=f"10.0.0.{i % 3}", forwarded_for=f"203.0.113.{i % 40}, 10.0.0.9",
                         path=["/", "/login", "/cart", "/wp-login.php"][i % 4], status=[200, 401, 404, 500][i % 4]))
    _check(_config(input__trusted_proxies=["10.0.0.0/8"]), _batches(lines, 97))


def test_late_too_late_and_future_records() -> None:
    lines = _mix(20_000, 8)
    rng = random.Random(1)
    rng.shuffle(lines)  # event time out of order: late records, too-late records, re-emissions
    config = _config(windows__allowed_lateness_s=5, windows__retain_closed_s=120)
    s = _check(config, _batches(lines, 2_000), now=T0_MS + 600_000)
    assert s["late"] > 0 and s["dead"] > 0


def test_idle_clock_and_empty_batches() -> None:
    lines = _mix(3_000, 10)
    batches = _batches(lines, 500)
    batches[2:2] = [[], []]
    _check(_config(windows__idle_timeout_s=1), batches, step_ms=60_000)


def test_mangled_and_suspect_lines_between_clean_ones() -> None:
    lines = _mix(6_000, 12)
    bad = [line for line, _ in MANGLED + SUSPECT] + [b"", b"\xff\xfe", b"x" * 70_000, "text, not bytes",
                                                      {"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4"}]
    mixed = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i % 40 == 0:
            mixed.append(bad[(i // 40) % len(bad)])
    s = _check(_config(), _batches(mixed, 1_000))
    assert s["dead"] > 0 and s["counted"] > 0


def test_latency_buckets_on_the_thresholds() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["journeys"][0]["slos"].append({"name": "fast", "kind": "latency", "threshold_ms": 10, "objective": 0.9})
    config = config_from_dict(data)
    lines = [req(ts=T0_MS + i * 10, ip=f"11.0.{i % 7}.1", path="/", status=[200, 503, 404][i % 3],
                 duration_ms=d) for i, d in enumerate([0, 9.999, 10, 10.000001, 299.9, 300, 300.5, 1e9, None] * 40)]
    _check(config, _batches(lines, 50))


def test_without_verdicts_the_sli_path_is_the_same() -> None:
    _check(_config(), _batches(_mix(10_000, 13), 2_000), verdicts=False)


def test_scanner_and_bot_user_agents_mixed() -> None:
    uas = [BROWSER, GOOGLEBOT, "sqlmap/1.7", "", "-", "curl/8.0", "Mozilla/5.0 zgrab/0.x", "kube-probe/1.27"]
    paths = ["/", "/.env", "/wp-admin/", "/products/1", "/health", "/login", "/api/v1/x?y=1", "/a/../.git/config"]
    rng = random.Random(3)
    lines = [req(ts=T0_MS + i * 50, ip=f"11.1.{rng.randrange(40)}.{rng.randrange(50)}", ua=rng.choice(uas),
                 path=rng.choice(paths), method=rng.choice(["GET", "POST"]), status=rng.choice([200, 401, 404, 429]))
             for i in range(3_000)]
    s = _check(_config(), _batches(lines, 250), track=True)
    assert s["flags"] > 0 and s["counted"] > 0


_LINE = st.builds(
    lambda t, ip, path, status, ua, method, dur: req(ts=T0_MS + t, ip=ip, path=path, status=status, ua=ua,
                                                      method=method, duration_ms=dur),
    st.integers(0, 600_000), st.sampled_from(["11.0.0.1", "11.0.0.2", "2001:db8::1", "11.0.1.1"]),
    st.sampled_from(["/", "/login", "/cart", "/.env", "/health", "/x/y"]), st.sampled_from([200, 401, 404, 429, 503]),
    st.sampled_from([BROWSER, GOOGLEBOT, "", "sqlmap/1.0", "python-requests/2.31"]),
    st.sampled_from(["GET", "POST"]), st.one_of(st.none(), st.floats(0, 2_000)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(_LINE, st.sampled_from([line for line, _ in MANGLED]), st.binary(max_size=30)),
                         max_size=30), min_size=1, max_size=5))
def test_arbitrary_batches_equal_the_oracle(batches: list[list[bytes]]) -> None:
    config = _config(filters__rate_limited__max_requests=3, filters__scanner__distinct_404_threshold=1,
                     windows__allowed_lateness_s=1, windows__retain_closed_s=60)
    _check(config, batches, track=True)


@pytest.mark.parametrize("keep", [[], ["scanner"]])
def test_edge_flags_and_429s_are_settled_without_a_walk(keep: list[str]) -> None:
    """Requests the rate rule drops outright (edge flag, 429) are answered without walking their IP; the
    outputs and the per-IP state equal the oracle's: IPs with only such requests, with them between
    ordinary ones, beside 404 scans (kept by a journey or not) and logins, and over a cooldown."""
    data = copy.deepcopy(EXAMPLE)
    data["journeys"][0]["keep"] = keep  # checkout
    data["filters"]["rate_limited"]["max_requests"] = 6
    config = config_from_dict(data)
    rng = random.Random(11)
    lines = []
    for i in range(4_000):
        ip = f"11.2.{rng.randrange(6)}.{rng.randrange(20)}"
        method, path = rng.choice([("POST", "/checkout"), ("POST", "/login"), ("GET", "/search"), ("GET", "/x/.env"),
                                   ("GET", "/products/1")])
        flagged = ip.endswith((".1", ".2", ".3")) and rng.random() < 0.7
        lines.append(req(ts=T0_MS + i * 40, ip=ip, method=method, path=path, ua=BROWSER,
                         status=rng.choice([200, 200, 401, 404, 429]), rate_limited=flagged))
    s = _check(config, _batches(lines, 300), track=True)
    assert s["flags"] > 0 and s["counted"] > 0


@pytest.mark.parametrize("keep", [[], ["scanner"]])
def test_requests_inside_a_cooldown_are_answered_without_a_walk(keep: list[str], monkeypatch) -> None:
    """After a scanner and a stuffing IP are flagged, their requests inside the cooldown (404s and failed
    logins extending it, other requests beside them, an edge flag) are answered by the batch core's step
    without the record-by-record walk — unless a journey keeps a per-IP reason (then everything of theirs is
    walked) — and everything equals the oracle, state included."""
    data = copy.deepcopy(EXAMPLE)
    data["journeys"][0]["keep"] = keep
    config = config_from_dict(data)
    scan, stuff = "11.3.0.1", "11.3.0.2"
    flag = [req(ts=T0_MS + i, ip=scan, path=f"/x{i}/.env", status=404) for i in range(3)]
    flag += [req(ts=T0_MS + 10 + i, ip=stuff, method="POST", path="/login", status=401) for i in range(40)]
    during = []
    for i in range(60):
        t = T0_MS + 60_000 + i * 500
        during.append(req(ts=t, ip=scan, path=["/products/1", "/nope", "/wp-admin/"][i % 3],
                          status=[200, 404, 404][i % 3]))
        during.append(req(ts=t + 1, ip=stuff, method=["POST", "GET"][i % 2], path=["/login", "/search"][i % 2],
                          status=[401, 200][i % 2], rate_limited=i == 7))
    from streams.core.filters import FilterChain
    walked = {"n": 0}
    real = FilterChain.stateful

    def counting(self, *a, **k):
        walked["n"] += 1
        return real(self, *a, **k)

    monkeypatch.setattr(FilterChain, "stateful", counting)
    s = _check(config, [flag, during], track=True)
    # Batch 1 (43 records) flags both IPs. The oracle walks all of it. The product walks the scanner's 3
    # (its first request is a probe, which flags) and the stuffer's records from the 11th failed login
    # (which flags; the steps count the first max_failures = 10), and does that twice: once
    # optimistically, once for the whole IP after a rule fired. Batch 2 (120 records) is walked by the
    # oracle only. A journey keeping "scanner" turns the steps off: the product walks batch 1 twice and
    # batch 2 too.
    assert s["flags"] == 2
    product = 2 * 43 + 120 if keep else 2 * (3 + 30)
    assert walked["n"] == 43 + 120 + product
