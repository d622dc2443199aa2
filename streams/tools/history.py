"""Generated SLI counter histories for tests, the demo's look-alike and ``scripts/bench report``.

``iter_history(days)`` yields merged ``WindowCounter``s — 1-minute windows for three journeys
(checkout/shop, login/auth, search/catalog, each with an availability and a latency SLO) — with diurnal
real-user traffic, a steady crowd of non-users by filter reason (bots, scanners, rate-limited clients,
synthetic probes, credential stuffing on login), and a scripted story:

* checkout: errors near its objective; a deploy 5 days before the end is followed by a 90-minute error
  burst (8% errors), a freeze two hours later and an unfreeze three days after that;
* login: errors at ~2.5× its budget all the time and no freeze (its policy is not enforced);
* search: far better than its objective (too loose), a bot surge on day 2 and a 45-minute ingest outage
  on day 0 (windows with zero traffic: gaps, never NaN).

Deterministic for a seed. It does not model request-level filters; the per-request generator is
``truesli gen`` (streams/tools/gen.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from streams.config import Config, config_from_dict
from streams.core.timeparse import format_rfc3339, parse_rfc3339
from streams.core.model import WindowCounter
from streams.sinks.serialize import counter_to_dict

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
DEFAULT_START_MS = parse_rfc3339("2026-08-01T00:00:00Z")

HISTORY_CONFIG: dict = {"journeys": [
    {"name": "checkout", "service": "shop", "match": {"methods": ["POST"], "path_prefixes": ["/checkout"]},
     "slos": [{"name": "availability", "kind": "availability", "objective": 0.999},
              {"name": "latency", "kind": "latency", "objective": 0.99, "threshold_ms": 800}]},
    {"name": "login", "service": "auth", "match": {"methods": ["POST"], "paths": ["/login"]},
     "slos": [{"name": "availability", "kind": "availability", "objective": 0.999},
              {"name": "latency", "kind": "latency", "objective": 0.99, "threshold_ms": 300}]},
    {"name": "search", "service": "catalog", "match": {"methods": ["GET"], "paths": ["/search"]},
     "slos": [{"name": "availability", "kind": "availability", "objective": 0.995},
              {"name": "latency", "kind": "latency", "objective": 0.95, "threshold_ms": 500}]},
]}


@dataclass(frozen=True, slots=True)
class _Journey:
    name: str
    service: str
    users_per_min: float          # mean real-user requests per minute
    error: float                  # share of real-user requests that fail (5xx)
    slow: float                   # share of real-user requests over the latency threshold
    non_users: tuple[tuple[str, float], ...]   # (filter reason, mean requests per minute)


JOURNEYS = (
    _Journey("checkout", "shop", 40.0, 0.0007, 0.005,
             (("crawler", 70.0), ("scanner", 12.0), ("rate_limited", 8.0), ("synthetic", 2.0))),
    _Journey("login", "auth", 30.0, 0.0025, 0.008,
             (("credential_stuffing", 45.0), ("crawler", 25.0), ("rate_limited", 10.0), ("synthetic", 2.0))),
    _Journey("search", "catalog", 120.0, 0.0004, 0.01,
             (("crawler", 300.0), ("scanner", 20.0), ("rate_limited", 15.0), ("synthetic", 2.0))),
)


def history_config() -> Config:
    """The config the generated counters belong to (journeys, services, objectives)."""
    return config_from_dict(HISTORY_CONFIG, "<history>")


def burst_start_ms(days: int, start_ms: int = DEFAULT_START_MS) -> int:
    """When checkout's deploy and error burst start: 5 days before the end (mid-history when shorter)."""
    day = days - 5 if days >= 10 else days // 2
    return start_ms + day * DAY_MS + 14 * 60 * MINUTE_MS


BURST_MS = 90 * MINUTE_MS
BURST_ERROR = 0.08


def _count(rng: random.Random, mean: float) -> int:
    """A Poisson-like count (normal approximation; exact enough for display data, and fast)."""
    if mean <= 0:
        return 0
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact, and cheap for the small means it is used for.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _bad(rng: random.Random, n: int, p: float) -> int:
    if n == 0 or p <= 0:
        return 0
    mean = n * p
    if mean < 30:  # rare failures: a Poisson draw, not the normal approximation (which would round to 0)
        return min(n, _poisson(rng, mean))
    return min(n, max(0, round(rng.gauss(mean, math.sqrt(mean * (1 - p))))))


def iter_history(days: int, seed: int = 1, start_ms: int = DEFAULT_START_MS) -> Iterator[WindowCounter]:
    """Merged counters in window order (then journey, SLO), ``days`` × 1440 windows per journey/SLO."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = random.Random(seed)
    burst = burst_start_ms(days, start_ms)
    outage = (start_ms + 3 * 60 * MINUTE_MS, start_ms + 3 * 60 * MINUTE_MS + 45 * MINUTE_MS)
    surge = (start_ms + 2 * DAY_MS + 9 * 60 * MINUTE_MS, start_ms + 2 * DAY_MS + 13 * 60 * MINUTE_MS)
    for m in range(days * 1440):
        t = start_ms + m * MINUTE_MS
        hour = (t % DAY_MS) / (60 * MINUTE_MS)
        diurnal = 1.0 + 0.75 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        for j in JOURNEYS:
            if j.name == "search" and outage[0] <= t < outage[1]:
                users, filtered = 0, {}
                err = 0.0
            else:
                users = _count(rng, j.users_per_min * diurnal)
                filtered = {}
                for reason, rate in j.non_users:
                    level = rate * (0.7 + 0.3 * diurnal)
                    if j.name == "search" and reason == "crawler" and surge[0] <= t < surge[1]:
                        level *= 6.0
                    n = _count(rng, level)
                    if n:
                        filtered[reason] = n
                err = BURST_ERROR if j.name == "checkout" and burst <= t < burst + BURST_MS else j.error
            n_filtered = sum(filtered.values())
            # Non-users mostly get answers (bots 200, scanners 404): they dilute the raw error rate.
            filtered_bad = _bad(rng, n_filtered, err / 10)
            for slo, p in (("availability", err), ("latency", j.slow)):
                bad = _bad(rng, users, p)
                yield WindowCounter(j.name, slo, t, t + MINUTE_MS, good=users - bad, total=users,
                                    raw_good=users - bad + n_filtered - filtered_bad,
                                    raw_total=users + n_filtered, filtered=filtered)


def history_changes(days: int, start_ms: int = DEFAULT_START_MS) -> list[dict]:
    """``change_event`` documents: deploys every other day per service, checkout's burst deploy, its
    freeze and unfreeze."""
    out: list[dict] = []
    for i, j in enumerate(JOURNEYS):
        for d in range(1, days, 2):
            ts = start_ms + d * DAY_MS + (10 + i) * 60 * MINUTE_MS
            out.append({"ts": format_rfc3339(ts), "service": j.service, "kind": "deploy",
                        "id": f"{j.service}-{d}", "description": f"{j.service} release day {d}"})
    burst = burst_start_ms(days, start_ms)
    out.append({"ts": format_rfc3339(burst), "service": "shop", "kind": "deploy", "id": "shop-burst",
                "description": "shop release with a bad payment client"})
    freeze = burst + 2 * 60 * MINUTE_MS
    out.append({"ts": format_rfc3339(freeze), "service": "shop", "kind": "freeze", "id": "shop-freeze",
                "description": "error budget policy: feature deploys frozen"})
    if freeze + 3 * DAY_MS < start_ms + days * DAY_MS:
        out.append({"ts": format_rfc3339(freeze + 3 * DAY_MS), "service": "shop", "kind": "unfreeze",
                    "id": "shop-unfreeze", "description": "freeze lifted"})
    out.sort(key=lambda d: d["ts"])
    return out


@dataclass(frozen=True, slots=True)
class HistoryFiles:
    config: Path
    counters: Path
    changes: Path
    windows: int


def write_history(out_dir: str | Path, days: int, seed: int = 1, start_ms: int = DEFAULT_START_MS) -> HistoryFiles:
    """Write config.yaml, counters.jsonl (sli_counter lines) and changes.jsonl (change_event lines)."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    config = d / "config.yaml"
    config.write_text(yaml.safe_dump(HISTORY_CONFIG, sort_keys=False), encoding="utf-8")
    counters = d / "counters.jsonl"
    n = 0
    emitted = start_ms + days * DAY_MS
    with counters.open("wb") as f:
        buf: list[bytes] = []
        for c in iter_history(days, seed, start_ms):
            buf.append(orjson.dumps(counter_to_dict(c, emitted)))
            n += 1
            if len(buf) >= 20_000:
                f.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    changes = d / "changes.jsonl"
    changes.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in history_changes(days, start_ms)))
    return HistoryFiles(config, counters, changes, n)
