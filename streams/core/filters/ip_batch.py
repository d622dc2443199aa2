"""The per-IP filters over one batch: walk only the IPs whose requests can change a verdict.

Contract: ``stateful_batch`` leaves the IP store, the flags and the verdicts exactly as calling
``FilterChain.stateful`` on each reaching request in batch order would (tests/unit/core/test_batch_core.py
compares against that walk). It knows the three per-IP rules' conditions, so it can tell the quiet case:

An IP's requests in this batch are *quiet* when every one of them is settled (below) or is not a 404,
hits no probe path under the scanner's status rule, carries no scanner user agent, and is not on a login
route — and its state has no cooldown running at the batch's first request of it (rate, scanner or
login), and a rate count that cannot pass ``max_requests`` even if every counted request of the batch
were added (current + previous bucket + n). For such
an IP no rule can fire and only two things change: the rate window (bucket counts, applied in bucket
order, exact when its requests' buckets do not interleave in batch order — otherwise it is walked) and
the touch (last-seen time, touch order, change sequence). Every other IP is walked record by record.

A plain state (filters/ipstate.py: no cooldown, no evidence) is kept packed in one int (with its change
sequence when the store tracks changes): the bulk step reads and writes such entries without building an
IpState.

A request the rate rule drops outright — an edge flag or a 429 — is *settled*: the rule answers before
counting it or passing it on (no journey can keep ``rate_limited``), so its only effect is the touch. It
counts as quiet, stays out of the rate counts and gets the rule's answer directly.

A walked IP's leading requests that no rule can flag — inside a rate, scanner or login cooldown (a 404,
probe or failed login extending it as the rule does), an edge flag or 429, a login the stuffing rule
counts below its limits, or an ordinary request the rate window passes — are answered by :func:`_steps`
on plain ints, in the rules' order, without building a Request; from the IP's first other request on
(a 404 to count, a probe, a scanner tool, a limit reached) it is walked record by record. The same steps
go first for the non-quiet requests of the optimistic walk. On a scanner- and stuffing-heavy mix most
walked requests are inside a cooldown.

Touch order and change sequence numbers are rebuilt at the end from each IP's last request in the batch,
which is what record-by-record touching leaves; so the whole batch is walked when it could evict (the
store would pass ``state.max_tracked_ips``), because eviction order depends on the interleaving.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.arrays import filled, positions
from streams.core.filters.ipstate import (IpExtra, IpState, pack, pack_state, packed_rate_sum, slide, state_of,
                                          unpack, with_seq)
from streams.core.filters.probes import PROBE_STATUSES
from streams.core.filters.rate_limit import RateLimitCheck
from streams.core.filters.scanner import ScannerCheck
from streams.core.filters.credential_stuffing import CredentialStuffingCheck
from streams.core.model import IpFlag, Request

_INT64 = pa.int64()
_PROBE_STATUSES = pa.array(sorted(PROBE_STATUSES), _INT64)
_NO_EVIDENCE = IpExtra()  # what an IP's evidence reads before it has any (never written)


def stateful_batch(chain, requests_of, ts: pa.Array, ip: pa.Array, status: pa.Array, rate_limited: pa.Array,
                   ua_idx: pa.Array, ua_values: list[str], p_idx: pa.Array, p_values: list[str],
                   route_idx: pa.Array, route_login, journeys: list[int], flags: list[IpFlag]
                   ) -> list[tuple[str, str] | None]:
    """Verdicts of the per-IP filters for the reaching requests (arrays in batch order, one row each).

    ``requests_of(rows)`` builds the Requests of the given row positions (for the walk);
    ``route_login`` says, per distinct route of the batch (indexed by ``route_idx``), whether it is a
    login route of the credential-stuffing rule (None without that rule); ``journeys`` holds each row's journey index."""
    n = len(ts)
    store = chain.store
    checks = chain.stateful_checks
    rate = next((c for c in checks if isinstance(c, RateLimitCheck)), None)
    scanner = next((c for c in checks if isinstance(c, ScannerCheck)), None)
    stuffing = next((c for c in checks if isinstance(c, CredentialStuffingCheck)), None)
    if len(checks) != (rate is not None) + (scanner is not None) + (stuffing is not None):
        return _walk(chain, requests_of(list(range(n))), journeys, flags)  # a rule this module does not know

    quiet = _quiet_rows(scanner, stuffing, status, ua_idx, ua_values, p_idx, p_values,
                        route_idx, route_login)
    ip_enc = pc.dictionary_encode(ip)
    ips = ip_enc.dictionary.to_pylist()
    states = store._states
    new_ips = len(ips) - sum(map(states.__contains__, ips))
    if len(states) + new_ips > store.max_entries:
        return _walk(chain, requests_of(list(range(n))), journeys, flags)
    store.reordered()  # below, entries are written and moved in place, not through touch

    w = rate._window_ms if rate is not None else 1 << 62  # no rate rule: one bucket, never slid
    pos = positions(n)
    # A row with an edge flag or a 429 is settled: the rate rule drops it before it counts or reaches another
    # rule — no journey can keep rate_limited (``keep`` takes traffic classes only: config/sli.py) — so its
    # only effect on state is the touch. It is quiet, and left out of the rate counts.
    settled = _settled_rows(rate, status, rate_limited)
    any_settled = pc.any(settled).as_py()
    if any_settled:
        quiet = pc.or_(quiet, settled)
    counted = pc.invert(settled) if any_settled else filled(True, n)
    b = pc.divide(ts, w)
    # The rate bucket of each counted row (null for a settled one): an IP whose counted rows share one
    # bucket — most of them — needs nothing but its count; only the others are grouped per bucket.
    table = pa.table({"ip": ip_enc.indices, "quiet": pc.cast(quiet, pa.int8()), "ts": ts, "pos": pos,
                      "counted": pc.cast(counted, _INT64),
                      "b": pc.if_else(counted, b, pa.scalar(None, _INT64)) if any_settled else b})
    # In the order of each IP's last row: the touch order rebuilt at the end.
    per_ip = table.group_by(["ip"], use_threads=False).aggregate(
        [("quiet", "min"), ("ts", "min"), ("ts", "max"), ("counted", "sum"), ("pos", "max"), ("b", "min"),
         ("b", "max")]).sort_by("pos_max").to_pydict()
    b_min, b_max = per_ip["b_min"], per_ip["b_max"]
    buckets: dict[int, list[tuple[int, int, int, int]]] = {}  # the IPs of more than one bucket only
    spread = [k for k, lo, hi in zip(per_ip["ip"], b_min, b_max) if lo != hi]
    if spread:
        rows_of = table.filter(pc.is_in(ip_enc.indices, value_set=pa.array(spread, ip_enc.indices.type)))
        if any_settled:
            rows_of = rows_of.filter(pc.cast(rows_of.column("counted"), pa.bool_()))
        per_bucket = rows_of.group_by(["ip", "b"], use_threads=False).aggregate(
            [("pos", "count"), ("pos", "min"), ("pos", "max")]).to_pydict()
        for k, bb, c, lo, hi in zip(per_bucket["ip"], per_bucket["b"], per_bucket["pos_count"],
                                    per_bucket["pos_min"], per_bucket["pos_max"]):
            buckets.setdefault(k, []).append((bb, c, lo, hi))

    limit = rate._max if rate is not None else n
    walk_ips: set[int] = set()
    # ip code → (max ts, its counted rows' rate buckets as (bucket, count), or () when all are settled):
    # the rate window advanced in bulk
    bulk: dict[int, tuple[int, Sequence[tuple[int, int, int, int]]]] = {}
    partial: set[int] = set()  # IPs whose non-quiet requests only are walked (optimistically)
    for k, q, tmin, tmax, cnt, lo_b, hi_b in zip(per_ip["ip"], per_ip["quiet_min"], per_ip["ts_min"],
                                                 per_ip["ts_max"], per_ip["counted_sum"], b_min, b_max):
        st = states.get(ips[k])
        ok = True
        if lo_b != hi_b:
            runs = buckets[k]
            runs.sort()
            ok = all(runs[i][3] < runs[i + 1][2] for i in range(len(runs) - 1))
        if ok:
            if st is None:
                ok = cnt <= limit
            elif type(st) is int:  # a plain state: no cooldown, no evidence (ipstate.pack)
                ok = packed_rate_sum(st) + cnt <= limit
            else:
                x = st.x
                ok = (st.rate_until <= tmin and st.rate_cur + st.rate_prev + cnt <= limit
                      and (x is None or (x.scan_until <= tmin and x.cs_until <= tmin)))
        if not ok:
            walk_ips.add(k)
            continue
        bulk[k] = (tmax, ((lo_b, cnt, 0, 0),) if lo_b == hi_b else buckets[k]) if lo_b is not None else (tmax, ())
        if q != 1:
            partial.add(k)

    base_seq = store._seq
    out: list[tuple[str, str] | None] = [None] * n
    may_step = _may_step(chain, scanner, stuffing)
    codes: list[int] | None = None
    if partial:
        # Walk only the non-quiet requests of these IPs. Nothing can fire on the quiet ones and they leave
        # no evidence but the rate count, which cannot pass the limit here; if a rule fires anyway (a 404
        # threshold, a login limit) the IP's state is put back and all of it is walked.
        codes = ip_enc.indices.to_pylist()
        quiet_l = quiet.to_pylist()
        rows = [i for i in range(n) if not quiet_l[i] and codes[i] in partial]
        saved = {k: _save(states.get(ips[k])) for k in partial}  # before the walk unpacks them
        local: list[IpFlag] = []
        seen: list = [None] * n
        if may_step:
            rows = _steps(states, ips, codes, rows, ts, status, rate_limited, ua_idx, ua_values, p_idx, p_values,
                          route_idx, route_login, rate, scanner, stuffing, seen)
        verdicts = _walk(chain, requests_of(rows), [journeys[i] for i in rows], local)
        fired = ({ips[codes[i]] for i, v in zip(rows, verdicts) if v is not None} | {f.client_ip for f in local}
                 | {ips[codes[i]] for i, v in enumerate(seen) if v is not None})
        for k in partial:
            a = ips[k]
            if a in fired:
                _restore(states, a, saved[k])
                walk_ips.add(k)
            else:
                st = states[a]  # walked, so touched: give the rate window back to the bulk step below
                if saved[k] is None:
                    st.rate_idx, st.rate_cur, st.rate_prev = -1, 0, 0
                else:
                    before = state_of(saved[k])
                    st.rate_idx, st.rate_cur, st.rate_prev = before.rate_idx, before.rate_cur, before.rate_prev
        for k in walk_ips:
            bulk.pop(k, None)
    if walk_ips:
        if codes is None:
            codes = ip_enc.indices.to_pylist()
        rows = [i for i in range(n) if codes[i] in walk_ips]
        if may_step:
            # Each IP's leading requests that no rule can flag or count are answered by _steps; from its
            # first other request on, the IP is walked. Only walked requests raise flags, in batch order.
            rows = _steps(states, ips, codes, rows, ts, status, rate_limited, ua_idx, ua_values, p_idx, p_values,
                          route_idx, route_login, rate, scanner, stuffing, out)
        verdicts = _walk(chain, requests_of(rows), [journeys[i] for i in rows], flags)
        for i, v in zip(rows, verdicts):
            out[i] = v
    if any_settled:  # the rate rule's own answer, as its check gives it (edge flag first)
        if codes is None:
            codes = ip_enc.indices.to_pylist()
        which = pc.indices_nonzero(settled)
        edge = pc.take(rate_limited, which).to_pylist() if rate._edge else None
        for k, i in enumerate(which.to_pylist()):
            if codes[i] not in walk_ips:
                out[i] = (rate.reason, "edge_flag" if edge is not None and edge[k] else "status_429")
    track = store._evicted_keys is not None
    # Touch order and change sequence, as record-by-record touching leaves them: every IP popped and put
    # back in the order of its last row. A bulk IP's new state is made on the way (new to the store or
    # packed: a packed int; an IpState: in place); a walked IP left plain is packed here.
    for last, k in zip(per_ip["pos_max"], per_ip["ip"]):  # sorted by pos_max above
        a = ips[k]
        st = states.pop(a, None)
        got = bulk.get(k)
        if got is not None:
            tmax, runs = got
            if st is None or type(st) is int:
                if st is None:
                    last_ms, idx, cur, prev = tmax, -1, 0, 0
                else:
                    last_ms, idx, cur, prev = unpack(st)
                    if tmax > last_ms:
                        last_ms = tmax
                obj = None
            else:
                obj = st
                if tmax > st.last_ms:
                    st.last_ms = tmax
                idx, cur, prev = st.rate_idx, st.rate_cur, st.rate_prev
            if rate is not None:
                for b, c, _, _ in runs:  # sorted above
                    if b <= idx:
                        cur += c
                    elif b == idx + 1:
                        idx, cur, prev = b, c, cur
                    else:
                        idx, cur, prev = b, c, 0
            if obj is not None:
                obj.rate_idx, obj.rate_cur, obj.rate_prev = idx, cur, prev
            else:
                st = pack(last_ms, idx, cur, prev)  # its change sequence is set below
                if st is None:
                    st = IpState(last_ms)
                    st.rate_idx, st.rate_cur, st.rate_prev = idx, cur, prev
        if type(st) is int and track:
            v = with_seq(st, base_seq + last + 1)
            st = v if v is not None else state_of(st)
        if type(st) is not int:
            if track:
                st.seq = base_seq + last + 1
            st = pack_state(st)
        states[a] = st
    if track:
        store._seq = base_seq + n
    return out  # flags: only walked rows raise them, and the walk ran in batch order


def _save(st: IpState | int | None) -> IpState | int | None:
    """A copy of ``st`` (and of its scanner/login evidence) to put back if an optimistic walk fired
    (a packed state is its own copy)."""
    if st is None or type(st) is int:
        return st
    copy = IpState(st.last_ms)
    for f in IpState.__slots__:
        setattr(copy, f, getattr(st, f))
    x = st.x
    if x is not None:
        xc = type(x)()
        for f in type(x).__slots__:
            v = getattr(x, f)
            setattr(xc, f, set(v) if isinstance(v, set) else v)
        copy.x = xc
    return copy


def _restore(states: dict, ip: str, saved: IpState | int | None) -> None:
    if saved is None:
        states.pop(ip, None)
    elif type(saved) is int:
        states[ip] = saved
    else:
        st = states[ip]
        for f in IpState.__slots__:
            setattr(st, f, getattr(saved, f))


def _may_step(chain, scanner, stuffing) -> bool:
    """Whether :func:`_steps` may answer requests: no journey keeps a per-IP reason (a kept verdict passes
    the request on to the next rule, which only the walk does) and a cooldown rule exists (without one a
    walked IP's requests are mostly the rate rule's own business)."""
    if scanner is None and stuffing is None:
        return False
    reasons = {c.reason for c in chain.stateful_checks}
    return not any(k & reasons for k in (*chain._keep, chain._keep_default))


def _steps(states: dict, ips: list[str], codes: list[int], rows: list[int], ts, status, rate_limited, ua_idx,
           ua_values, p_idx, p_values, route_idx, route_login, rate, scanner, stuffing, out: list) -> list[int]:
    """Answer, IP by IP, the leading requests of ``rows`` (batch order) as ``FilterChain.stateful`` would —
    rate, scanner, stuffing, first answer wins — as long as no rule would flag the IP or count 404s:
    a request inside a rate, scanner or login cooldown (extending it as the rule does), an edge flag or
    429, a login attempt the stuffing rule counts without reaching a limit, a request the rate window
    passes that is no 404, probe or scanner tool. Only plain ints change (the rate window, the login
    counts, a cooldown's end, last-seen; touch order and sequence are rebuilt by the caller; an IP new to
    the store gets its state as the walk's touch would make it). From an IP's first other request on,
    the rest of its rows are returned, in batch order, for the walk. Per-IP state is the IP's own, so
    answering one IP's rows before another's equals batch order."""
    pick = pa.array(rows, _INT64)
    t_l = pc.take(ts, pick).to_pylist()
    s_l = pc.take(status, pick).to_pylist()
    rl_l = pc.take(rate_limited, pick).to_pylist()
    u_l = pc.take(ua_idx, pick).to_pylist()
    p_l = pc.take(p_idx, pick).to_pylist()
    login_l = pc.take(route_login, pc.take(route_idx, pick)).to_pylist() if stuffing is not None else None
    by_ip: dict[int, list[int]] = {}
    for j, i in enumerate(rows):
        by_ip.setdefault(codes[i], []).append(j)
    edge = rate is not None and rate._edge
    s429 = rate is not None and rate._429
    w = rate._window_ms if rate is not None else 1
    rate_cd = rate._cooldown_ms if rate is not None else 0
    failures = stuffing._failures if stuffing is not None else ()
    walk: list[int] = []
    for k, js in by_ip.items():
        a = ips[k]
        st = states.get(a)
        if st is None:  # as the walk's touch creates it (the caller checked that the store has room)
            st = states[a] = IpState(t_l[js[0]])
        elif type(st) is int:
            st = states[a] = state_of(st)  # in place: the caller rebuilds the touch order
        x = st.x
        done = 0
        for j in js:
            t = t_l[j]
            code = s_l[j]
            if rate is not None:
                if edge and rl_l[j]:
                    v = (rate.reason, "edge_flag")
                elif s429 and code == 429:
                    v = (rate.reason, "status_429")
                else:
                    v = None
                if v is not None:
                    if t > st.last_ms:
                        st.last_ms = t
                    out[rows[j]] = v
                    done += 1
                    continue
                idx, cur, prev = slide(st.rate_idx, st.rate_cur, st.rate_prev, t, w)
                over = rate.over(idx, cur, prev, t)
                if t < st.rate_until:
                    st.rate_idx, st.rate_cur, st.rate_prev = idx, cur, prev
                    if over:  # still above the rate: the cooldown restarts
                        st.rate_until = t + rate_cd
                    if t > st.last_ms:
                        st.last_ms = t
                    out[rows[j]] = (rate.reason, st.rate_rule)
                    done += 1
                    continue
                if over:
                    break  # the rate rule flags the IP: walked
            v = None
            if scanner is not None:
                rule = scanner._ua_rule(ua_values[u_l[j]])
                scanning = x is not None and t < x.scan_until
                if rule is not None:
                    if not scanning:
                        break  # a scanner tool's request flags the IP: walked
                    v = (scanner.reason, rule)
                else:
                    probe = scanner._probes.rule(p_values[p_l[j]], code)
                    if scanning:
                        if code == 404 or probe is not None:  # fresh evidence keeps the cooldown going
                            x.scan_until = t + scanner._cooldown_ms
                        v = (scanner.reason, x.scan_rule)
                    elif probe is not None or code == 404:
                        break  # a probe flags, a 404 counts: walked
            if v is None and stuffing is not None:
                login = login_l[j]
                if x is not None and t < x.cs_until:
                    if login and code in failures:  # a failed login during the cooldown extends it
                        x.cs_until = t + stuffing._cooldown_ms
                    v = (stuffing.reason, x.cs_rule)
                elif login:  # counted as the rule counts it; a count past a limit flags: walked
                    counts, fires = stuffing.count(x if x is not None else _NO_EVIDENCE, t, code)
                    if fires is not None:
                        break
                    x = st.extra()
                    x.cs_idx, x.cs_att, x.cs_att_prev, x.cs_fail, x.cs_fail_prev = counts
            if rate is not None:
                st.rate_idx, st.rate_cur, st.rate_prev = idx, cur, prev
            if t > st.last_ms:
                st.last_ms = t
            out[rows[j]] = v
            done += 1
        if done < len(js):
            walk.extend(rows[j] for j in js[done:])
    walk.sort()
    return walk


def _walk(chain, requests: list[Request], journeys: list[int], flags: list[IpFlag]) -> list:
    stateful = chain.stateful
    return [stateful(req, flags, j) for req, j in zip(requests, journeys)]


def _settled_rows(rate, status, rate_limited) -> pa.Array:
    """Per row: whether the rate rule drops it outright (edge flag, 429), whatever the IP's state."""
    sure = filled(False, len(status))
    if rate is not None and rate._edge:
        sure = pc.or_(sure, rate_limited)
    if rate is not None and rate._429:
        sure = pc.or_(sure, pc.equal(status, 429))
    return sure


def _quiet_rows(scanner, stuffing, status, ua_idx, ua_values, p_idx, p_values, route_idx,
                route_login) -> pa.Array:
    """Per row: whether neither the scanner nor the login rule could fire on it or record evidence from it
    (see module doc). The rate rule's outright drops are the settled rows, or'ed in by the caller."""
    quiet = None

    def both(m):
        nonlocal quiet
        quiet = m if quiet is None else pc.and_(quiet, m)

    if scanner is not None:
        both(pc.not_equal(status, 404))
        both(pc.take(pa.array([scanner._ua_rule(u) is None for u in ua_values], pa.bool_()), ua_idx))
        missing = pc.is_in(status, value_set=_PROBE_STATUSES)
        probes = scanner._probes
        clear = pc.take(pa.array(probes.clear_of_rules(p_values, False), pa.bool_()), p_idx)
        if pc.any(missing).as_py():
            clear_missing = pc.take(pa.array(probes.clear_of_rules(p_values, True), pa.bool_()), p_idx)
            clear = pc.if_else(missing, clear_missing, clear)
        both(clear)
    if stuffing is not None:
        both(pc.invert(pc.take(route_login, route_idx)))
    if quiet is None:
        return filled(True, len(status))
    return quiet
