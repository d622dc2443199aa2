"""Read ahead: an iterator's items produced on a background thread, handed over in order.

Why: reading a file, screening its bytes and parsing them with Arrow spend most of their time in C with the
GIL released, so on a machine with two cores the next batch can be read and decoded while the core counts
this one. Contract: ``prefetched(it)`` yields exactly ``it``'s items in order; an exception raised by
``it`` is raised at the same point of the sequence (after every item before it); at most ``depth`` items
wait decoded in memory. Closing the generator early (break, an exception in the consumer) stops the
producer at its next item. The producer must not share mutable state with the consumer beyond what is
safe under the GIL (the decoder's bounded caches are).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a daemon thread up to ``depth`` ahead of the consumer (module contract)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x: object) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for x in items:
                if not put(x):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Raised(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="truesli-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            x = q.get()
            if x is _DONE:
                return
            if type(x) is _Raised:
                raise x.exc
            yield x
    finally:
        stop.set()
        worker.join(timeout=5)
