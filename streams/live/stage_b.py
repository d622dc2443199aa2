"""Stage B of the live worker: per-partition partial counters → the merged ``sli_counter``, and detection.

Partials are keyed journey|slo|window_start|partition; the table holds, per merged key
(journey|slo|window_start), the latest partial of every partition (last write wins, in the order the
partials partition delivers them). The merged counter is ``streams.core.merge.merge_window`` of them —
the same merge, revision rule included, as a finite run's CounterBook — so a compacted ``sli.counters``
always ends with the complete value, under a revision that grew with every partial update.

:class:`StageB` owns the logic and its state; ``streams.live.worker.build_app`` wires faust to it (the
agent over the partials topic, a timer, the table) and does the sends. It is driven from faust's event
loop only, so it needs no lock. Transport-free: the faust table is any mutable mapping whose missing keys
read as ``{}``, and the partials-partition assignment comes from a callable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass

import orjson

from streams.config import Config
from streams.core.detect import Anomaly
from streams.core.merge import merge_window
from streams.core.model import DeadLetter, WindowCounter
from streams.live.detection import ChangeFeed, LiveDetection, UserReportFeed
from streams.live.stage_a import partial_partition
from streams.sinks.serialize import counter_from_dict

log = logging.getLogger("truesli.app")

Table = MutableMapping[str, dict[str, dict]]
"""merged key → {str(partition): partial document}; a missing key reads as ``{}`` (faust Table default)."""


@dataclass(slots=True)
class StageBStats:
    """What /metrics shows about Stage B. Written and read on faust's event loop (the web pages too)."""

    skipped: int = 0  # partials that could not be parsed (skipped, never stored)
    change_dead_letters: int = 0  # ops.changes records that were not change events
    user_report_dead_letters: int = 0  # ops.user_reports records that were not user reports
    detection_errors: int = 0  # detection steps that raised (logged; Stage B goes on)


def merged_key(partial: dict) -> str:
    return f"{partial['journey']}|{partial['slo']}|{partial['window_start']}"


def merge_partials(partials: Iterable[dict]) -> WindowCounter:
    """The merged counter of one window's partial documents (all of one merged key)."""
    return merge_window(counter_from_dict(p) for p in partials)


class StageB:
    """Merges partials into counters and drives the detectors.

    ``assignment()`` returns this worker's partials partitions, or None while faust rebalances or recovers
    the table (nothing may be judged on a half-restored history). With detection off, ``detection`` and
    ``feed``/``reports_feed`` are None and only the merge runs."""

    def __init__(self, config: Config, table: Table, *, partials_partitions: int,
                 assignment: Callable[[], set[int] | None]) -> None:
        self.table = table
        self.partials_partitions = partials_partitions
        self.assignment = assignment
        self.stats = StageBStats()
        self.feed = ChangeFeed(config) if config.detection.enabled else None
        self.reports_feed = UserReportFeed(config) if config.detection.enabled else None
        self.detection = LiveDetection(config, caught_up=False) if self.feed is not None else None
        self._owned: set[int] | None = None  # partials partitions the detector was last built for

    # -- merge -----------------------------------------------------------------------------------------
    def accept(self, value: bytes) -> tuple[str, WindowCounter] | None:
        """Store one partials message and return (merged key, merged counter) to publish; None (counted
        in ``stats.skipped``) for a message that is not a valid partial — skipped, never crashing."""
        out = self.accept_many([value])
        return out[0] if out else None

    def accept_many(self, values: Iterable[bytes]) -> list[tuple[str, WindowCounter]]:
        """Store a run of partials messages (in delivery order) and return, once per merged key they touch
        (in order of first touch), the key and its merged counter after all of them: what publishing after
        every message would end with, with one table write, one publish and one detector step per key
        instead of one per partition's partial. Invalid messages are skipped and counted as in
        :meth:`accept`."""
        entries: dict[str, dict[str, dict]] = {}
        for value in values:
            try:
                partial = orjson.loads(value)
                key = merged_key(partial)
                counter_from_dict(partial)  # all fields present and typed: never store what cannot merge
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                self.stats.skipped += 1  # not ours: skip, never crash
                log.warning("Stage B skipped a malformed partial: %s", exc)
                continue
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = dict(self.table[key])
            entry[str(partial.get("partition"))] = partial
        out = []
        for key, entry in entries.items():
            self.table[key] = entry
            out.append((key, merge_partials(entry.values())))
        return out

    # -- detection -------------------------------------------------------------------------------------
    def observe(self, counter: WindowCounter) -> list[Anomaly]:
        """Feed a published merged counter to the detectors; anomalies to send (none with detection off)."""
        if self.detection is None:
            return []
        detection = self.detection
        return self._detect(lambda: detection.observe(counter))

    def drain_changes(self) -> list[DeadLetter]:
        """Move the change events and user reports read so far into the detectors; the records that were
        not change events / user reports come back as dead letters to publish. Marks the detectors caught
        up once both feeds are ready."""
        if self.detection is None:
            return []
        # Read before draining: once a feed is ready, everything up to its end is already queued.
        caught_up = self.feed.ready.is_set() and self.reports_feed.ready.is_set()
        bad = []
        for item in self.feed.drain():
            if isinstance(item, DeadLetter):
                self.stats.change_dead_letters += 1
                bad.append(item)
            else:
                self.detection.observe_change(item)
        for item in self.reports_feed.drain():
            if isinstance(item, DeadLetter):
                self.stats.user_report_dead_letters += 1
                bad.append(item)
            else:
                self.detection.observe_report(item)
        if caught_up:
            self.detection.caught_up = True
        return bad

    def tick(self) -> list[Anomaly]:
        """The idle-stream evaluation (called by a timer after :meth:`drain_changes`)."""
        if self.detection is None:
            return []
        return self._detect(self.detection.tick)

    def _detect(self, step: Callable[[], list[Anomaly]]) -> list[Anomaly]:
        """Run one detection step; a detector failure is logged and counted, never stops Stage B."""
        try:
            if not self._sync_assignment():
                return []  # the table is being restored; what arrives meanwhile is in it for the rebuild
            return step()
        except Exception:
            self.stats.detection_errors += 1
            log.exception("detection step failed")
            return []

    def _sync_assignment(self) -> bool:
        """(Re)build the detector when this worker's partials partitions change (start, restart, rebalance):
        it holds exactly the SLOs whose partials this worker owns, from the recovered table. False while
        faust is rebalancing or recovering the table (the next call after recovery rebuilds)."""
        current = self.assignment()
        if current is None:
            self._owned = None
            return False
        if current == self._owned:
            return True
        self._owned = current
        rows = []
        for entry in self.table.values():
            if not entry:
                continue
            merged = merge_partials(entry.values())
            if partial_partition(merged.journey, merged.slo, self.partials_partitions) in current:
                rows.append(merged)
        self.detection.rebuild(sorted(rows, key=lambda c: c.window_start_ms))
        log.info("detectors rebuilt for partials partitions %s (%d windows)", sorted(current), len(rows))
        return True
