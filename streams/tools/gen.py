"""Labelled synthetic traffic generator for truesli.

Writes ``request_log`` records as JSON lines and returns the generator's own
ground truth, computed from labels the processor under test never sees.

Record contract (one orjson object per line, ``b"\\n"``-terminated, fixed key
order)::

    {"ts": "2026-01-01T00:00:01.250Z",   # RFC3339 UTC, millisecond precision
     "client_ip": str, "method": str, "host": "shop.example.com",
     "path": str,                         # may include "?query"
     "status": int, "duration_ms": float, # rounded to 0.1 ms
     "user_agent": str, "bytes": int, "request_id": str,
     "rate_limited": true,                # only on edge_rate_limited events
     "synthetic": true}                   # only on flagged synthetic probes

Timing: the ``M = events - n_stuffing`` lines that are not credential
stuffing are spread uniformly in file order: the k-th of them has base time
``start_ms + k * duration_s * 1000 // M``. The k-th of the ``S`` stuffing
lines has base time ``lo + (2k + 1) * (hi - lo) // (2S)`` (``[lo, hi) =
burst_window_ms(...)``) and sits in the file just before the first uniform
line whose base time reaches it. Every ts is its base jittered by at most
+/-2000 ms and clamped into ``[start_ms, start_ms + duration_s * 1000)``
(stuffing: into its burst window), so the stream is slightly out of order.
Default ``duration_s = max(600, ceil(events / 2000) * 60)`` (about 2,000
events per minute of event time, at least ten minutes).

Labels (``bot_share`` is the share of events that are NOT real users; within
it: crawler 80 %, health_check 6 %, edge_rate_limited 4 %, background_job 3 %,
scanner 3 %, synthetic 2 %, credential_stuffing 2 %; counts are exact by
largest remainder):

* ``real_user``: browser UAs, ~21k client (ip, UA) pairs (~5 % IPv6 in
  2001:db8::/32) plus the CGNAT address ``100.64.12.34`` carrying 3 % of real
  traffic (capped at 30 requests per minute of event time on average).
  Journeys: browse 45 %, search 15 %, login 12 %, checkout 10 %, assets 18 %.
* ``crawler``: known crawler / HTTP-library UAs from ~200 IPs, GET only.
* ``scanner``: tool UAs (sqlmap, Nikto, Nuclei); browser UA from
  185.220.101.0/24 probing /.env etc. (404); 185.220.101.77 requesting many
  distinct /old/<random>.html (404).
* ``credential_stuffing``: 4 IPs in 203.0.113.0/24, POST /login, 401 (98 %)
  or 200; every event lies in the 5-minute window starting at 40 % of the
  duration (``burst_window_ms``).
* ``edge_rate_limited``: 20 IPs, status 429, ``"rate_limited": true``.
* ``health_check``: ``kube-probe/1.29`` GET /healthz|/readyz from 10.0.0.0/8.
* ``background_job``: ``acme-cron/2.3`` POST /internal/jobs/..., 10 % 500.
* ``synthetic``: half UA ``Datadog/Synthetics``, half browser UA with
  ``"synthetic": true``; GET / or /search?q=probe.

Truth contract (returned by :func:`generate`)::

    {"seed", "events", "bot_share", "start_ms", "duration_s",
     "cgnat_ip": "100.64.12.34",
     "labels": {<each of the 8 labels>: count, "cgnat_real_user": n},
     "journeys": {
        "checkout"|"login"|"search"|"browse":
            {"slos": {"availability": {"good", "total"},
                      "latency": {"good", "total"}}},
        "all": {"slos": {"availability": {"good", "total"}}}}}

Journey truth counts ``real_user`` events only (CGNAT included).
Availability good: ``status < 500``. Latency good:
``duration_ms <= TRUTH_LATENCY_THRESHOLDS_MS[journey]`` (on the rounded value
written to the line). Journey membership: browse = GET ``/``,
``/products/<id>``, ``/category/<name>`` (any query string); search = GET
``/search?...``; login = POST ``/login``; checkout = POST ``/checkout`` or
POST ``/cart/items``. ``all`` covers every real-user event (assets included).

Deterministic: same arguments give byte-identical output (``random.Random``
seeded with ``seed``; no wall clock, no ``hash()``).
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from statistics import NormalDist
from typing import BinaryIO

import orjson

from streams.tools.catalog import (
    _REAL, _CRAWL, _SCAN, _STUFF, _RL, _HEALTH, _BG, _SYN, _J_BROWSE, _J_SEARCH, _J_LOGIN, _J_CHECKOUT, _J_ASSETS,
    HOST, CGNAT_IP, DEFAULT_START_MS, JITTER_MS, EVENTS_PER_MINUTE, BURST_LENGTH_MS, CGNAT_SHARE,
    CGNAT_MAX_AVG_PER_MIN, TRUTH_LATENCY_THRESHOLDS_MS, TRUTH_JOURNEYS, LABELS, _NONREAL_WEIGHTS,
    _JOURNEY_NAMES, _JOURNEY_SHARES, _JOURNEY_ERR, _LOGIN_401, _5XX, BROWSER_UAS, _CRAWLER_SPECS,
    CRAWLER_UAS, _SCANNER_TOOL_UAS, _SCANNER_TOOL_IPS, _SCANNER_TOOL_PATHS, _SCANNER_PROBE_IPS,
    _SCANNER_PROBE_PATHS, _SCANNER_ENUM_IP, _STUFFING_IPS, _HEALTH_UA, _HEALTH_IPS, _BG_UA, _BG_IPS,
    _BG_PATHS, _SYN_DD_UA, _SYN_DD_IPS, _SYN_FLAG_IPS, _SYN_PATHS, _RESERVED_OCTETS, _CATEGORIES,
    _SEARCH_WORDS, _CSS_NAMES, _JS_HASHES,
)

__all__ = [
    "BROWSER_UAS",
    "CGNAT_IP",
    "CRAWLER_UAS",
    "HOST",
    "LABELS",
    "TRUTH_LATENCY_THRESHOLDS_MS",
    "burst_window_ms",
    "default_duration_s",
    "generate",
    "write_mix",
]

def default_duration_s(events: int) -> int:
    """About 2,000 events per minute of event time, at least ten minutes."""
    return max(600, -(-events // EVENTS_PER_MINUTE) * 60)


def burst_window_ms(start_ms: int, duration_s: int) -> tuple[int, int]:
    """Credential-stuffing window ``[lo, hi)``: 5 minutes from 40 % of duration."""
    dur_ms = duration_s * 1000
    lo = start_ms + dur_ms * 2 // 5
    return lo, min(lo + BURST_LENGTH_MS, start_ms + dur_ms)


def _split_counts(total: int, weights: dict[int, int]) -> dict[int, int]:
    """Largest-remainder apportionment of ``total`` by integer ``weights``."""
    wsum = sum(weights.values())
    base = {k: total * w // wsum for k, w in weights.items()}
    rest = total - sum(base.values())
    order = sorted(weights, key=lambda k: (-(total * weights[k] % wsum), k))
    for k in order[:rest]:
        base[k] += 1
    return base


def _random_public_ipv4(rng: random.Random) -> str:
    while True:
        a = rng.randint(11, 223)
        if a not in _RESERVED_OCTETS:
            break
    return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def _build_real_clients(rng: random.Random) -> list[tuple[str, str]]:
    seen: set[str] = set()
    clients: list[tuple[str, str]] = []
    n_v4, n_v6 = 20000, 1050  # ~5 % IPv6
    while len(clients) < n_v4:
        ip = _random_public_ipv4(rng)
        if ip not in seen:
            seen.add(ip)
            clients.append((ip, rng.choice(BROWSER_UAS)))
    while len(clients) < n_v4 + n_v6:
        ip = f"2001:db8:{rng.randrange(1, 0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
        if ip not in seen:
            seen.add(ip)
            clients.append((ip, rng.choice(BROWSER_UAS)))
    rng.shuffle(clients)
    return clients


def _build_crawler_clients(rng: random.Random) -> list[tuple[str, str]]:
    """~200 distinct (ip, ua) pairs, IPs per UA proportional to its weight,
    returned as a 256-entry pick table (the first 56 IPs appear twice, i.e.
    crawl twice as hard)."""
    wsum = sum(s[1] for s in _CRAWLER_SPECS)
    clients: list[tuple[str, str]] = []
    seen: set[str] = set()
    for ua, w, prefixes in _CRAWLER_SPECS:
        n = max(1, round(200 * w / wsum))
        k = 0
        while k < n:
            ip = f"{prefixes[k % len(prefixes)]}.{rng.randint(1, 254)}"
            if ip in seen:
                continue
            seen.add(ip)
            clients.append((ip, ua))
            k += 1
    rng.shuffle(clients)
    table = (clients * 2)[:_CRAWLER_TABLE]
    rng.shuffle(table)
    return table


def _build_rl_clients(rng: random.Random) -> list[tuple[str, str]]:
    return [(f"45.{131 + i % 4}.{rng.randrange(256)}.{rng.randint(1, 254)}", rng.choice(BROWSER_UAS)) for i in range(20)]


def _stuffing_base_ms(k: int, n_stuff: int, start_ms: int, duration_s: int) -> int:
    """Base time offset (from start_ms) of the k-th of n_stuff stuffing events:
    evenly spread over the burst window."""
    lo, hi = burst_window_ms(start_ms, duration_s)
    return lo - start_ms + (2 * k + 1) * (hi - lo) // (2 * n_stuff)


def _label_sequence(rng: random.Random, events: int, bot_share: float, start_ms: int, duration_s: int) -> list[int]:
    """Label per line, exact per-label counts.

    All labels but credential_stuffing are shuffled over a uniform timeline
    (``M = events - n_stuff`` lines); stuffing line k is inserted just before
    the first of those whose base time reaches its own burst base time.
    """
    nonreal = min(events, max(0, round(events * bot_share)))
    counts = _split_counts(nonreal, _NONREAL_WEIGHTS)
    n_stuff = counts[_STUFF]
    others: list[int] = [_REAL] * (events - nonreal)
    for lab in (_CRAWL, _SCAN, _RL, _HEALTH, _BG, _SYN):
        others.extend([lab] * counts[lab])
    rng.shuffle(others)
    if not n_stuff:
        return others
    m = len(others)
    dur_ms = duration_s * 1000
    seq: list[int] = []
    taken = 0
    for k in range(n_stuff):
        base = _stuffing_base_ms(k, n_stuff, start_ms, duration_s)
        j = -(-base * m // dur_ms)  # first uniform line with j * dur_ms // m >= base
        seq.extend(others[taken:j])
        taken = max(taken, j)
        seq.append(_STUFF)
    seq.extend(others[taken:])
    return seq


_QTABLE_BITS = 13
_QTABLE_SIZE = 1 << _QTABLE_BITS
_POOL_BITS = 13
_POOL_SIZE = 1 << _POOL_BITS
_CHUNK = 256  # lines per write; small chunks keep allocations in pymalloc free lists (much faster)
_CRAWLER_TABLE = 256  # getrandbits(8) picks a crawler client
_MS_SUFFIX = tuple(f".{m:03d}Z" for m in range(1000))


def _lognormal_table(median: float, sigma: float, tail_share: float = 0.0,
                     tail_median: float = 1.0, tail_sigma: float = 1.0) -> tuple[float, ...]:
    """Quantile table (rounded to 0.1 ms) of a lognormal, optionally mixed with
    a slow lognormal tail taking ``tail_share`` of the mass. Indexing it with a
    uniform random integer samples the distribution; no floats from the RNG
    needed, so this is fast and reproducible."""
    inv = NormalDist().inv_cdf
    n_tail = round(_QTABLE_SIZE * tail_share)
    n_body = _QTABLE_SIZE - n_tail
    out = [round(median * math.exp(sigma * inv((k + 0.5) / n_body)), 1) for k in range(n_body)]
    out += [round(tail_median * math.exp(tail_sigma * inv((k + 0.5) / n_tail)), 1) for k in range(n_tail)]
    return tuple(out)


# real-user-shaped latency: median ~118 ms, ~2.9 % above 800 ms
_USER_DUR = _lognormal_table(115.0, 0.45, tail_share=0.04, tail_median=1000.0, tail_sigma=0.40)
_FAST_DUR = _lognormal_table(35.0, 0.5)
_BG_DUR = _lognormal_table(2000.0, 0.6)

_PRODUCT_PATHS = tuple(f"/products/{n}" for n in range(1000, 10000))
_CATEGORY_PATHS = tuple(f"/category/{c}" for c in _CATEGORIES) + tuple(
    f"/category/{c}?page={p}" for c in _CATEGORIES for p in (2, 3))
_HOME_PATHS = ("/",) * 9 + ("/?utm_source=newsletter&utm_medium=email",)
_SEARCH_PATHS = tuple(f"/search?q={w}" for w in _SEARCH_WORDS) * 9 + tuple(
    f"/search?q={w}&sort=price" for w in _SEARCH_WORDS)
_ASSET_PATHS = tuple(f"/static/app.{h}.js" for h in _JS_HASHES) * 2 + tuple(
    f"/static/{c}.css" for c in _CSS_NAMES)


def _journey_request(rnd: Callable[[], float], j: int) -> tuple[str, str, int]:
    """(method, path, bytes) for a real-user-shaped request of journey j."""
    if j == _J_BROWSE:
        r = rnd()
        if r < 0.25:
            path = _HOME_PATHS[int(rnd() * len(_HOME_PATHS))]
        elif r < 0.75:
            path = _PRODUCT_PATHS[int(rnd() * len(_PRODUCT_PATHS))]
        else:
            path = _CATEGORY_PATHS[int(rnd() * len(_CATEGORY_PATHS))]
        return "GET", path, 18000 + int(rnd() * 60000)
    if j == _J_SEARCH:
        return "GET", _SEARCH_PATHS[int(rnd() * len(_SEARCH_PATHS))], 9000 + int(rnd() * 30000)
    if j == _J_LOGIN:
        return "POST", "/login", 400 + int(rnd() * 1200)
    if j == _J_CHECKOUT:
        if rnd() < 0.4:
            return "POST", "/checkout", 1500 + int(rnd() * 3000)
        return "POST", "/cart/items", 300 + int(rnd() * 900)
    path = _ASSET_PATHS[int(rnd() * len(_ASSET_PATHS))]
    if path.endswith(".js"):
        return "GET", path, 80000 + int(rnd() * 220000)
    return "GET", path, 4000 + int(rnd() * 40000)


def _request_pool(rng: random.Random, shares: tuple[tuple[int, float], ...]) -> list[tuple[int, str, str, int]]:
    """``_POOL_SIZE`` request templates (journey, method, path, bytes), journeys in exact proportion to
    ``shares`` (padded with browse), shuffled: one getrandbits() per event then picks one."""
    pool: list[tuple[int, str, str, int]] = []
    for j, share in shares:
        pool.extend((j, *_journey_request(rng.random, j)) for _ in range(round(share * _POOL_SIZE)))
    del pool[_POOL_SIZE:]
    while len(pool) < _POOL_SIZE:
        pool.append((_J_BROWSE, *_journey_request(rng.random, _J_BROWSE)))
    rng.shuffle(pool)
    return pool


Request = tuple[int, str, str, str, str, int, int, float, int]
"""What one traffic kind decides for one line: (ts offset, ip, ua, method, path, status, bytes, duration,
extra); extra 1 marks ``rate_limited``, 2 ``synthetic``. The ts offset comes in uniform and jittered;
only credential stuffing replaces it."""


class _Traffic:
    """One generator run's random source, client tables, request pools and truth tallies; one method per
    traffic kind draws one line of that kind.

    Determinism: every method makes the same RNG calls in the same order as the single loop it was cut
    from, so a seed's bytes never change (tests/unit/tools/test_gen.py pins them).
    """

    def __init__(self, rng: random.Random, events: int, bot_share: float, start_ms: int, duration_s: int) -> None:
        self.rnd = rng.random
        self.getrandbits = rng.getrandbits
        # The order of these RNG uses is part of the output: clients, labels, then request pools.
        self.real_clients = _build_real_clients(rng)
        self.crawler_clients = _build_crawler_clients(rng)
        self.rl_clients = _build_rl_clients(rng)
        self.seq = seq = _label_sequence(rng, events, bot_share, start_ms, duration_s)
        self.start_ms, self.duration_s = start_ms, duration_s
        # stuffing burst as offsets from start_ms (the loop works in offsets)
        self.burst_lo, self.burst_hi = (t - start_ms for t in burst_window_ms(start_ms, duration_s))
        self.n_stuff = seq.count(_STUFF)
        self.stuff_seen = 0
        n_real = seq.count(_REAL)
        minutes = duration_s / 60.0
        self.p_cgnat = min(CGNAT_SHARE, CGNAT_MAX_AVG_PER_MIN * minutes / n_real) if n_real else 0.0
        self.cgnat_n = 0
        # [avail_good, avail_total, lat_good, lat_total] per journey index
        self.jstats = [[0, 0, 0, 0] for _ in range(5)]
        self.thresholds = [TRUTH_LATENCY_THRESHOLDS_MS["browse"], TRUTH_LATENCY_THRESHOLDS_MS["search"],
                           TRUTH_LATENCY_THRESHOLDS_MS["login"], TRUTH_LATENCY_THRESHOLDS_MS["checkout"], 1e18]
        self.real_pool = _request_pool(rng, tuple(enumerate(_JOURNEY_SHARES)))
        self.crawl_pool = [r[1:] for r in _request_pool(rng, ((_J_BROWSE, 0.7), (_J_SEARCH, 0.1), (_J_ASSETS, 0.2)))]
        self.by_label = {_REAL: self.real_user, _CRAWL: self.crawler, _SCAN: self.scanner,
                         _STUFF: self.credential_stuffing, _RL: self.rate_limited, _HEALTH: self.health_check,
                         _BG: self.background_job, _SYN: self.synthetic}

    def crawler(self, ts: int) -> Request:
        rnd, getrandbits = self.rnd, self.getrandbits
        ip, ua = self.crawler_clients[getrandbits(8)]
        method, path, nbytes = self.crawl_pool[getrandbits(_POOL_BITS)]
        if rnd() < 0.001:
            status = _5XX[int(rnd() * 3)]
            nbytes = 200 + int(rnd() * 400)
        else:
            status = 200
        return ts, ip, ua, method, path, status, nbytes, _FAST_DUR[getrandbits(_QTABLE_BITS)], 0

    def real_user(self, ts: int) -> Request:
        rnd, getrandbits = self.rnd, self.getrandbits
        j, method, path, nbytes = self.real_pool[getrandbits(_POOL_BITS)]
        if rnd() < self.p_cgnat:
            ip = CGNAT_IP
            ua = BROWSER_UAS[int(rnd() * len(BROWSER_UAS))]
            self.cgnat_n += 1
        else:
            ip, ua = self.real_clients[int(rnd() * len(self.real_clients))]
        r = rnd()
        err = _JOURNEY_ERR[j]
        if r < err:
            status = _5XX[int(rnd() * 3)]
            nbytes = 200 + int(rnd() * 400)
        elif j == _J_LOGIN and r < err + _LOGIN_401:
            status = 401
        else:
            status = 200
        dur = _USER_DUR[getrandbits(_QTABLE_BITS)]
        st = self.jstats[j]
        st[1] += 1
        st[3] += 1
        if status < 500:
            st[0] += 1
        if dur <= self.thresholds[j]:
            st[2] += 1
        return ts, ip, ua, method, path, status, nbytes, dur, 0

    def scanner(self, ts: int) -> Request:
        rnd = self.rnd
        kind = int(rnd() * 3)
        if kind == 0:  # a scanning tool under its own name
            t = int(rnd() * 3)
            ua = _SCANNER_TOOL_UAS[t]
            ip = _SCANNER_TOOL_IPS[t]
            path, status = _SCANNER_TOOL_PATHS[int(rnd() * len(_SCANNER_TOOL_PATHS))]
            method = "GET" if rnd() < 0.85 else "POST"
        elif kind == 1:  # a browser UA probing well-known paths
            ip = _SCANNER_PROBE_IPS[int(rnd() * len(_SCANNER_PROBE_IPS))]
            ua = BROWSER_UAS[int(rnd() * len(BROWSER_UAS))]
            path = _SCANNER_PROBE_PATHS[int(rnd() * len(_SCANNER_PROBE_PATHS))]
            method, status = "GET", 404
        else:  # one IP enumerating random paths
            ip = _SCANNER_ENUM_IP
            ua = BROWSER_UAS[0]
            path = f"/old/{self.getrandbits(40):010x}.html"
            method, status = "GET", 404
        nbytes = 150 + int(rnd() * 350)
        return ts, ip, ua, method, path, status, nbytes, _FAST_DUR[self.getrandbits(_QTABLE_BITS)], 0

    def credential_stuffing(self, ts: int) -> Request:
        """Its own timeline: the k-th stuffing line sits at the k-th base time of the burst window."""
        rnd = self.rnd
        ip = _STUFFING_IPS[int(rnd() * 4)]
        ua = BROWSER_UAS[int(rnd() * len(BROWSER_UAS))]
        status = 200 if rnd() < 0.02 else 401
        nbytes = 400 + int(rnd() * 400)
        dur = _USER_DUR[self.getrandbits(_QTABLE_BITS)]
        ts = (_stuffing_base_ms(self.stuff_seen, self.n_stuff, self.start_ms, self.duration_s)
              + int(rnd() * (2 * JITTER_MS + 1)) - JITTER_MS)
        self.stuff_seen += 1
        if ts < self.burst_lo:
            ts = self.burst_lo
        elif ts >= self.burst_hi:
            ts = self.burst_hi - 1
        return ts, ip, ua, "POST", "/login", status, nbytes, dur, 0

    def rate_limited(self, ts: int) -> Request:
        rnd = self.rnd
        ip, ua = self.rl_clients[int(rnd() * 20)]
        _, method, path, _ = self.real_pool[self.getrandbits(_POOL_BITS)]
        nbytes = 120 + int(rnd() * 60)
        return ts, ip, ua, method, path, 429, nbytes, round(0.3 + rnd() * 2.5, 1), 1

    def health_check(self, ts: int) -> Request:
        rnd = self.rnd
        ip = _HEALTH_IPS[int(rnd() * len(_HEALTH_IPS))]
        path = "/healthz" if rnd() < 0.5 else "/readyz"
        return ts, ip, _HEALTH_UA, "GET", path, 200, 2, round(0.5 + rnd() * 3.0, 1), 0

    def background_job(self, ts: int) -> Request:
        rnd = self.rnd
        ip = _BG_IPS[int(rnd() * 2)]
        path = _BG_PATHS[int(rnd() * 2)]
        status = 500 if rnd() < 0.10 else 200
        nbytes = 60 + int(rnd() * 200)
        return ts, ip, _BG_UA, "POST", path, status, nbytes, _BG_DUR[self.getrandbits(_QTABLE_BITS)], 0

    def synthetic(self, ts: int) -> Request:
        rnd = self.rnd
        if rnd() < 0.5:  # a monitoring product under its own name
            ip = _SYN_DD_IPS[int(rnd() * len(_SYN_DD_IPS))]
            ua, extra = _SYN_DD_UA, 0
        else:  # a browser-like probe that flags itself
            ip = _SYN_FLAG_IPS[int(rnd() * len(_SYN_FLAG_IPS))]
            ua, extra = BROWSER_UAS[int(rnd() * len(BROWSER_UAS))], 2
        path = _SYN_PATHS[int(rnd() * 2)]
        status = _5XX[int(rnd() * 3)] if rnd() < 0.02 else 200
        nbytes = 9000 + int(rnd() * 20000)
        return ts, ip, ua, "GET", path, status, nbytes, _USER_DUR[self.getrandbits(_QTABLE_BITS)], extra

    def truth_journeys(self) -> dict[str, dict]:
        """The ``journeys`` part of the truth (real users only)."""
        jstats = self.jstats
        journeys: dict[str, dict] = {}
        for name in TRUTH_JOURNEYS:
            ag, at, lg, lt = jstats[_JOURNEY_NAMES.index(name)]
            journeys[name] = {"slos": {"availability": {"good": ag, "total": at},
                                       "latency": {"good": lg, "total": lt}}}
        journeys["all"] = {"slos": {"availability": {"good": sum(s[0] for s in jstats),
                                                     "total": sum(s[1] for s in jstats)}}}
        return journeys


def generate(
    out: BinaryIO,
    *,
    events: int,
    seed: int,
    bot_share: float = 0.9,
    start_ms: int = DEFAULT_START_MS,
    duration_s: int | None = None,
    labels_out: list[str] | None = None,
) -> dict:
    """Write ``events`` request_log JSON lines to ``out``; return the truth dict.

    If ``labels_out`` is a list, the label of every written line is appended
    to it in file order (test/debug aid; the processor never sees labels).
    """
    if events < 0:
        raise ValueError("events must be >= 0")
    if not 0.0 <= bot_share <= 1.0:
        raise ValueError("bot_share must be within [0, 1]")
    if duration_s is None:
        duration_s = default_duration_s(events)
    if duration_s <= 0:
        raise ValueError("duration_s must be > 0")

    rng = random.Random(seed)
    traffic = _Traffic(rng, events, bot_share, start_ms, duration_s)
    seq = traffic.seq
    _write_lines(out, rng, traffic, seq, events, start_ms, duration_s)
    if labels_out is not None:
        labels_out.extend(LABELS[k] for k in seq)
    labels = {name: seq.count(k) for k, name in enumerate(LABELS)}
    labels["cgnat_real_user"] = traffic.cgnat_n
    return {
        "seed": seed,
        "events": events,
        "bot_share": bot_share,
        "start_ms": start_ms,
        "duration_s": duration_s,
        "cgnat_ip": CGNAT_IP,
        "labels": labels,
        "journeys": traffic.truth_journeys(),
    }


def _write_lines(out: BinaryIO, rng: random.Random, traffic: _Traffic, seq: list[int], events: int,
                 start_ms: int, duration_s: int) -> None:
    """The lines in file order, ``_CHUNK`` per write: each label's traffic kind decides the request, this
    loop its time (uniform base + jitter, clamped), request id and serialisation."""
    rnd = rng.random
    randbytes = rng.randbytes
    dumps = orjson.dumps
    OPT = orjson.OPT_APPEND_NEWLINE
    gmtime = time.gmtime
    strftime = time.strftime
    ms_suffix = _MS_SUFFIX
    by_label = traffic.by_label
    dur_ms = duration_s * 1000
    n_uniform = max(1, events - traffic.n_stuff)  # lines on the uniform timeline
    jitter_span = 2 * JITTER_MS + 1
    sec_cache: dict[int, str] = {}
    buf: list[bytes] = []
    write = out.write
    rid_hex = ""
    rid_pos = 0
    rid_chunk = 4096
    for c0 in range(0, events, _CHUNK):
        for i in range(c0, min(events, c0 + _CHUNK)):
            # offset from start_ms; uniform base (stuffing lines override it)
            ts = (i - traffic.stuff_seen) * dur_ms // n_uniform + int(rnd() * jitter_span) - JITTER_MS
            ts, ip, ua, method, path, status, nbytes, dur, extra = by_label[seq[i]](ts)
            if ts < 0:
                ts = 0
            elif ts >= dur_ms:
                ts = dur_ms - 1
            ts += start_ms
            sec = ts // 1000
            prefix = sec_cache.get(sec)
            if prefix is None:
                prefix = sec_cache[sec] = strftime("%Y-%m-%dT%H:%M:%S", gmtime(sec))
            if rid_pos == len(rid_hex):
                rid_hex = randbytes(16 * rid_chunk).hex()
                rid_pos = 0
            rec = {
                "ts": prefix + ms_suffix[ts - sec * 1000],
                "client_ip": ip,
                "method": method,
                "host": HOST,
                "path": path,
                "status": status,
                "duration_ms": dur,
                "user_agent": ua,
                "bytes": nbytes,
                "request_id": rid_hex[rid_pos : rid_pos + 32],
            }
            rid_pos += 32
            if extra == 1:
                rec["rate_limited"] = True
            elif extra == 2:
                rec["synthetic"] = True
            buf.append(dumps(rec, option=OPT))
        write(b"".join(buf))
        buf.clear()


def write_mix(out_path: str, *, events: int, seed: int, bot_share: float = 0.9,
              truth_path: str | None = None) -> dict:
    """Generate to ``out_path`` ('-' = stdout) and return the truth; with ``truth_path`` ('-' = stdout)
    also write the truth there as pretty JSON. OSError when a file cannot be written (``truesli gen``
    is the command line)."""
    if out_path == "-":
        truth = generate(sys.stdout.buffer, events=events, seed=seed, bot_share=bot_share)
        sys.stdout.buffer.flush()
    else:
        with open(out_path, "wb") as fh:
            truth = generate(fh, events=events, seed=seed, bot_share=bot_share)
    if truth_path is not None:
        data = orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n"
        if truth_path == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            with open(truth_path, "wb") as fh:
                fh.write(data)
    return truth
