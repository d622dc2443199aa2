"""Deterministic traffic scenarios for the detectors (``truesli gen --scenario NAME``).

Each scenario is steady real-user traffic for the journeys of examples/truesli.yaml (checkout, login,
search, browse), evenly spaced within each minute, plus what the scenario is about: an error burst,
a deploy, a silence, an attack, a month of slow burn. Errors are placed with an accumulator, so a 0.2%
error rate is exactly one request in 500. Output: request_log records and change_event records.
Times start at ``START_MS`` (2026-03-10T00:00:00Z) unless the scenario says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from streams.core.timeparse import format_rfc3339

START_MS = 1773100800000  # 2026-03-10T00:00:00Z
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
ATTACK_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36"
# Stuffing tools spoof browsers: only behaviour gives the attack away.
STUFFING_IPS = ("203.0.113.7", "203.0.113.23", "203.0.113.89", "203.0.113.150")


@dataclass(frozen=True)
class Journey:
    name: str
    method: str
    paths: tuple[str, ...]
    per_minute: int


JOURNEYS = (
    Journey("checkout", "POST", ("/checkout", "/cart/add"), 60),
    Journey("login", "POST", ("/login",), 30),
    Journey("search", "GET", ("/search",), 60),
    Journey("browse", "GET", ("/", "/products/1001", "/category/shoes"), 60),
)

ErrorFn = Callable[[str, int], float]  # (journey, minute start ms) → error fraction in that minute
RateFn = Callable[[str, int], int]     # (journey, minute start ms) → requests in that minute


def _real_ip(n: int) -> str:
    # 198.18.0.0/15 (benchmarking range): 8,192 distinct real users, far below any per-IP rate limit.
    n %= 8192
    return f"198.18.{n // 256}.{n % 256}"


def steady_traffic(minutes: int, rate: RateFn | None = None, error: ErrorFn | None = None,
                   start_ms: int = START_MS) -> Iterator[dict]:
    """Real users on every journey for ``minutes`` minutes; 5xx placed by an exact accumulator."""
    acc = {j.name: 0.0 for j in JOURNEYS}
    user = 0
    for m in range(minutes):
        t0 = start_ms + m * MINUTE
        batch = []
        for j in JOURNEYS:
            n = rate(j.name, t0) if rate else j.per_minute
            f = error(j.name, t0) if error else 0.0
            for i in range(n):
                acc[j.name] += f
                bad = acc[j.name] >= 1.0 - 1e-9
                if bad:
                    acc[j.name] -= 1.0
                ts = t0 + (i * MINUTE + MINUTE // 2) // n
                batch.append((ts, j, i, bad))
        batch.sort(key=lambda r: (r[0], r[1].name))
        for ts, j, i, bad in batch:
            user += 1
            yield {"ts": format_rfc3339(ts), "client_ip": _real_ip(user), "method": j.method,
                   "host": "shop.example.com", "path": j.paths[i % len(j.paths)], "status": 503 if bad else 200,
                   "duration_ms": 80, "user_agent": UA}


def change(ts_ms: int, service: str, kind: str, cid: str) -> dict:
    return {"ts": format_rfc3339(ts_ms), "service": service, "kind": kind, "id": cid}


def _burst(journey: str, t0: int) -> float:
    return 0.3 if journey == "checkout" and START_MS + 3 * HOUR <= t0 < START_MS + 3 * HOUR + 10 * MINUTE else 0.0


def scenario_burst() -> tuple[list[dict], list[dict]]:
    """6 h of clean traffic; 03:00–03:10 checkout fails 30% of requests. No change event at all."""
    return list(steady_traffic(360, error=_burst)), []


def scenario_burst_after_deploy() -> tuple[list[dict], list[dict]]:
    """The same burst, 5 minutes after a deploy of checkout's service (``shop``) at 02:55."""
    return list(steady_traffic(360, error=_burst)), [change(START_MS + 3 * HOUR - 5 * MINUTE, "shop", "deploy",
                                                            "deploy-shop-4711")]


def scenario_quiet_night() -> tuple[list[dict], list[dict]]:
    """8 h at 2 requests an hour per journey (at :15 and :45); checkout's request at 03:15 fails."""
    def rate(journey: str, t0: int) -> int:
        return 1 if (t0 - START_MS) // MINUTE % 30 == 15 else 0

    def error(journey: str, t0: int) -> float:
        return 1.0 if journey == "checkout" and t0 == START_MS + 3 * HOUR + 15 * MINUTE else 0.0
    return list(steady_traffic(480, rate=rate, error=error)), []


def scenario_silent_journey() -> tuple[list[dict], list[dict]]:
    """2 h of traffic; search receives nothing from 01:00 to 01:30 (its frontend lost the route)."""
    def rate(journey: str, t0: int) -> int:
        silent = journey == "search" and START_MS + HOUR <= t0 < START_MS + HOUR + 30 * MINUTE
        return 0 if silent else next(j.per_minute for j in JOURNEYS if j.name == journey)
    return list(steady_traffic(120, rate=rate)), []


def scenario_credential_stuffing() -> tuple[list[dict], list[dict]]:
    """1 h of traffic; 00:20–00:30 four IPs of 203.0.113.0/24 each try 60 logins a minute: 401s, with every
    20th attempt (from the 20th on) succeeding — a 200 from an attacker must never count as good."""
    records = list(steady_traffic(60))
    start = START_MS + 20 * MINUTE
    for k, ip in enumerate(STUFFING_IPS):
        for a in range(600):  # 60/min for 10 min
            ts = start + a * 1000 + k * 100 + 7
            ok = (a + 1) % 20 == 0
            records.append({"ts": format_rfc3339(ts), "client_ip": ip, "method": "POST", "host": "shop.example.com",
                            "path": "/login", "status": 200 if ok else 401, "duration_ms": 40,
                            "user_agent": ATTACK_UA})
    records.sort(key=lambda r: r["ts"])
    return records, []


def scenario_slow_burn_30d() -> tuple[list[dict], list[dict]]:
    """30 days of checkout at 2 requests a minute, failing exactly 0.2% of them: its 99.9% availability
    budget burns at 2× all month (its latency SLO, never failing, at 0×). Other journeys get no traffic."""
    def rate(journey: str, t0: int) -> int:
        return 2 if journey == "checkout" else 0

    def error(journey: str, t0: int) -> float:
        return 0.002 if journey == "checkout" else 0.0
    return list(steady_traffic(30 * 1440, rate=rate, error=error)), []


OUTAGE_MS = START_MS + DAY + 2 * HOUR  # day 2, 02:00


def _outage(journey: str, t0: int) -> float:
    return 1.0 if journey == "checkout" and OUTAGE_MS <= t0 < OUTAGE_MS + 10 * MINUTE else 0.0


def scenario_budget_exhausted() -> tuple[list[dict], list[dict]]:
    """36 h at 10 requests a minute per journey, checkout deployed at 00:00 on day 2 and down 02:00–02:10 on
    day 2 (100 errors in 15,600 requests: 0.64% against a 0.1% budget); nobody freezes deploys."""
    records = list(steady_traffic(36 * 60, rate=lambda journey, t0: 10, error=_outage))
    return records, [change(START_MS + DAY, "shop", "deploy", "deploy-shop-4700")]


def scenario_budget_exhausted_frozen() -> tuple[list[dict], list[dict]]:
    """The same outage; the team freezes ``shop`` deploys at 02:30 on day 2 — the policy is enforced."""
    records, changes = scenario_budget_exhausted()
    return records, changes + [change(OUTAGE_MS + 30 * MINUTE, "shop", "freeze", "freeze-shop-1")]


# -- scenarios with user reports (schemas/user_report.schema.json) ---------------------------------------
CRAWLER_UA = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
PAIN_MINUTES = 360


def report(ts_ms: int, kind: str, count: int = 1, journey: str | None = None, service: str | None = None,
           route: str | None = None, rid: str = "", source: str = "") -> dict:
    doc: dict = {"ts": format_rfc3339(ts_ms), "kind": kind, "count": count}
    if journey:
        doc["journey"] = journey
    else:
        doc["service"], doc["route"] = service, route
    if rid:
        doc["id"] = rid
    if source:
        doc["source"] = source
    return doc


def _trickle(journey: str, minutes: int, every_min: int = 120, offset_min: int = 37) -> list[dict]:
    """One ticket every ``every_min`` minutes: the background every support queue has (below any spike)."""
    return [report(START_MS + m * MINUTE, "support_ticket", journey=journey, rid=f"T-{journey}-{m}",
                   source="zendesk") for m in range(offset_min, minutes, every_min)]


def _outage_reports(journey: str, service: str, route: str, start_ms: int) -> list[dict]:
    """What an outage starting at ``start_ms`` produces: RUM error counts, tickets, a status-page post."""
    out = [report(start_ms + 2 * MINUTE, "rum_error", 40, service=service, route=route, source="rum"),
           report(start_ms + 7 * MINUTE, "rum_error", 25, service=service, route=route, source="rum")]
    out += [report(start_ms + (4 + k) * MINUTE, "support_ticket", journey=journey, rid=f"T-{journey}-o{k}",
                   source="zendesk") for k in range(6)]
    out.append(report(start_ms + 12 * MINUTE, "status_page", journey=journey, rid="SP-1", source="statuspage"))
    return out


def scenario_reported_outage() -> tuple[list[dict], list[dict]]:
    """The ``burst`` (checkout 30% errors 03:00–03:10), and users report it (see ``scenario_reports``)."""
    return list(steady_traffic(PAIN_MINUTES, error=_burst)), []


def _search_outage(journey: str, t0: int) -> float:
    return 0.5 if journey == "search" and START_MS + 3 * HOUR <= t0 < START_MS + 3 * HOUR + 10 * MINUTE else 0.0


def _crawler_errors(m: int) -> int:
    """Deterministic noise: the crawler's own 503s, 0–2 a minute (a Knuth multiplicative hash of the minute)."""
    return (0, 0, 1, 0, 2, 0, 1, 0)[(m * 2654435761 >> 11) % 8]


def scenario_bot_diluted_outage() -> tuple[list[dict], list[dict]]:
    """Search fails 50% of real users 03:00–03:10, while a crawler (AhrefsBot, 50 IPs) sends 600 searches
    a minute all along, with a few 503s of its own: the raw SLI (some 330 errors among 39,600 requests an
    hour: 1.7× search's 0.5% budget, under every burn threshold) never burns, the cleaned one pages. Users report the outage."""
    records = list(steady_traffic(PAIN_MINUTES, error=_search_outage))
    for m in range(PAIN_MINUTES):
        t0 = START_MS + m * MINUTE
        bad = _crawler_errors(m)
        for i in range(600):
            records.append({"ts": format_rfc3339(t0 + i * 100 + 3), "client_ip": f"192.0.2.{1 + i % 50}",
                            "method": "GET", "host": "shop.example.com", "path": "/search",
                            "status": 503 if i < bad else 200, "duration_ms": 30, "user_agent": CRAWLER_UA})
    records.sort(key=lambda r: r["ts"])
    return records, []


def _slow_outage(journey: str, t0: int) -> float:
    return 0.02 if journey == "checkout" and START_MS + HOUR <= t0 < START_MS + 3 * HOUR else 0.0


def scenario_unnoticed_burn() -> tuple[list[dict], list[dict]]:
    """Checkout fails 2% of requests 01:00–03:00 (20× its budget: a page) — a retried background call
    users never see; the support queue only has its usual trickle."""
    return list(steady_traffic(PAIN_MINUTES, error=_slow_outage)), []


def scenario_unmeasured_pain() -> tuple[list[dict], list[dict]]:
    """No 5xx at all, but login shows users an error page with status 200 from 02:00: complaints spike."""
    return list(steady_traffic(PAIN_MINUTES)), []


def scenario_reports(name: str) -> list[dict]:
    """The user reports of scenario ``name`` (none for the scenarios without any)."""
    at3 = START_MS + 3 * HOUR
    if name == "reported-outage":
        return sorted(_trickle("checkout", PAIN_MINUTES) + _outage_reports("checkout", "shop", "POST /checkout", at3),
                      key=lambda r: r["ts"])
    if name == "bot-diluted-outage":
        return sorted(_trickle("search", PAIN_MINUTES) + _outage_reports("search", "catalog", "GET /search", at3),
                      key=lambda r: r["ts"])
    if name == "unnoticed-burn":
        return _trickle("checkout", PAIN_MINUTES)
    if name == "unmeasured-pain":
        at2 = START_MS + 2 * HOUR
        spike = [report(at2 + k * 2 * MINUTE, "complaint", 2, journey="login", rid=f"C-{k}", source="app-store")
                 for k in range(10)]
        return sorted(_trickle("login", PAIN_MINUTES) + spike, key=lambda r: r["ts"])
    return []


SCENARIOS: dict[str, Callable[[], tuple[list[dict], list[dict]]]] = {
    "burst": scenario_burst,
    "burst-after-deploy": scenario_burst_after_deploy,
    "quiet-night": scenario_quiet_night,
    "silent-journey": scenario_silent_journey,
    "credential-stuffing": scenario_credential_stuffing,
    "slow-burn-30d": scenario_slow_burn_30d,
    "budget-exhausted": scenario_budget_exhausted,
    "budget-exhausted-frozen": scenario_budget_exhausted_frozen,
    "reported-outage": scenario_reported_outage,
    "bot-diluted-outage": scenario_bot_diluted_outage,
    "unnoticed-burn": scenario_unnoticed_burn,
    "unmeasured-pain": scenario_unmeasured_pain,
}


def write_scenario(name: str, out: str, changes_out: str | None, reports_out: str | None = None
                   ) -> tuple[int, int, int]:
    """Write scenario ``name``; returns (requests, change events, user reports written)."""
    records, changes = SCENARIOS[name]()
    reports = scenario_reports(name) if reports_out else []
    if reports_out:
        with open(reports_out, "wb") as f:
            f.write(b"".join(orjson.dumps(r) + b"\n" for r in reports))
    with open(out, "wb") as f:
        f.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
    if changes_out:
        with open(changes_out, "wb") as f:
            f.write(b"".join(orjson.dumps(c) + b"\n" for c in changes))
    return len(records), len(changes), len(reports)
