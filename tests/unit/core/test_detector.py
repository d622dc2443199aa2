"""Detector contracts: incremental evaluation equals one pass, late updates keep the sums exact, state and
evidence stay bounded; change events parse strictly; client networks are capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import load_config
from streams.core.detect import AbuseEpisodes, ChangeEvent, ChangeLog, Detector, parse_change
from streams.core.detect import abuse as abuse_mod
from streams.core.networks import OTHER, TRACKED_PER_WINDOW, network_of, tally_network, top_networks
from streams.core.model import IpFlag, WindowCounter

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "truesli.yaml"
T0 = 1767225600000
MIN = 60_000


def wc(m: int, good: int, bad: int, journey="checkout", slo="availability", filtered=None) -> WindowCounter:
    f = filtered or {}
    return WindowCounter(journey, slo, T0 + (m - 1) * MIN, T0 + m * MIN, good=good, total=good + bad,
                         raw_good=good, raw_total=good + bad + sum(f.values()), filtered=dict(f))


def burst(m: int) -> WindowCounter:
    return wc(m, 950, 50) if 121 <= m <= 150 else wc(m, 1000, 0)


def test_incremental_advance_equals_one_pass():
    config = load_config(EXAMPLE)
    once = Detector(config)
    for m in range(1, 241):
        once.observe(burst(m))
    expected = [a.to_dict() for a in once.finish()]

    live = Detector(config)
    got = []
    for m in range(1, 241):
        live.observe(burst(m))
        if m % 7 == 0:  # the watermark moves in uneven steps
            got += live.advance(T0 + (m - 3) * MIN)
    got += live.finish()
    assert [a.to_dict() for a in got] == expected
    assert [a.type for a in got] == ["burn_spike", "burn_spike", "security_suspect", "burn_spike"]


def test_an_update_to_an_evaluated_window_changes_later_sums_not_past_decisions():
    config = load_config(EXAMPLE)
    det = Detector(config)
    for m in range(1, 61):
        det.observe(wc(m, 1000, 0))
    assert det.advance(T0 + 60 * MIN) == []
    # a late revision of minute 59: 900 errors — the 1h and 5m sums must include it from now on
    det.observe(wc(59, 100, 900))
    track = det.tracks[("checkout", "availability")]
    assert track.sums["1h"][:2] == [900, 60_000] and track.sums["5m"][:2] == [900, 5000]
    det.observe(wc(61, 1000, 0))
    fired = det.advance(T0 + 61 * MIN)  # 1h: 900 / 61,000 = 14.75× > 14.4; 5m: 900 / 5,000 = 180×
    assert [(a.type, a.severity, a.ts_ms) for a in fired if a.state == "firing"] == [
        ("burn_spike", "page", T0 + 61 * MIN), ("burn_spike", "ticket", T0 + 61 * MIN)]


@pytest.mark.parametrize("size_s", [60, 300, 10])
def test_state_per_slo_is_bounded_by_the_longest_window(size_s):
    import yaml
    from streams.config import config_from_dict

    data = yaml.safe_load(EXAMPLE.read_text())
    data["windows"]["size_s"] = size_s
    data["detection"] = {"slo_period_days": 3}
    config = config_from_dict(data)
    det = Detector(config)
    step = size_s * 1000
    per_period = 3 * 86_400_000 // step
    n = per_period + 500
    for k in range(1, n + 1):
        det.observe(WindowCounter("checkout", "availability", T0 + (k - 1) * step, T0 + k * step, good=10,
                                  total=10, raw_good=10, raw_total=10))
        if k % 100 == 0:
            det.advance(T0 + k * step)
    det.advance(T0 + n * step)
    track = det.tracks[("checkout", "availability")]
    assert per_period <= len(track.steps) <= per_period + 16
    # the period sum is exactly the last 3 days
    assert track.sums["period"][1] == per_period * 10


def test_counters_of_unknown_journeys_are_ignored():
    det = Detector(load_config(EXAMPLE))
    det.observe(wc(1, 1, 1, journey="nope"))
    assert det.finish() == []


def test_parse_change_accepts_the_contract_and_names_what_is_wrong():
    assert parse_change(b'{"ts": 1767225600, "service": "shop", "kind": "freeze", "id": "f1"}') == \
        ChangeEvent(T0, "shop", "freeze", "f1")
    assert parse_change({"ts": "2026-01-01T00:00:00Z", "service": "shop", "kind": "deploy", "id": "d",
                         "description": "v2"}) == ChangeEvent(T0, "shop", "deploy", "d", "v2")
    assert parse_change(b"[1]") == "not a JSON object"
    assert parse_change(b"{") == "not a JSON object"
    assert parse_change({"ts": 1, "service": "", "kind": "deploy", "id": "x"}) == "service must be a non-empty string"
    assert parse_change({"ts": 1, "service": "s", "kind": "deploy", "id": 5}) == "id must be a non-empty string"
    assert parse_change({"ts": True, "service": "s", "kind": "deploy", "id": "x"}) == \
        "ts must be an RFC 3339 string or epoch seconds/milliseconds"
    assert parse_change({"ts": "yesterday", "service": "s", "kind": "deploy", "id": "x"}) == \
        "ts is not a valid timestamp"
    assert parse_change({"ts": float("nan"), "service": "s", "kind": "deploy", "id": "x"}) == \
        "ts is not a valid timestamp"


def test_change_log_windows_freezes_and_duplicates():
    log = ChangeLog()
    assert log.add(ChangeEvent(T0, "shop", "deploy", "d1"))
    assert not log.add(ChangeEvent(T0, "shop", "deploy", "d1"))  # replayed topic: same id once
    assert log.add(ChangeEvent(T0, "cart", "deploy", "d1"))  # one commit deployed to two services: two changes
    assert [e.service for e in log.between("cart", T0, T0)] == ["cart"]
    log.add(ChangeEvent(T0 + 10 * MIN, "shop", "freeze", "f1"))
    log.add(ChangeEvent(T0 + 20 * MIN, "shop", "unfreeze", "u1"))
    log.add(ChangeEvent(T0 + 5 * MIN, "auth", "config", "c1"))
    assert [e.id for e in log.between("shop", T0, T0 + 30 * MIN)] == ["d1"]  # freezes explain nothing
    assert [e.id for e in log.between("shop", T0 + 1, T0 + 30 * MIN)] == []
    assert log.last_freeze("shop", T0 + 15 * MIN) == (T0 + 10 * MIN, True)
    assert log.last_freeze("shop", T0 + 25 * MIN) == (T0 + 10 * MIN, False)
    assert log.last_freeze("auth", T0 + 25 * MIN) == (None, False)
    assert log.last_freeze("shop", T0 + 10 * MIN - 1) == (None, False)
    log.add(ChangeEvent(T0 + 40 * MIN, "shop", "freeze", "f2"))
    log.add(ChangeEvent(T0 + 41 * MIN, "shop", "deploy", "hotfix"))  # a deploy does not end a freeze
    assert log.last_freeze("shop", T0 + 50 * MIN) == (T0 + 40 * MIN, True)
    assert len(log) == 7


def test_networks_are_capped_per_window_and_topped_on_emit():
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert network_of("203.0.113.7", v4_prefix=16) == "203.0.0.0/16"
    assert network_of("not an ip") == OTHER
    assert network_of("::ffff:203.0.113.7") == "203.0.113.0/24"  # IPv4-mapped (dual-stack listener)
    tally: dict[str, int] = {}
    for n in range(TRACKED_PER_WINDOW + 50):
        tally_network(tally, f"10.{n}.0.0/24")
    assert len(tally) == TRACKED_PER_WINDOW + 1 and tally[OTHER] == 50
    assert top_networks({"a": 5, "b": 9, "c": 1, "d": 5, "e": 2, "f": 2, OTHER: 3}) == {
        "b": 9, "a": 5, "d": 5, "e": 2, "f": 2, OTHER: 4}


def test_abuse_episodes_group_by_network_and_stay_bounded(monkeypatch):
    config = load_config(EXAMPLE)
    ep = AbuseEpisodes(config)
    out = ep.observe(IpFlag(T0, "203.0.113.7", "scanner", "probe_path:/.env", T0 + 10 * MIN))
    out += ep.observe(IpFlag(T0 + 1000, "203.0.113.8", "scanner", "probe_path:/.git/", T0 + 11 * MIN))
    out += ep.observe(IpFlag(T0 + 2000, "198.51.100.1", "rate_limited", "rate>1200/60s", T0 + 5 * MIN))
    assert [(a.type, a.state, a.key) for a in out] == [("scanner", "firing", "203.0.113.0/24")]
    gap = config.detection.abuse_gap_s * 1000
    assert ep.advance(T0 + 11 * MIN + gap - 1) == []  # a flag in the gap would still continue it
    (resolved,) = ep.advance(T0 + 11 * MIN + gap)
    assert resolved.evidence["ips"] == ["203.0.113.7", "203.0.113.8"] and resolved.evidence["flags"] == 2
    assert resolved.window_end_ms == T0 + 11 * MIN
    monkeypatch.setattr(abuse_mod, "MAX_OPEN", 3)
    for n in range(5):
        ep.observe(IpFlag(T0 + n, f"10.0.{n}.1", "credential_stuffing", "login_failures>10/60s", T0 + MIN))
    assert len(ep.open) == 3


def test_detection_config_rejects_a_reversed_band_and_non_finite_numbers():
    from streams.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="too_loose"):
        config_from_dict({"detection": {"calibration": {"too_loose": 2.0, "too_tight": 1.0}}})
    with pytest.raises(ConfigError, match="detection.burn.page: Input should be a finite number"):
        config_from_dict({"detection": {"burn": {"page": float("inf")}}})


def test_a_scanner_back_within_the_gap_is_the_same_episode():
    config = load_config(EXAMPLE)
    gap = config.detection.abuse_gap_s * 1000
    ep = AbuseEpisodes(config)
    fired = ep.observe(IpFlag(T0, "91.92.240.17", "scanner", "user_agent:sqlmap", T0 + 10 * MIN))
    # its cooldown ended at +10 min; it flags again 5 min later (within the gap): one episode
    fired += ep.observe(IpFlag(T0 + 15 * MIN, "91.92.240.17", "scanner", "user_agent:sqlmap", T0 + 25 * MIN))
    assert [a.state for a in fired] == ["firing"]
    # back only after the gap: the first episode ends at its last cooldown, a new one starts
    fired = ep.observe(IpFlag(T0 + 25 * MIN + gap, "91.92.240.17", "scanner", "user_agent:sqlmap",
                              T0 + 35 * MIN + gap))
    assert [(a.state, a.window_end_ms) for a in fired] == [("resolved", T0 + 25 * MIN),
                                                           ("firing", T0 + 35 * MIN + gap)]
    assert fired[0].evidence["flags"] == 2
