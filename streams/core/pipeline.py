"""The core, composed: ``Pipeline.process(batch, now_ms) -> Outputs``.

decode → too-late/future check → trusted-proxy client IP → exclusions → filters → journey → judge → window.

Contract:
- Every record in a batch ends in exactly one verdict — counted, filtered(reason), excluded(reason),
  unmatched or dead_letter(reason) — so ``consumed = counted + Σfiltered + Σexcluded + unmatched +
  Σdead_lettered`` holds for every batch and for the run (``Tally.check_conservation``).
- Filters run on every non-excluded request, matched or not, so behavioural state (rates, 404s, logins)
  sees the client's whole traffic; a filtered request that matched a journey still counts in the
  journey's raw_good/raw_total and in its ``filtered`` tally.
- Deterministic: outputs are a function of (config, records in order, injected ``now_ms``). ``now_ms``
  (injected clock, epoch ms) is used only to reject far-future timestamps and to close windows on idle.
- Nothing here raises on input. One Pipeline owns its state (per-IP, windows); use one per partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from streams.config import Config
from streams.core import batch_core
from streams.core.columns import ColumnBatch
from streams.core.decode import RAW_LIMIT, Decoder
from streams.core.filters import FilterChain
from streams.core.filters.ip_lists import CidrSet
from streams.core.journeys import Router
from streams.core.networks import network_of
from streams.core.judge import build_judge
from streams.core.windows import Windows
from streams.core.model import DeadLetter, IpFlag, RecordVerdict, WindowCounter


@dataclass(slots=True)
class Origin:
    """Where a batch came from: a file (source=path, first=line number of item 0) or a Kafka partition
    (source=topic, partition, offsets per item)."""

    source: str = "-"
    partition: int | None = None
    first: int = 1
    offsets: Sequence[int] | None = None

    def position(self, i: int) -> int:
        return self.offsets[i] if self.offsets is not None else self.first + i


@dataclass(slots=True)
class Tally:
    """Record counts by verdict. ``late`` counts journey records whose window had already closed."""

    consumed: int = 0
    counted: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    late: int = 0

    def add(self, other: "Tally") -> None:
        self.consumed += other.consumed
        self.counted += other.counted
        self.unmatched += other.unmatched
        self.late += other.late
        for mine, theirs in ((self.filtered, other.filtered), (self.excluded, other.excluded),
                             (self.dead_lettered, other.dead_lettered)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v

    def accounted(self) -> int:
        return (self.counted + sum(self.filtered.values()) + sum(self.excluded.values()) + self.unmatched
                + sum(self.dead_lettered.values()))

    def check_conservation(self) -> None:
        if self.accounted() != self.consumed:
            raise AssertionError(f"conservation broken: consumed={self.consumed} accounted={self.accounted()}")

    def to_dict(self) -> dict:
        return {"consumed": self.consumed, "counted": self.counted, "filtered": dict(sorted(self.filtered.items())),
                "excluded": dict(sorted(self.excluded.items())), "unmatched": self.unmatched,
                "dead_lettered": sum(self.dead_lettered.values()),
                "dead_letter_reasons": dict(sorted(self.dead_lettered.items())), "late": self.late}


@dataclass(slots=True)
class Outputs:
    """What one ``process``/``flush`` call produced."""

    counters: list[WindowCounter]
    dead_letters: list[DeadLetter]
    tally: Tally
    flags: list[IpFlag]
    verdicts: list[RecordVerdict] | None = None


_NET_CACHE_LIMIT = 8_192  # repeat clients (bot pools, NATs) fit; kept small for the 1M-IP memory bar


def _raw_text(item: bytes | str | dict) -> str:
    if isinstance(item, dict):
        return repr(item)[:RAW_LIMIT]
    if isinstance(item, str):
        return item[:RAW_LIMIT]
    # Escaping can make text up to 4× longer than its bytes: bound the result, not just the input.
    return bytes(item[:RAW_LIMIT]).decode("utf-8", "backslashreplace")[:RAW_LIMIT]


class Pipeline:
    """One stream's worth of core state. Not thread-safe; feed batches in order."""

    def __init__(self, config: Config, *, partition: int | None = None, collect_verdicts: bool = False,
                 track_state_changes: bool = False) -> None:
        self.config = config
        self.decoder = Decoder(config.input)
        self.router = Router(config)
        self.filters = FilterChain(config.filters, config.state, track_changes=track_state_changes,
                                   keep=tuple(frozenset(j.keep) for j in config.journeys),
                                   serves=config.site.serves())
        self.judges = [tuple(build_judge(s) for s in j.slos) for j in config.journeys]
        self.windows = Windows(config.windows, [(j.name, tuple(s.name for s in j.slos)) for j in config.journeys],
                               partition)
        self._proxies = CidrSet(config.input.trusted_proxies) if config.input.trusted_proxies else None
        self._future_ms = config.windows.max_future_skew_s * 1000
        self.collect_verdicts = collect_verdicts
        self.tally = Tally()
        self._v4_prefix = config.detection.network_prefix_v4
        self._v6_prefix = config.detection.network_prefix_v6
        self._net_cache: dict[str, str] = {}  # client IP → its network; bounded by _NET_CACHE_LIMIT
        # The batch core judges per duration bucket: cut at every latency threshold, a bucket's
        # representative duration (its upper bound) judges exactly as any duration inside it.
        self._latency_thresholds = sorted({j.threshold_ms for js in self.judges for j in js if j.is_latency})
        self._bucket_reps = [*self._latency_thresholds, float("inf")]
        self._bad_status_sets = [  # per journey, per SLO: the bad statuses of an availability SLO, or None
            [pa.array([c for c in range(1000) if j.bad_status[c]], pa.int64())
             if not j.is_latency and any(j.bad_status) else None for j in js] for js in self.judges]

    def _network(self, ip: str) -> str:
        """``network_of(ip)`` with this pipeline's prefixes, remembered: the same clients (bots above all)
        come back for many requests. The miss path of the loop's cache lookup."""
        net = network_of(ip, self._v4_prefix, self._v6_prefix)
        if len(self._net_cache) >= _NET_CACHE_LIMIT:
            self._net_cache.clear()
        self._net_cache[ip] = net
        return net

    def process(self, batch: Sequence[bytes | str | dict] | ColumnBatch, now_ms: int | None = None,
                origin: Origin | None = None) -> Outputs:
        """Decode ``batch`` into columns (unless a source already did) and run the batch core over them
        (core/batch_core.py)."""
        if type(batch) is ColumnBatch:
            cols, items = batch.columns, batch.items
        else:
            cols, items = self.decoder.decode_columns(batch), batch
        return batch_core.process(self, cols, now_ms, origin or Origin(), lambda i: _raw_text(items[i]))

    def flush(self) -> Outputs:
        """End of input: close every open window."""
        return Outputs(self.windows.flush(), [], Tally(), [], [] if self.collect_verdicts else None)
