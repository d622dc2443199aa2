"""Eviction picks exactly the least recently touched IP, as ``next(iter(dict))`` does, under every way the
store's order changes: touches, evictions, expiry, loads, forgets, and the batch core's bulk step.

The store answers the oldest IP from a cached front of its touch order (filters/ipstate.py); a reference
store that asks the dict each time (the definition) must end every step with the same entries in the same
order and the same evictions, in the same order.
"""

from __future__ import annotations

import random

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from streams.config import config_from_dict
from streams.core.filters import ipstate
from streams.core.filters.ipstate import IpState, IpStateStore
from streams.core.pipeline import Pipeline
from tests.unit.helpers import BROWSER, T0_MS, req


class ReferenceStore(IpStateStore):
    """The definition: the oldest entry is the dict's first."""

    __slots__ = ()

    def _oldest(self) -> str:
        return next(iter(self._states))


def _same(a: IpStateStore, b: IpStateStore) -> None:
    assert list(a._states) == list(b._states)
    assert a.evicted == b.evicted
    assert a.take_changes()[0] == b.take_changes()[0]


OPS = st.lists(st.tuples(st.sampled_from(["touch", "touch", "touch", "touch", "expire", "load", "forget"]),
                         st.integers(0, 40), st.integers(0, 5_000)), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.integers(1, 12))
def test_store_evicts_as_the_definition_does(ops: list[tuple[str, int, int]], cap: int) -> None:
    old = ipstate._FRONT
    ipstate._FRONT = 3  # a short front, so rebuilding it and running past its end are exercised
    try:
        store, ref = (cls(cap, ttl_s=2, track_changes=True) for cls in (IpStateStore, ReferenceStore))
        clock = T0_MS
        for op, key, dt in ops:
            ip = f"10.0.0.{key}"
            clock += dt
            for s in (store, ref):
                if op == "touch":
                    s.touch(ip, clock)
                elif op == "expire":
                    s.expire(clock)
                elif op == "load" and len(s) < cap:
                    s.load(ip, IpState(clock))
                elif op == "forget":
                    s.forget(ip)
            _same(store, ref)
    finally:
        ipstate._FRONT = old


def _batches(seed: int) -> list[list]:
    """Batches that fill a 40-IP store and then flood it: some can evict (walked), some cannot (bulk)."""
    rng = random.Random(seed)
    out, t = [], T0_MS
    for b in range(30):
        pool = 30 if b % 3 else 120  # every third batch brings far more IPs than the store holds
        batch = []
        for _ in range(rng.randint(1, 60)):
            t += rng.randint(0, 400)
            batch.append(req(ts=t, ip=f"10.1.{rng.randrange(pool) // 256}.{rng.randrange(pool) % 256}",
                             path=rng.choice(["/products/1", "/login", "/.env", "/nope"]),
                             status=rng.choice([200, 200, 200, 404, 401, 429]), ua=BROWSER,
                             method=rng.choice(["GET", "POST"])))
        out.append(batch)
    return out


def test_batch_core_keeps_the_definitions_eviction_order() -> None:
    doc = yaml.safe_load(open("examples/truesli.yaml"))
    doc["state"] = {"max_tracked_ips": 40, "ip_ttl_s": 3_600}
    config = config_from_dict(doc)
    old = ipstate._FRONT
    ipstate._FRONT = 7
    try:
        for seed in range(12):
            fast, slow = Pipeline(config, track_state_changes=True), Pipeline(config, track_state_changes=True)
            ref = slow.filters.store
            ref.__class__ = ReferenceStore
            for batch in _batches(seed):
                out_fast, out_slow = fast.process(batch), slow.process(batch)
                assert out_fast.tally == out_slow.tally
                _same(fast.filters.store, ref)
            assert fast.filters.store.evicted > 100, seed  # the floods did evict
    finally:
        ipstate._FRONT = old
