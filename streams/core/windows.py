"""Event-time tumbling windows with a watermark, lateness, idle advance and bounded retention.

Owned by one pipeline (one partition in live mode). Windows are [start, start + size) in event-time ms.
The watermark is ``max event time − allowed lateness``; a window closes when the watermark reaches its
end, or when the stream has been idle (no records) for ``idle_timeout`` by the injected clock, in which
case the watermark moves on by the idle time. A record whose window already closed is *late*: it is
still counted, into the retained closed window, which is re-emitted with ``revision + 1`` (the counter
key is the same, so consumers replace the earlier value). Closed windows are retained for
``retain_closed_s``; a record older than that is *too late* and the pipeline dead-letters it.
"""

from __future__ import annotations

from streams.config import WindowsConfig
from streams.core.networks import top_networks
from streams.core.model import WindowCounter

MAX_EMPTY_FILL = 100_000
"""Above this many empty windows in one gap, only windows with data are emitted for that gap."""


class WindowAcc:
    """Running counts of one (journey, window); per-SLO lists are indexed like the journey's SLOs."""

    __slots__ = ("journey", "start", "good", "total", "raw_good", "raw_total", "no_duration",
                 "filtered", "networks", "late", "revision")

    def __init__(self, journey: int, start: int, n_slos: int) -> None:
        self.journey = journey
        self.start = start
        self.good = [0] * n_slos
        self.total = [0] * n_slos
        self.raw_good = [0] * n_slos
        self.raw_total = [0] * n_slos
        self.no_duration = [0] * n_slos
        self.filtered: dict[str, int] = {}
        self.networks: dict[str, int] = {}  # networks of filtered or bad requests (core/networks.py)
        self.late = 0
        self.revision = -1  # bumped on every emission; the first emission is revision 0


class Windows:
    __slots__ = ("size_ms", "lateness_ms", "retain_ms", "idle_ms", "emit_empty", "partition",
                 "_journeys", "_open", "_closed", "_dirty", "max_ts", "closed_through", "_idle_since")

    def __init__(self, cfg: WindowsConfig, journeys: list[tuple[str, tuple[str, ...]]],
                 partition: int | None = None) -> None:
        self.size_ms = cfg.size_s * 1000
        self.lateness_ms = cfg.allowed_lateness_s * 1000
        self.retain_ms = cfg.retain_closed_s * 1000
        self.idle_ms = cfg.idle_timeout_s * 1000
        self.emit_empty = cfg.emit_empty
        self.partition = partition
        self._journeys = journeys
        self._open: dict[tuple[int, int], WindowAcc] = {}
        self._closed: dict[tuple[int, int], WindowAcc] = {}
        self._dirty: dict[tuple[int, int], WindowAcc] = {}
        self.max_ts: int | None = None
        self.closed_through: int | None = None  # every window starting before this has closed
        self._idle_since: int | None = None  # injected-clock time of the last record

    # -- hot path --------------------------------------------------------------------------------------
    def too_late(self, ts_ms: int) -> bool:
        ct = self.closed_through
        return ct is not None and ts_ms < ct - self.retain_ms

    def acc_for(self, journey: int, ts_ms: int) -> tuple[WindowAcc, bool]:
        """The accumulator for ``ts_ms``'s window and whether the record is late (one record)."""
        return self.acc_for_count(journey, ts_ms - ts_ms % self.size_ms, 1)

    def acc_for_count(self, journey: int, start: int, n: int) -> tuple[WindowAcc, bool]:
        """``acc_for`` for ``n`` records of one window at once (``start`` window-aligned): the batch core."""
        key = (journey, start)
        ct = self.closed_through
        if ct is not None and start < ct:
            acc = self._closed.get(key)
            if acc is None:
                acc = self._closed[key] = WindowAcc(journey, start, len(self._journeys[journey][1]))
            acc.late += n
            self._dirty[key] = acc
            return acc, True
        acc = self._open.get(key)
        if acc is None:
            acc = self._open[key] = WindowAcc(journey, start, len(self._journeys[journey][1]))
        return acc, False

    # -- watermark and closing -------------------------------------------------------------------------
    def observe(self, max_ts_in_batch: int, now_ms: int | None) -> None:
        if self.max_ts is None or max_ts_in_batch > self.max_ts:
            self.max_ts = max_ts_in_batch
        self._idle_since = now_ms

    def watermark(self, now_ms: int | None) -> int | None:
        if self.max_ts is None:
            return None
        wm = self.max_ts - self.lateness_ms
        if now_ms is not None and self._idle_since is not None and now_ms - self._idle_since >= self.idle_ms:
            # Quiet stream: let event time advance with the injected clock so windows still close.
            wm = max(wm, self.max_ts + (now_ms - self._idle_since) - self.lateness_ms)
        return wm

    def next_close_ms(self, now_ms: int) -> int | None:
        """When (injected-clock ms) the oldest open window will be emitted if no further record arrives:
        the idle rule lets event time run on once the stream has been quiet for ``idle_timeout``, so it is
        ``last record + max(idle_timeout, window end − max event time + allowed lateness)``; ``now_ms`` if the
        watermark has already passed it (the next batch emits it); None with no open window."""
        if not self._open or self.max_ts is None:
            return None
        end = min(start for _, start in self._open) + self.size_ms
        if self.max_ts - self.lateness_ms >= end:
            return now_ms
        since = self._idle_since if self._idle_since is not None else now_ms
        return max(now_ms, since + max(self.idle_ms, end - self.max_ts + self.lateness_ms))

    def close(self, now_ms: int | None) -> list[WindowCounter]:
        """Emit windows the watermark has passed, plus re-emissions of windows that took late records."""
        if now_ms is not None and self._idle_since is None:
            self._idle_since = now_ms  # e.g. just restored: the idle timer starts at the first tick
        wm = self.watermark(now_ms)
        out: list[WindowCounter] = []
        if wm is not None:
            boundary = wm - wm % self.size_ms
            # [s, s+size) is complete when wm ≥ s + size; for window-aligned s that is s < boundary.
            out.extend(self._close_before(boundary))
        out.extend(self._reemit_dirty())
        self._expire()
        return out

    def flush(self) -> list[WindowCounter]:
        """Close every open window (end of input)."""
        out: list[WindowCounter] = []
        if self._open:
            last = max(start for _, start in self._open)
            out.extend(self._close_before(last + self.size_ms))
        out.extend(self._reemit_dirty())
        return out

    def _close_before(self, boundary: int) -> list[WindowCounter]:
        ct = self.closed_through
        if ct is None:
            if not self._open:
                return []
            ct = min(start for _, start in self._open)
        if boundary <= ct:
            return []
        size = self.size_ms
        if self.emit_empty and (boundary - ct) // size <= MAX_EMPTY_FILL:
            starts = range(ct, boundary, size)
        else:
            starts = sorted({s for _, s in self._open if s < boundary})
        out: list[WindowCounter] = []
        for start in starts:
            for j, (_, slos) in enumerate(self._journeys):
                acc = self._open.pop((j, start), None)
                if acc is None:
                    if not self.emit_empty:
                        continue
                    acc = WindowAcc(j, start, len(slos))
                self._closed[(j, start)] = acc
                out.extend(self._emit(acc))
        self.closed_through = boundary
        return out

    def _reemit_dirty(self) -> list[WindowCounter]:
        out: list[WindowCounter] = []
        for acc in sorted(self._dirty.values(), key=lambda a: (a.start, a.journey)):
            out.extend(self._emit(acc))
        self._dirty.clear()
        return out

    def _expire(self) -> None:
        if self.closed_through is None or not self._closed:
            return
        # Keep every window a record that passes too_late() could still belong to: drop by window end.
        horizon = self.closed_through - self.retain_ms - self.size_ms
        stale = [k for k in self._closed if k[1] < horizon]
        for k in stale:
            del self._closed[k]

    def _emit(self, acc: WindowAcc) -> list[WindowCounter]:
        acc.revision += 1
        name, slos = self._journeys[acc.journey]
        end = acc.start + self.size_ms
        return [
            WindowCounter(
                journey=name, slo=slo, window_start_ms=acc.start, window_end_ms=end,
                good=acc.good[i], total=acc.total[i], raw_good=acc.raw_good[i], raw_total=acc.raw_total[i],
                filtered=dict(acc.filtered), networks=top_networks(acc.networks),
                skipped={"no_duration": acc.no_duration[i]} if acc.no_duration[i] else {},
                late=acc.late, revision=acc.revision, partition=self.partition)
            for i, slo in enumerate(slos)
        ]
