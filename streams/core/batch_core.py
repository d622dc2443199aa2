"""The batch core: one batch of :class:`RequestColumns` → :class:`Outputs`, deciding per distinct value.

Same contract and same outputs as a record-at-a-time walk (tests/support/oracle_pipeline.py is that walk,
kept as the oracle; tests/unit/core/test_batch_core.py demands identical outputs), but the per-record
Python is gone wherever a decision depends on values rather than on order:

- time checks (too late, too far ahead), window starts and lateness: Arrow compute over the columns;
- routes and exclusions: once per distinct (method, host, path) — and per (route, user agent) only for a
  route whose exclusion depends on the user agent;
- stateless filters: once per distinct user agent (the ``ua_only`` chains) and per (journey, verdict);
- judging: once per distinct (journey, window, drop, status, duration bucket) group, where the buckets
  are cut at the configured latency thresholds, so every duration in a bucket judges alike;
- network evidence: per distinct (journey, window, client IP), replayed in first-appearance order so the
  bounded tally (core/networks.py) ends exactly as a record-by-record tally would.

Only the records that reach the per-IP filters (rate, scanner, credential stuffing) are walked one by
one, in batch order: their verdicts depend on every earlier request of the same IP. A chain with IP lists
in its stateless filters (synthetic-agent CIDRs, a deny list) is walked per record too.

State is the Pipeline's (windows, per-IP store, caches); nothing here keeps any.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.arrays import filled, marked
from streams.core.columns import RequestColumns
from streams.core.decode import normalize_ip
from streams.core.filters.ip_batch import stateful_batch
from streams.core.filters.ip_lists import resolve_forwarded
from streams.core.model import (COUNTED, DEAD_LETTER, EXCLUDED, FILTERED, UNMATCHED, DeadLetter, IpFlag,
                                RecordVerdict, Request)
from streams.core.networks import tally_network
from streams.core.route_columns import classify_columns, route_mask
from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS

if TYPE_CHECKING:
    from streams.core.pipeline import Origin, Outputs, Pipeline

_TOO_LATE = ("too_late", "older than the retained closed windows (windows.retain_closed_s)")
_FUTURE = ("future_timestamp", "ahead of the clock by more than windows.max_future_skew_s")
_INT64 = pa.int64()


def _codes(arr: pa.Array, enc: pa.Array | None = None) -> tuple[pa.Array, list]:
    """(per-row index into the distinct values, the distinct values) of a column without nulls; ``enc``:
    its dictionary encoding when the decode already made it."""
    enc = pc.dictionary_encode(arr) if enc is None else enc
    return enc.indices.cast(_INT64), enc.dictionary.to_pylist()


def _per_row(indices: pa.Array, values: list, type_: pa.DataType = _INT64) -> pa.Array:
    """``values[indices[i]]`` for every row, in C."""
    return pc.take(pa.array(values, type_), indices)


def _combine(a: pa.Array, b: pa.Array, b_size: int) -> pa.Array:
    """One int64 key per row for the pair (a, b), b in [0, b_size)."""
    return pc.add(pc.multiply(a, b_size), b)


def process(p: "Pipeline", cols: RequestColumns, now_ms: int | None, origin: "Origin",
            raw_of: Callable[[int], str]) -> "Outputs":
    from streams.core.pipeline import Tally  # the pipeline imports this module

    n = cols.n
    tally = Tally(consumed=n)
    windows = p.windows
    flags: list[IpFlag] = []
    collect = p.collect_verdicts
    # Per row: (verdict, reason, rule, journey index) for --verdicts; only filled when asked for.
    row_verdicts: list | None = [None] * n if collect else None

    # -- dead letters: decode failures, then records outside the time bounds (fixed for the batch) --------
    closed_through = windows.closed_through
    late_before = closed_through - windows.retain_ms if closed_through is not None else MIN_TS_MS
    future_limit = now_ms + p._future_ms if now_ms is not None else MAX_TS_MS
    ts = cols.ts_ms
    dead_rows: dict[int, tuple[str, str, int | None]] = {i: (f[0], f[1], None) for i, f in cols.failures.items()}
    alive_n = n - len(cols.failures)
    if alive_n:
        lo_hi = pc.min_max(ts)
        if lo_hi["min"].as_py() < late_before or lo_hi["max"].as_py() > future_limit:
            for reason_error, mask in ((_TOO_LATE, pc.less(ts, late_before)),
                                       (_FUTURE, pc.greater(ts, future_limit))):
                for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist():
                    dead_rows[i] = (reason_error[0], reason_error[1], ts[i].as_py())
    dead: list[DeadLetter] = []
    dead_t = tally.dead_lettered
    for i in sorted(dead_rows):
        reason, error, dts = dead_rows[i]
        dead_t[reason] = dead_t.get(reason, 0) + 1
        dead.append(DeadLetter(reason, error, raw_of(i), origin.source, origin.partition, origin.position(i),
                               dts))
        if row_verdicts is not None:
            row_verdicts[i] = (DEAD_LETTER, reason, None, -1)

    if len(dead_rows) == n:
        return _finish(p, tally, now_ms, None, dead, flags, row_verdicts, origin)

    # -- the living rows, as columns (row k of these = batch item rows[k]) --------------------------------
    if dead_rows:
        sel = pc.indices_nonzero(pc.invert(marked(dead_rows, n)))
        rows: list[int] | None = sel.to_pylist()
        take = lambda col: pc.take(col, sel)  # noqa: E731
    else:
        rows = None
        take = lambda col: col  # noqa: E731
    # The decode's own encodings of these columns hold for the batch's rows; after a take they do not.
    encoded = (cols.encoded or {}) if rows is None else {}
    ts = take(cols.ts_ms)
    ip = take(cols.client_ip)
    method = take(cols.method)
    host = take(cols.host)
    path = take(cols.path)
    status = take(cols.status)
    duration = take(cols.duration_ms)
    ua = take(cols.user_agent)
    synthetic = take(cols.synthetic)
    m = len(ts)
    max_ts = pc.max(ts).as_py()

    if p._proxies is not None:
        ip = _resolve_proxies(p, ip, take(cols.forwarded_for))

    # -- routes and exclusions, per distinct (method, host, path) [and user agent where it matters] -------
    ua_idx, ua_values = _codes(ua, encoded.get("user_agent"))
    m_enc, h_enc, p_enc = (pc.dictionary_encode(col) if encoded.get(name) is None else encoded[name]
                           for name, col in (("method", method), ("host", host), ("path", path)))
    m_idx, h_idx, p_idx = (e.indices.cast(_INT64) for e in (m_enc, h_enc, p_enc))
    n_h, n_p = len(h_enc.dictionary), len(p_enc.dictionary)
    route_enc = pc.dictionary_encode(_combine(_combine(m_idx, h_idx, n_h), p_idx, n_p))
    route_idx = route_enc.indices.cast(_INT64)
    keys = route_enc.dictionary
    # The distinct routes as three columns: key = (m * n_h + h) * n_p + p.
    r_p = pc.subtract(keys, pc.multiply(pc.divide(keys, n_p), n_p))
    mh = pc.divide(keys, n_p)
    r_h = pc.subtract(mh, pc.multiply(pc.divide(mh, n_h), n_h))
    r_m = pc.divide(mh, n_h)
    r_methods, r_hosts, r_paths = (pc.take(m_enc.dictionary, r_m), pc.take(h_enc.dictionary, r_h),
                                   pc.take(p_enc.dictionary, r_p))
    row_answer, answer_list = classify_columns(p.router, r_methods, r_hosts, r_paths, route_idx, ua_values, ua_idx)
    journey_of_answer = [a[0] for a in answer_list]
    excluded_answer = [a[1] is not None for a in answer_list]
    row_journey = _per_row(row_answer, journey_of_answer)

    # -- filters: drop id per row (-1 = a real user so far) ---------------------------------------------
    drops: dict[tuple[str, str], int] = {}
    drop_list: list[tuple[str, str]] = []

    def drop_id(v: tuple[str, str] | None) -> int:
        if v is None:
            return -1
        k = drops.get(v)
        if k is None:
            k = drops[v] = len(drop_list)
            drop_list.append(v)
        return k

    filters = p.filters
    row_excluded = _per_row(row_answer, excluded_answer, pa.bool_())
    any_excluded = any(excluded_answer)
    if filters.ua_only:
        verdict_of_ua = [filters.ua_verdict(u) for u in ua_values]
        vid = [drop_id(v) for v in verdict_of_ua]
        row_v = _per_row(ua_idx, vid)
        # keep: per (journey, verdict) pair
        jv = _combine(pc.add(row_journey, 1), pc.add(row_v, 1), len(drop_list) + 1)
        jv_idx, jv_keys = _codes(jv)
        per_jv = []
        for key in jv_keys:
            j1, v1 = divmod(key, len(drop_list) + 1)
            v = v1 - 1
            per_jv.append(-1 if v < 0 or filters.kept(j1 - 1, drop_list[v][0]) else v)
        row_drop = _per_row(jv_idx, per_jv)
        if filters.synthetic_flag and pc.any(synthetic).as_py():
            # The request's own flag drops it first, whatever its user agent and whatever the journey keeps.
            row_drop = pc.if_else(synthetic, drop_id(("synthetic", "flag")), row_drop)
        walk = None
    else:
        row_drop = None
        walk = _pylists(ts, ip, method, host, path, status, duration, ua, take(cols.rate_limited), synthetic,
                        take(cols.forwarded_for))

    # -- per-IP filters: only the rows that reach them; only the IPs that can change are walked ---------
    if filters.has_stateful or walk is not None:
        if row_drop is not None:
            reach = pc.and_(pc.equal(row_drop, -1), pc.invert(row_excluded)) if any_excluded else \
                pc.equal(row_drop, -1)
            reach = pc.and_(reach, pc.not_equal(ip, ""))
            which = pc.indices_nonzero(reach)
            if len(which):
                sub = [pc.take(c, which) for c in (ts, ip, method, host, path, status, duration, ua,
                                                   take(cols.rate_limited), synthetic, take(cols.forwarded_for))]

                def requests_of(rows: list[int]) -> list:
                    if len(rows) == len(which):
                        return _pylists(*sub)
                    sel_rows = pa.array(rows, _INT64)
                    return _pylists(*(pc.take(c, sel_rows) for c in sub))

                stuffing = filters.stuffing
                login = None
                if stuffing is not None:  # login routes per distinct route, as one mask
                    for match, regex in zip(stuffing.route_matches, stuffing.route_regexes):
                        mk = route_mask(match, regex, r_methods, r_hosts, r_paths)
                        mk = filled(True, len(r_paths)) if mk is None else mk
                        login = mk if login is None else pc.or_(login, mk)
                    if login is None:
                        login = filled(False, len(r_paths))

                # The reaching rows' own distinct paths (a quarter of the batch's on the generated mixes):
                # the per-IP rules' quiet test and steps look each one up, none of the others.
                reach_p = pc.dictionary_encode(pc.take(p_idx, which))
                verdicts = stateful_batch(
                    filters, requests_of, sub[0], sub[1], sub[5], sub[8], pc.take(ua_idx, which), ua_values,
                    reach_p.indices, pc.take(p_enc.dictionary, reach_p.dictionary).to_pylist(),
                    pc.take(route_idx, which), login, pc.take(row_journey, which).to_pylist(), flags)
                new = [drop_id(v) for v in verdicts]
                row_drop = pc.replace_with_mask(row_drop, reach, pa.array(new, _INT64))
        else:
            ex_l = row_excluded.to_pylist()
            jl = row_journey.to_pylist()
            out = []
            for req, j, ex in zip(walk, jl, ex_l):
                out.append(-1 if ex else drop_id(filters.check(req, flags, j)))
            row_drop = pa.array(out, _INT64)

    # -- tallies of excluded / unmatched / filtered-without-journey rows --------------------------------
    excluded_t, filtered_t = tally.excluded, tally.filtered
    if any_excluded:
        ex_counts = pc.value_counts(pc.filter(row_answer, row_excluded))
        for item in ex_counts:
            a = answer_list[item["values"].as_py()]
            excluded_t[a[1]] = excluded_t.get(a[1], 0) + item["counts"].as_py()
        live = pc.invert(row_excluded)
    else:
        live = None
    no_journey = pc.less(row_journey, 0)
    if live is not None:
        no_journey = pc.and_(no_journey, live)
    nj_drops = pc.value_counts(pc.filter(row_drop, no_journey))
    unmatched = 0
    for item in nj_drops:
        d = item["values"].as_py()
        c = item["counts"].as_py()
        if d < 0:
            unmatched += c
        else:
            filtered_t[drop_list[d][0]] = filtered_t.get(drop_list[d][0], 0) + c

    # -- journeys: windows, judging and networks per group ----------------------------------------------
    in_journey = pc.greater_equal(row_journey, 0)
    counted = late_n = 0
    if pc.any(in_journey).as_py():
        counted, late_n = _windows(p, in_journey, row_journey, ts, status, duration, ip, row_drop, drop_list,
                                   filtered_t)

    tally.counted = counted
    tally.unmatched = unmatched
    tally.late = late_n

    if row_verdicts is not None:
        jl = row_journey.to_pylist()
        dl = row_drop.to_pylist()
        al = row_answer.to_pylist()
        for k in range(m):
            i = rows[k] if rows is not None else k
            a = answer_list[al[k]]
            if a[1] is not None:
                row_verdicts[i] = (EXCLUDED, a[1], a[2], -1)
                continue
            j, d = jl[k], dl[k]
            if d < 0:
                row_verdicts[i] = (COUNTED, None, a[2], j) if j >= 0 else (UNMATCHED, None, None, -1)
            else:
                row_verdicts[i] = (FILTERED, drop_list[d][0], drop_list[d][1], j)
    return _finish(p, tally, now_ms, max_ts, dead, flags, row_verdicts, origin)


def _windows(p: "Pipeline", in_journey, row_journey, ts, status, duration, ip, row_drop, drop_list,
             filtered_t) -> tuple[int, int]:
    """Count the journey rows into their windows; returns (counted, late)."""
    windows = p.windows
    size = windows.size_ms
    sel = pc.indices_nonzero(in_journey)
    j = pc.take(row_journey, sel)
    t = pc.take(ts, sel)
    st = pc.take(status, sel)
    du = pc.take(duration, sel)
    dr = pc.take(row_drop, sel)
    start = pc.multiply(pc.divide(t, size), size)  # event times are positive: truncation is floor
    thresholds = p._latency_thresholds
    if thresholds:
        known = pc.invert(pc.is_null(du))
        bucket = None
        for thr in thresholds:
            over = pc.cast(pc.invert(pc.less_equal(du, thr)), _INT64)
            bucket = over if bucket is None else pc.add(bucket, over)
        bucket = pc.if_else(known, bucket, -1)
        bucket = pc.fill_null(bucket, -1)
    else:
        bucket = pc.if_else(pc.is_null(du), -1, 0)
    table = pa.table({"j": j, "start": start, "drop": dr, "status": st, "bucket": bucket, "n": t})
    groups = table.group_by(["j", "start", "drop", "status", "bucket"], use_threads=False).aggregate(
        [("n", "count")])
    g = groups.to_pydict()
    judges = p.judges
    reps = p._bucket_reps
    accs: dict[tuple[int, int], object] = {}
    counts: dict[tuple[int, int], int] = {}
    for jj, ss, _, _, _, c in zip(g["j"], g["start"], g["drop"], g["status"], g["bucket"], g["n_count"]):
        counts[(jj, ss)] = counts.get((jj, ss), 0) + c
    late_n = 0
    for (jj, ss), c in counts.items():
        acc, is_late = windows.acc_for_count(jj, ss, c)
        accs[(jj, ss)] = acc
        if is_late:
            late_n += c
    counted = 0
    # Each SLO's verdict once per (journey, status, duration bucket): the groups repeat them per window and
    # drop reason (a few hundred distinct against tens of thousands of groups per batch).
    verdicts_of: dict[tuple[int, int, int], tuple[int, ...]] = {}
    for jj, ss, d, s, b, c in zip(g["j"], g["start"], g["drop"], g["status"], g["bucket"], g["n_count"]):
        acc = accs[(jj, ss)]
        vs = verdicts_of.get((jj, s, b))
        if vs is None:
            dur = None if b < 0 else reps[b]
            vs = verdicts_of[(jj, s, b)] = tuple(judge.judge(s, dur) for judge in judges[jj])
        raw_good, raw_total = acc.raw_good, acc.raw_total
        if d < 0:
            good, total = acc.good, acc.total
            for k, v in enumerate(vs):
                if v < 0:
                    acc.no_duration[k] += c
                    continue
                raw_total[k] += c
                total[k] += c
                if v:
                    raw_good[k] += c
                    good[k] += c
            counted += c
        else:
            for k, v in enumerate(vs):
                if v >= 0:
                    raw_total[k] += c
                    raw_good[k] += v * c
            why = drop_list[d][0]
            acc.filtered[why] = acc.filtered.get(why, 0) + c
            filtered_t[why] = filtered_t.get(why, 0) + c
    # Networks of filtered or bad requests, in first-appearance order per window.
    bad = _any_bad(p, j, st, du)
    needs = pc.or_(pc.greater_equal(dr, 0), bad)
    if pc.any(needs).as_py():
        which = pc.indices_nonzero(needs)
        # Each distinct IP's network once, then rows grouped by (journey, window, network) on integer codes.
        ip_enc = pc.dictionary_encode(pc.take(pc.take(ip, sel), which))
        cache = p._net_cache
        net_code: dict[str, int] = {}
        codes = []
        for a in ip_enc.dictionary.to_pylist():
            net = cache.get(a)
            if net is None:
                net = p._network(a)
            codes.append(net_code.setdefault(net, len(net_code)))
        nets_of = list(net_code)
        nt = pa.table({"j": pc.take(j, which), "start": pc.take(start, which),
                       "net": pc.take(pa.array(codes, _INT64), ip_enc.indices), "first": which})
        # Sorted by first appearance (row positions are distinct): each window's networks come in its own
        # first-appearance order, which decides the ones it tracks (networks.tally_network).
        d = nt.group_by(["j", "start", "net"], use_threads=False).aggregate(
            [("first", "min"), ("first", "count")]).sort_by("first_min").to_pydict()
        for jj, ss, nc, c in zip(d["j"], d["start"], d["net"], d["first_count"]):
            tally_network(accs[(jj, ss)].networks, nets_of[nc], c)
    return counted, late_n


def _any_bad(p: "Pipeline", j, status, duration) -> pa.Array:
    """Per journey row: whether any of its journey's SLOs judges it bad (skips are not bad)."""
    out = None
    for jj, judges in enumerate(p.judges):
        bad_j = None
        for k, judge in enumerate(judges):
            if judge.is_latency:
                b = pc.fill_null(pc.invert(pc.less_equal(duration, judge.threshold_ms)), False)
            else:
                codes = p._bad_status_sets[jj][k]
                if codes is None:
                    continue
                b = pc.is_in(status, value_set=codes)
            bad_j = b if bad_j is None else pc.or_(bad_j, b)
        if bad_j is None:
            continue
        term = pc.and_(pc.equal(j, jj), bad_j)
        out = term if out is None else pc.or_(out, term)
    return out if out is not None else filled(False, len(j))


def _pylists(ts, ip, method, host, path, status, duration, ua, rate_limited, synthetic, forwarded_for):
    """Requests for a per-record step, built from columns (one ``to_pylist`` per column)."""
    return [Request(*vals) for vals in zip(ts.to_pylist(), ip.to_pylist(), method.to_pylist(),
                                             host.to_pylist(), path.to_pylist(), status.to_pylist(),
                                             duration.to_pylist(), ua.to_pylist(), rate_limited.to_pylist(),
                                             synthetic.to_pylist(), forwarded_for.to_pylist())]


def _resolve_proxies(p: "Pipeline", ip: pa.Array, fwd: pa.Array) -> pa.Array:
    """The client behind trusted proxies, for rows that carry X-Forwarded-For (per distinct pair)."""
    has = pc.invert(pc.is_null(fwd))
    which = pc.indices_nonzero(has)
    if not len(which):
        return ip
    proxies = p._proxies
    peers = pc.take(ip, which).to_pylist()
    fw = pc.take(fwd, which).to_pylist()
    memo: dict[tuple[str, str], str] = {}
    new = []
    for a, f in zip(peers, fw):
        if f and a in proxies:
            r = memo.get((a, f))
            if r is None:
                r = memo[(a, f)] = resolve_forwarded(a, f, proxies, normalize_ip)
            new.append(r)
        else:
            new.append(a)
    return pc.replace_with_mask(ip, has, pa.array(new, pa.string()))


def _finish(p: "Pipeline", tally, now_ms, max_ts, dead, flags, row_verdicts, origin) -> "Outputs":
    from streams.core.pipeline import Outputs
    windows = p.windows
    if max_ts:
        windows.observe(max_ts, now_ms)
        p.filters.store.expire(windows.max_ts)
    counters = windows.close(now_ms)
    p.tally.add(tally)
    verdicts = None
    if row_verdicts is not None:
        names = p.router.journey_names
        verdicts = [RecordVerdict(origin.source, origin.position(i), names[v[3]] if v[3] >= 0 else None,
                                  v[0], v[1], v[2]) for i, v in enumerate(row_verdicts)]
    return Outputs(counters, dead, tally, flags, verdicts)
