"""Crash consistency of the core: restoring a pipeline from its changelog records at any batch boundary
continues exactly like an uninterrupted run (the basis of the live worker's exactly-once counters)."""

from __future__ import annotations

import io

import pytest

from streams.config import Config
from streams.core import snapshot
from streams.core.merge import CounterBook
from streams.core.pipeline import Pipeline
from streams.runs.embedded import run_records
from streams.tools.gen import generate


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    buf = io.BytesIO()
    generate(buf, events=40_000, seed=2)
    return buf.getvalue().splitlines()


@pytest.mark.parametrize("restore_every", [1, 3, 7])
def test_restore_at_batch_boundaries_gives_identical_counters(lines, restore_every):
    expected = [c.sli_fields() for c in run_records(Config(), lines, batch=1000).merged()]
    log: list[tuple[bytes, bytes | None]] = []
    p = Pipeline(Config(), track_state_changes=True)
    book = CounterBook()
    restores = 0
    for n, i in enumerate(range(0, len(lines), 1000)):
        book.add(p.process(lines[i:i + 1000]).counters)
        log.extend(snapshot.ip_changes(p))
        log.append((snapshot.META_KEY, snapshot.meta_record(p, i + 1000, {"n": n})))
        if n % restore_every == restore_every - 1:
            tally_before = p.tally.to_dict()
            p = Pipeline(Config(), track_state_changes=True)
            assert snapshot.restore(p, log) == (i + 1000, {"n": n})
            assert p.tally.to_dict() == tally_before
            restores += 1
    book.add(p.flush().counters)
    assert restores >= 5
    assert [c.sli_fields() for c in book.merged()] == expected
    assert p.tally.consumed == len(lines)


def test_evictions_are_replayed_as_tombstones():
    cfg = Config.model_validate({"state": {"max_tracked_ips": 2}})
    p = Pipeline(cfg, track_state_changes=True)
    rec = '{{"ts":"2026-01-01T00:00:0{i}Z","client_ip":"11.0.0.{i}","method":"GET","path":"/","status":200}}'
    p.process([rec.format(i=i).encode() for i in range(1, 4)])  # 11.0.0.1 is evicted by the third IP
    log = snapshot.ip_changes(p)
    assert [k for k, v in log] == [b"ip:11.0.0.1", b"ip:11.0.0.2", b"ip:11.0.0.3"]
    assert log[0][1] is None
    q = Pipeline(cfg, track_state_changes=True)
    assert snapshot.restore(q, log) == (None, None)
    assert [ip for ip, _ in q.filters.store.items()] == ["11.0.0.2", "11.0.0.3"]


def test_no_state_means_start_from_committed_offset():
    assert snapshot.restore(Pipeline(Config()), []) == (None, None)
