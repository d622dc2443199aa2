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

from streams.config import Config
from streams.core.decode import RAW_LIMIT, DecodeFailure, Decoder, normalize_ip
from streams.core.filters import FilterChain
from streams.core.filters.ip_lists import CidrSet, resolve_forwarded
from streams.core.journeys import Router
from streams.core.networks import network_of, tally_network
from streams.core.judge import build_judge
from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS
from streams.core.windows import Windows
from streams.core.model import (COUNTED, DEAD_LETTER, EXCLUDED, FILTERED, UNMATCHED, DeadLetter, IpFlag,
                           RecordVerdict, WindowCounter)


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

    def _network(self, ip: str) -> str:
        """``network_of(ip)`` with this pipeline's prefixes, remembered: the same clients (bots above all)
        come back for many requests. The miss path of the loop's cache lookup."""
        net = network_of(ip, self._v4_prefix, self._v6_prefix)
        if len(self._net_cache) >= _NET_CACHE_LIMIT:
            self._net_cache.clear()
        self._net_cache[ip] = net
        return net

    def process(self, batch: Sequence[bytes | str | dict], now_ms: int | None = None,
                origin: Origin | None = None) -> Outputs:
        origin = origin or Origin()
        tally = Tally(consumed=len(batch))
        dead: list[DeadLetter] = []
        flags: list[IpFlag] = []
        verdicts: list[RecordVerdict] | None = [] if self.collect_verdicts else None
        decode = self.decoder.batch_decoder(batch)
        classify = self.router.classify
        check = self.filters.check
        windows = self.windows
        judges = self.judges
        journey_names = self.router.journey_names
        proxies = self._proxies
        # Both bounds are fixed for the whole batch (windows close only after it); decoded timestamps lie
        # in [MIN_TS_MS, MAX_TS_MS), so the "no bound" values below never reject anything.
        closed_through = windows.closed_through
        late_before = closed_through - windows.retain_ms if closed_through is not None else MIN_TS_MS
        future_limit = now_ms + self._future_ms if now_ms is not None else MAX_TS_MS
        net_cache = self._net_cache
        filtered_t, excluded_t, dead_t = tally.filtered, tally.excluded, tally.dead_lettered
        counted = unmatched = late_n = 0
        max_ts = 0  # no record yet (timestamps are ≥ MIN_TS_MS > 0)

        for i, item in enumerate(batch):
            req = decode(item)
            if type(req) is DecodeFailure:
                reason, error = req
                req = None
            else:
                ts = req.ts_ms
                if ts < late_before:
                    reason, error = "too_late", "older than the retained closed windows (windows.retain_closed_s)"
                elif ts > future_limit:
                    reason, error = "future_timestamp", "ahead of the clock by more than windows.max_future_skew_s"
                else:
                    reason = None
            if reason is not None:
                dead_t[reason] = dead_t.get(reason, 0) + 1
                dead.append(DeadLetter(reason, error, _raw_text(item), origin.source, origin.partition,
                                       origin.position(i), req.ts_ms if req is not None else None))
                if verdicts is not None:
                    verdicts.append(RecordVerdict(origin.source, origin.position(i), None, DEAD_LETTER, reason,
                                                  None))
                continue

            if ts > max_ts:
                max_ts = ts
            if proxies is not None and req.forwarded_for and req.client_ip in proxies:
                req.client_ip = resolve_forwarded(req.client_ip, req.forwarded_for, proxies, normalize_ip)

            journey, excl_reason, rule = classify(req.method, req.host, req.path, req.user_agent)
            if excl_reason is not None:
                excluded_t[excl_reason] = excluded_t.get(excl_reason, 0) + 1
                if verdicts is not None:
                    verdicts.append(RecordVerdict(origin.source, origin.position(i), None, EXCLUDED,
                                                  excl_reason, rule))
                continue

            drop = check(req, flags, journey)
            if journey < 0:
                if drop is None:
                    unmatched += 1
                    verdict, why, rule = UNMATCHED, None, None
                else:
                    filtered_t[drop[0]] = filtered_t.get(drop[0], 0) + 1
                    verdict, why, rule = FILTERED, drop[0], drop[1]
                if verdicts is not None:
                    verdicts.append(RecordVerdict(origin.source, origin.position(i), None, verdict, why, rule))
                continue

            acc, is_late = windows.acc_for(journey, ts)
            if is_late:
                late_n += 1
            status = req.status
            duration = req.duration_ms
            raw_good, raw_total = acc.raw_good, acc.raw_total
            if drop is None:
                good, total = acc.good, acc.total
                any_bad = False
                for k, judge in enumerate(judges[journey]):
                    g = judge.judge(status, duration)
                    if g < 0:
                        acc.no_duration[k] += 1
                        continue
                    raw_total[k] += 1
                    total[k] += 1
                    if g:
                        raw_good[k] += 1
                        good[k] += 1
                    else:
                        any_bad = True
                if any_bad:
                    net = net_cache.get(req.client_ip)
                    tally_network(acc.networks, net if net is not None else self._network(req.client_ip))
                counted += 1
                verdict, why = COUNTED, None
            else:
                for k, judge in enumerate(judges[journey]):
                    g = judge.judge(status, duration)
                    if g >= 0:
                        raw_total[k] += 1
                        raw_good[k] += g
                why, rule = drop
                acc.filtered[why] = acc.filtered.get(why, 0) + 1
                net = net_cache.get(req.client_ip)
                tally_network(acc.networks, net if net is not None else self._network(req.client_ip))
                filtered_t[why] = filtered_t.get(why, 0) + 1
                verdict = FILTERED
            if verdicts is not None:
                verdicts.append(RecordVerdict(origin.source, origin.position(i), journey_names[journey], verdict,
                                              why, rule))

        tally.counted = counted
        tally.unmatched = unmatched
        tally.late = late_n
        if max_ts:
            windows.observe(max_ts, now_ms)
            self.filters.store.expire(windows.max_ts)
        counters = windows.close(now_ms)
        self.tally.add(tally)
        return Outputs(counters, dead, tally, flags, verdicts)

    def flush(self) -> Outputs:
        """End of input: close every open window."""
        return Outputs(self.windows.flush(), [], Tally(), [], [] if self.collect_verdicts else None)
