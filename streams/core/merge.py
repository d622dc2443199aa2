"""Stage B's bookkeeping: latest revision per counter key, partials summed per window.

Counters are commutative sums, so merging per-partition partials is addition; re-emissions (late
records) replace the earlier revision of the same key instead of adding to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.networks import top_networks
from streams.core.model import WindowCounter


def _add_into(target: dict[str, int], source: dict[str, int]) -> None:
    for k, v in source.items():
        target[k] = target.get(k, 0) + v


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
    """Holds the latest revision of every counter key it has seen."""

    __slots__ = ("_latest",)

    def __init__(self) -> None:
        self._latest: dict[str, WindowCounter] = {}

    def add(self, counters: Iterable[WindowCounter]) -> None:
        latest = self._latest
        for c in counters:
            prev = latest.get(c.key)
            if prev is None or c.revision >= prev.revision:
                latest[c.key] = c

    def __len__(self) -> int:
        return len(self._latest)

    def merged(self) -> list[WindowCounter]:
        """One counter per (journey, slo, window): the sum over partitions, ordered by window then name."""
        out: dict[tuple[str, str, int], WindowCounter] = {}
        for c in self._latest.values():
            key = (c.journey, c.slo, c.window_start_ms)
            m = out.get(key)
            if m is None:
                out[key] = m = WindowCounter(c.journey, c.slo, c.window_start_ms, c.window_end_ms)
            m.good += c.good
            m.total += c.total
            m.raw_good += c.raw_good
            m.raw_total += c.raw_total
            m.late += c.late
            m.revision = max(m.revision, c.revision)
            _add_into(m.filtered, c.filtered)
            _add_into(m.skipped, c.skipped)
            _add_into(m.networks, c.networks)
        for m in out.values():
            if m.networks:
                m.networks = top_networks(m.networks)
        return sorted(out.values(), key=lambda c: (c.window_start_ms, c.journey, c.slo))

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
