"""Merged window counters → the exported Prometheus series (cumulative counters in event time).

Series (label values come only from configured journeys, SLOs and filter reasons — never raw input):
- ``truesli_sli_events_total{journey, slo, result="good"|"bad"}`` — cleaned (real-user) events;
- ``truesli_raw_events_total{journey, slo, result}`` — everything the journey matched, before filtering;
- ``truesli_filtered_events_total{journey, reason}`` — the journey's requests dropped, by filter.

Each counter is the running sum over windows in window order, stamped with the window's *end* in event
time, so a replay backfills history at the times the requests happened. A window with no traffic still
gets a sample (the sum unchanged): rates over it are 0, never NaN.

Every series *starts with a 0 sample* at the start of its first window: without it the first sample
already carries the first window's count, and ``increase()``/``rate()`` over the whole range miss that
window (Prometheus extrapolates from the first sample; VictoriaMetrics counts from it). With it,
``increase(m[range])`` at the last window end over a range that covers the first window start equals
the run's total exactly, on both receivers (Prometheus' extrapolation towards the range start is capped
at the point where the counter was 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from streams.core.model import WindowCounter

Sample = tuple[dict[str, str], int, float]


def counter_samples(counters: Iterable[WindowCounter]) -> Iterator[Sample]:
    """Samples for merged counters (one per journey, slo, window). Input in any order."""
    ordered = sorted(counters, key=lambda c: (c.window_start_ms, c.journey, c.slo))
    sums: dict[tuple[str, ...], float] = {}
    filtered_seen: set[tuple[str, int]] = set()
    reasons: dict[str, set[str]] = {}

    def bump(key: tuple[str, ...], delta: int) -> float:
        sums[key] = sums.get(key, 0) + delta
        return sums[key]

    def starts(key: tuple[str, ...]) -> bool:
        """True the first time a series is seen: its 0 sample goes out at the window start first."""
        return key not in sums

    for c in ordered:
        ts = c.window_end_ms
        for name, good, total in (("truesli_sli_events_total", c.good, c.total),
                                  ("truesli_raw_events_total", c.raw_good, c.raw_total)):
            for result, delta in (("good", good), ("bad", total - good)):
                key = (name, c.journey, c.slo, result)
                labels = {"__name__": name, "journey": c.journey, "slo": c.slo, "result": result}
                if starts(key):
                    yield dict(labels), c.window_start_ms, 0.0
                yield labels, ts, bump(key, delta)
        # ``filtered`` is per journey (repeated on each of its SLOs): export it once per window.
        if (c.journey, c.window_start_ms) in filtered_seen:
            continue
        filtered_seen.add((c.journey, c.window_start_ms))
        known = reasons.setdefault(c.journey, set())
        known.update(c.filtered)
        for reason in sorted(known):
            key = ("truesli_filtered_events_total", c.journey, reason)
            labels = {"__name__": "truesli_filtered_events_total", "journey": c.journey, "reason": reason}
            if starts(key):
                yield dict(labels), c.window_start_ms, 0.0
            yield labels, ts, bump(key, c.filtered.get(reason, 0))
