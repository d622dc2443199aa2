"""Packed plain per-IP states (filters/ipstate.py): exact round trip, the fallback to an IpState when a
value does not fit, and a store holding packed entries behaving as one of IpStates (touch, expiry, items)."""

from __future__ import annotations

import yaml

from streams.config import config_from_dict
from streams.core.filters.ipstate import IpState, IpStateStore, pack, pack_state, state_of, unpack
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
