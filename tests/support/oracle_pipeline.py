"""The per-record core, kept only as the test oracle of the batch core (streams/core/pipeline.py).

``OraclePipeline`` is a :class:`~streams.core.pipeline.Pipeline` whose ``process`` walks the batch one
record at a time, exactly as the product did before the batch core: tests feed both the same batches and
demand identical outputs (counters, dead letters, tallies, flags, verdicts). It is not product code.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.decode import DecodeFailure
from streams.core.filters.ip_lists import resolve_forwarded
from streams.core.decode import normalize_ip
from streams.core.model import (COUNTED, DEAD_LETTER, EXCLUDED, FILTERED, UNMATCHED, DeadLetter, IpFlag,
                                RecordVerdict)
from streams.core.networks import tally_network
from streams.core.pipeline import Origin, Outputs, Pipeline, Tally, _raw_text
from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS


class OraclePipeline(Pipeline):
    """The record-at-a-time reference implementation (same state, same outputs)."""

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
