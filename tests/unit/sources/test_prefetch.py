"""Read-ahead (sources/prefetch.py): same items in the same order, an exception at the same point, at
most ``depth`` items produced ahead, and a producer that stops when the consumer does."""

from __future__ import annotations

import threading

import pytest

from streams.sources.prefetch import prefetched


def test_items_come_in_order() -> None:
    assert list(prefetched(iter(range(1_000)), depth=3)) == list(range(1_000))
    assert list(prefetched(iter([]))) == []


def test_an_exception_is_raised_after_the_items_before_it() -> None:
    def items():
        yield from (1, 2, 3)
        raise ValueError("bad input at item 4")

    got = []
    with pytest.raises(ValueError, match="bad input at item 4"):
        for x in prefetched(items()):
            got.append(x)
    assert got == [1, 2, 3]


def test_the_producer_runs_at_most_depth_ahead_and_stops_with_the_consumer() -> None:
    produced: list[int] = []
    taken = threading.Event()

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    gen = prefetched(items(), depth=2)
    assert next(gen) == 0
    # item 0 taken; 1 and 2 fill the queue, 3 is produced and waits to be put: never more
    for _ in range(200):
        if len(produced) >= 4:
            break
        taken.wait(0.01)
    taken.wait(0.2)
    assert produced == [0, 1, 2, 3]
    gen.close()  # the consumer stops: the producer's pending put gives up, nothing more is produced
    assert produced == [0, 1, 2, 3]
    assert not any(t.name == "truesli-read-ahead" and t.is_alive() for t in threading.enumerate())
