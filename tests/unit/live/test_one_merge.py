"""One partial-counter merge: a finite run's CounterBook and the live Stage B give the same merged
counters, revision included, for the same partials (core/merge.py's rule)."""

from __future__ import annotations

from collections import defaultdict

import orjson

from streams.core.merge import CounterBook
from streams.core.model import WindowCounter
from streams.core.pipeline import Pipeline
from streams.live.stage_b import StageB
from streams.sinks.serialize import counter_to_dict
from tests.unit.helpers import T0_MS, at, cfg, req

AVAIL = {"name": "availability", "kind": "availability", "objective": 0.999}


def W(s: int) -> int:
    return T0_MS + s * 1000


def partials() -> list[WindowCounter]:
    """Three partitions' partials in Stage A's delivery order, with late re-emissions of window 0."""
    c = cfg(exclusions=[], windows={"size_s": 60, "allowed_lateness_s": 0},
            journeys=[{"name": "all", "slos": [AVAIL]}])
    p0, p1, p2 = (Pipeline(c, partition=k) for k in range(3))
    out = []
    out += p0.process([req(ts=at(1), ip="11.0.0.1"), req(ts=at(2), ip="11.0.0.1", status=500),
                       req(ts=at(61), ip="11.0.0.1")]).counters
    out += p1.process([req(ts=at(3), ip="11.0.1.2"), req(ts=at(62), ip="11.0.1.2")]).counters
    out += p0.process([req(ts=at(4), ip="11.0.0.1", status=503)]).counters  # late: window 0, revision 1
    out += p0.process([req(ts=at(5), ip="11.0.0.1")]).counters  # late again: revision 2
    out += p2.process([req(ts=at(6), ip="11.0.2.3"), req(ts=at(63), ip="11.0.2.3")]).counters
    out += p1.process([req(ts=at(7), ip="11.0.1.2", status=500)]).counters  # late: revision 1
    for p in (p0, p1, p2):
        out += p.flush().counters
    return out


def test_counter_book_and_stage_b_merge_the_same_partials_identically():
    parts = partials()
    assert [(c.partition, (c.window_start_ms - T0_MS) // 1000, c.revision) for c in parts
            if c.window_start_ms == W(0)] == [(0, 0, 0), (1, 0, 0), (0, 0, 1), (0, 0, 2), (2, 0, 0), (1, 0, 1)]

    book = CounterBook()
    book.add(parts)

    table: dict[str, dict[str, dict]] = defaultdict(dict)  # faust's Table with default=dict
    stage_b = StageB(cfg(detection={"enabled": False}), table, partials_partitions=4, assignment=lambda: set())
    published: dict[str, WindowCounter] = {}
    revisions: list[int] = []
    for c in parts:  # Stage A's messages, as Stage A serialises them
        key, merged = stage_b.accept(orjson.dumps(counter_to_dict(c, 0)))
        published[key] = merged  # sli.counters is compacted: the last message per key stays
        if merged.window_start_ms == W(0):
            revisions.append(merged.revision)

    live = sorted(published.values(), key=lambda c: (c.window_start_ms, c.journey, c.slo))
    assert live == book.merged()
    # Σ (partial revision + 1) − 1: every partial update raises the merged revision.
    assert revisions == [0, 1, 2, 3, 4, 5]
    assert book.merged() == [
        WindowCounter("all", "availability", W(0), W(60), good=4, total=7, raw_good=4, raw_total=7, late=3,
                      revision=5, networks={"11.0.0.0/24": 2, "11.0.1.0/24": 1}),  # networks of bad events
        WindowCounter("all", "availability", W(60), W(120), good=3, total=3, raw_good=3, raw_total=3,
                      revision=2),
    ]
    assert stage_b.stats.skipped == 0
