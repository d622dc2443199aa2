"""The one partial-counter merge, for finite runs (CounterBook) and the live worker's Stage B.

A *partial* is the counter of one (journey, slo, window) from one input partition (``partition`` set);
the *merged* counter is the sum over partitions (``partition`` None). Counters are commutative sums, so
merging is addition and the order partitions report in does not matter. A re-emission (late records)
replaces the earlier revision of the same partial instead of adding to it: that is the caller's
bookkeeping (CounterBook keeps the latest revision per partial key, Stage B's table the latest message
per partition); :func:`merge_window` sums one window's current partials.

**Revision rule.** ``merged.revision = Σ over partials (partial.revision + 1) − 1``: the number of
partial emissions the merged value reflects, minus one. A single partial keeps its own revision (so a
one-partition run — ``truesli process``, ``truesli demo`` — reports the revisions its windows had), and
every update of any partial — a re-emission or a first partial from another partition — raises the
merged revision, so successive merged messages of one key carry increasing revisions and the newest
message of a key (offset order) also has the highest revision (docs/design.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.networks import top_networks
from streams.core.model import WindowCounter


def _add_into(target: dict[str, int], source: dict[str, int]) -> None:
    for k, v in source.items():
        target[k] = target.get(k, 0) + v


def merge_window(partials: Iterable[WindowCounter]) -> WindowCounter:
    """Sum the current partials of one (journey, slo, window) into the merged counter (``partition`` None).

    All partials must share journey, slo and window; there must be at least one. ``networks`` is cut back
    to the top networks (core.networks.top_networks); the partials are not modified."""
    parts = list(partials)
    first = parts[0]
    m = WindowCounter(first.journey, first.slo, first.window_start_ms, first.window_end_ms)
    emissions = 0
    for c in parts:
        m.good += c.good
        m.total += c.total
        m.raw_good += c.raw_good
        m.raw_total += c.raw_total
        m.late += c.late
        emissions += c.revision + 1
        _add_into(m.filtered, c.filtered)
        _add_into(m.skipped, c.skipped)
        _add_into(m.networks, c.networks)
    m.revision = emissions - 1
    if m.networks:
        m.networks = top_networks(m.networks)
    return m


@dataclass(slots=True)
class SloTotals:
    good: int = 0
    total: int = 0
    raw_good: int = 0
    raw_total: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    windows: int = 0

    def to_dict(self) -> dict:
        return {"good": self.good, "total": self.total, "raw_good": self.raw_good, "raw_total": self.raw_total}


class CounterBook:
    """Holds the latest revision of every counter key it has seen (a finite run's Stage B)."""

    __slots__ = ("_latest", "_merged")

    def __init__(self) -> None:
        self._latest: dict[str, WindowCounter] = {}
        self._merged: list[WindowCounter] | None = None  # merged() until the next add that changes a key

    def add(self, counters: Iterable[WindowCounter]) -> None:
        latest = self._latest
        for c in counters:
            prev = latest.get(c.key)
            if prev is None or c.revision >= prev.revision:
                latest[c.key] = c
                self._merged = None

    def __len__(self) -> int:
        return len(self._latest)

    def merged(self) -> list[WindowCounter]:
        """One counter per (journey, slo, window): :func:`merge_window` of its latest partials, ordered by
        window then name. Computed once per state of the book (a run's report, detectors and sinks each
        ask): a new list each call, the same counter objects — read them, do not change them."""
        if self._merged is None:
            groups: dict[tuple[str, str, int], list[WindowCounter]] = {}
            for c in self._latest.values():
                groups.setdefault((c.journey, c.slo, c.window_start_ms), []).append(c)
            out = [merge_window(parts) for parts in groups.values()]
            self._merged = sorted(out, key=lambda c: (c.window_start_ms, c.journey, c.slo))
        return list(self._merged)

    def totals(self) -> dict[tuple[str, str], SloTotals]:
        """Whole-run sums per (journey, slo), in first-seen order."""
        out: dict[tuple[str, str], SloTotals] = {}
        for c in self.merged():
            t = out.setdefault((c.journey, c.slo), SloTotals())
            t.good += c.good
            t.total += c.total
            t.raw_good += c.raw_good
            t.raw_total += c.raw_total
            t.windows += 1
            _add_into(t.filtered, c.filtered)
        return out
