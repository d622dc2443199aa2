"""Per-partition partial counters → cumulative remote-write samples, for the live worker.

Owned by one Stage A partition. Counters arrive as windows close (in window order) and again when late
records re-open a window (a higher revision). Each exported series is a running sum stamped with the
window end in event time; the series carry a ``partition`` label (bounded by the topic's partition
count), so every partition owns its series and ``sum without (partition)`` gives the journey's total.

A re-emitted window adds only its *delta* to the running sums, stamped just after the series' newest
sample (a remote-write series cannot rewrite the past). Without late records the value at a window end is
the sum of every record up to that window, whatever the batching — so re-sending after a crash sends
identical samples, which receivers accept as duplicates. The state round-trips through the Stage A
changelog (``state()``/``load()``).
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.model import WindowCounter

Sample = tuple[dict[str, str], int, float]


class CumulativeExporter:
    __slots__ = ("partition", "_first_slo", "_sums", "_last_ts", "_accounted", "_retain_ms")

    def __init__(self, partition: int, retain_ms: int, first_slo: dict[str, str]) -> None:
        """``first_slo``: journey → its first SLO's name; ``filtered`` (per journey, repeated on each SLO)
        is exported from that one only."""
        self.partition = str(partition)
        self._first_slo = first_slo
        self._sums: dict[str, float] = {}  # series key → running sum
        self._last_ts: dict[str, int] = {}  # series key → newest sample's timestamp
        self._accounted: dict[str, list] = {}  # counter key → [window_end, good, total, raw_good, raw_total, filtered]
        self._retain_ms = retain_ms

    def observe(self, counters: Iterable[WindowCounter]) -> list[Sample]:
        out: list[Sample] = []
        for c in counters:
            prev = self._accounted.get(c.key)
            if prev is None:
                deltas = (c.good, c.total, c.raw_good, c.raw_total, dict(c.filtered))
            else:
                deltas = (c.good - prev[1], c.total - prev[2], c.raw_good - prev[3], c.raw_total - prev[4],
                          {r: n - prev[5].get(r, 0) for r, n in c.filtered.items()})
            self._accounted[c.key] = [c.window_end_ms, c.good, c.total, c.raw_good, c.raw_total, dict(c.filtered)]
            good, total, raw_good, raw_total, filtered = deltas
            for name, g, t in (("truesli_sli_events_total", good, total),
                               ("truesli_raw_events_total", raw_good, raw_total)):
                for result, delta in (("good", g), ("bad", t - g)):
                    labels = {"__name__": name, "journey": c.journey, "slo": c.slo, "result": result,
                              "partition": self.partition}
                    out.append(self._sample(labels, c.window_end_ms, delta))
            if c.slo == self._first_slo.get(c.journey):
                for reason in sorted(filtered):
                    labels = {"__name__": "truesli_filtered_events_total", "journey": c.journey, "reason": reason,
                              "partition": self.partition}
                    out.append(self._sample(labels, c.window_end_ms, filtered[reason]))
        return out

    def _sample(self, labels: dict[str, str], ts_ms: int, delta: float) -> Sample:
        key = "\x00".join(labels.values())
        last = self._last_ts.get(key)
        ts = ts_ms if last is None or ts_ms > last else last + 1
        self._last_ts[key] = ts
        value = self._sums.get(key, 0.0) + delta
        self._sums[key] = value
        return labels, ts, value

    def expire(self, closed_through_ms: int | None) -> None:
        """Forget per-window bookkeeping for windows no late record can reach any more."""
        if closed_through_ms is None:
            return
        horizon = closed_through_ms - self._retain_ms - 1
        stale = [k for k, v in self._accounted.items() if v[0] < horizon]
        for k in stale:
            del self._accounted[k]

    def state(self) -> dict:
        return {"sums": self._sums, "last_ts": self._last_ts, "accounted": self._accounted}

    def load(self, doc: dict) -> None:
        self._sums = dict(doc["sums"])
        self._last_ts = dict(doc["last_ts"])
        self._accounted = dict(doc["accounted"])
