"""Packed plain per-IP states (filters/ipstate.py): exact round trip, the fallback to an IpState when a
value does not fit, and a store holding packed entries behaving as one of IpStates (touch, expiry, items)."""

from __future__ import annotations

import yaml

from streams.config import config_from_dict
from streams.core.filters.ipstate import IpState, IpStateStore, pack, pack_state, state_of, unpack, with_seq
from streams.core.pipeline import Pipeline
from tests.unit.helpers import BROWSER, T0_MS, req


def test_pack_round_trips_exact_values() -> None:
    for values in ((T0_MS, -1, 0, 0), (T0_MS + 3, 176_722_560, 7, 12), (99_999_999_999_999, (1 << 48) - 2,
                                                                         (1 << 24) - 1, (1 << 24) - 1)):
        v = pack(*values)
        assert type(v) is int
        assert unpack(v) == values


def test_values_outside_the_layout_are_not_packed() -> None:
    assert pack(T0_MS, 5, 1 << 24, 0) is None
    assert pack(T0_MS, 5, 0, 1 << 24) is None
    assert pack(T0_MS, (1 << 48) - 1, 0, 0) is None
    assert pack(T0_MS, -2, 0, 0) is None


def test_only_plain_states_are_packed() -> None:
    st = IpState(T0_MS)
    st.rate_idx, st.rate_cur, st.rate_prev = 10, 3, 4
    v = pack_state(st)
    assert unpack(v) == (T0_MS, 10, 3, 4)
    back = state_of(v)
    assert (back.last_ms, back.rate_idx, back.rate_cur, back.rate_prev, back.rate_until, back.rate_rule,
            back.x) == (T0_MS, 10, 3, 4, 0, "", None)
    cooling = IpState(T0_MS)
    cooling.rate_until = T0_MS + 60_000
    assert pack_state(cooling) is cooling
    evidence = IpState(T0_MS)
    evidence.extra()
    assert pack_state(evidence) is evidence


def test_store_unpacks_on_touch_and_expires_packed_entries_by_last_seen() -> None:
    store = IpStateStore(10, ttl_s=60)
    store._states["10.0.0.1"] = pack(T0_MS, 3, 2, 1)
    store._states["10.0.0.2"] = pack(T0_MS + 50_000, 3, 1, 0)
    st = store.touch("10.0.0.1", T0_MS + 70_000)
    assert type(st) is IpState
    assert (st.last_ms, st.rate_idx, st.rate_cur, st.rate_prev) == (T0_MS + 70_000, 3, 2, 1)
    assert list(store._states) == ["10.0.0.2", "10.0.0.1"]
    assert store.expire(T0_MS + 111_000) == 1  # 10.0.0.2 last seen 61 s before
    assert [ip for ip, _ in store.items()] == ["10.0.0.1"]


def test_the_batch_core_packs_quiet_ips_and_keeps_evidence_as_objects() -> None:
    doc = yaml.safe_load(open("examples/truesli.yaml"))
    p = Pipeline(config_from_dict(doc))
    batch = [req(ts=T0_MS + i, ip=f"10.0.0.{i}", path="/products/1", ua=BROWSER) for i in range(1, 4)]
    batch.append(req(ts=T0_MS + 9, ip="10.0.0.9", path="/nope", status=404, ua=BROWSER))
    p.process(batch)
    kinds = {ip: type(v).__name__ for ip, v in p.filters.store._states.items()}
    assert kinds == {"10.0.0.1": "int", "10.0.0.2": "int", "10.0.0.3": "int", "10.0.0.9": "IpState"}
    states = dict(p.filters.store.items())
    assert (states["10.0.0.2"].last_ms, states["10.0.0.2"].rate_cur) == (T0_MS + 2, 1)
    # The next request of a packed IP goes through the same rules with the unpacked counts.
    p.process([req(ts=T0_MS + 100, ip="10.0.0.2", path="/products/2", ua=BROWSER)])
    assert dict(p.filters.store.items())["10.0.0.2"].rate_cur == 2


def test_a_tracking_store_packs_the_change_sequence_and_reports_changes_unpacked() -> None:
    doc = yaml.safe_load(open("examples/truesli.yaml"))
    p = Pipeline(config_from_dict(doc), track_state_changes=True)
    p.process([req(ts=T0_MS + i, ip=f"10.0.1.{i}", path="/products/1", ua=BROWSER) for i in range(1, 4)])
    store = p.filters.store
    assert [type(v).__name__ for v in store._states.values()] == ["int", "int", "int"]
    evicted, changed = store.take_changes()
    assert evicted == []
    assert [(ip, st.seq, st.last_ms, st.rate_cur) for ip, st in changed] == [
        ("10.0.1.1", 1, T0_MS + 1, 1), ("10.0.1.2", 2, T0_MS + 2, 1), ("10.0.1.3", 3, T0_MS + 3, 1)]
    p.process([req(ts=T0_MS + 10, ip="10.0.1.2", path="/products/2", ua=BROWSER)])
    assert [(ip, st.seq, st.rate_cur) for ip, st in store.take_changes()[1]] == [("10.0.1.2", 4, 2)]
    assert store.take_changes() == ([], [])


def test_the_sequence_field_does_not_disturb_the_others() -> None:
    v = pack(T0_MS, 7, 3, 2, seq=123_456_789)
    assert unpack(v) == (T0_MS, 7, 3, 2)
    assert state_of(v).seq == 123_456_789
    assert unpack(with_seq(v, 5)) == (T0_MS, 7, 3, 2) and state_of(with_seq(v, 5)).seq == 5
    assert with_seq(v, 1 << 62) is None and pack(T0_MS, 7, 3, 2, seq=-1) is None


def test_expiry_stops_at_the_first_fresh_touch_and_reports_evictions_in_touch_order() -> None:
    store = IpStateStore(10, ttl_s=60, track_changes=True)
    for i, ip in enumerate(("a", "b", "c", "d", "e")):
        store.touch(ip, T0_MS + i * 1_000)
    store.touch("b", T0_MS + 30_000)  # moved behind e
    store.touch("d", T0_MS + 3_500)  # moved too, but still old
    store.take_changes()
    # cutoff T0 + 4 s: a (0 s) and c (2 s) go; e (4 s) is fresh and the walk in touch order stops there
    assert store.expire(T0_MS + 64_000) == 2
    assert list(store._states) == ["e", "b", "d"]
    assert store.take_changes()[0] == ["a", "c"]
    assert store.evicted == 2
    # a second later e goes too; d (3.5 s) sits behind b (30 s) in touch order, so it stays until b goes
    assert store.expire(T0_MS + 64_001) == 1 and list(store._states) == ["b", "d"]
