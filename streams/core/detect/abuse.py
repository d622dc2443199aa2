"""Abuse episodes: per-IP filter flags (scanner, credential stuffing) grouped by client network.

Contract: ``observe(flag)`` in processing order, ``advance(until_ms)`` closes episodes whose every IP's
cooldown ended ``detection.abuse_gap_s`` or more before ``until_ms`` (event time), ``finish()`` closes the
rest. A flag of the network within that gap continues the episode: a scanner that comes back the moment
its cooldown ends is one episode, not one every cooldown. An episode emits one
``firing`` anomaly when its network is first flagged and one ``resolved`` anomaly with the totals when it
ends. State is bounded: at most ``MAX_OPEN`` open episodes (the longest-open is closed early to make room)
and ``MAX_IPS`` IPs listed per episode (``ip_count`` is exact up to that; beyond it an IP flagged twice is
counted twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.config import Config
from streams.core.detect.anomaly import Anomaly
from streams.core.networks import network_of
from streams.core.timeparse import format_rfc3339
from streams.core.model import IpFlag

TRACKED_REASONS = {"scanner": "info", "credential_stuffing": "ticket"}
"""Flag reason → anomaly severity (the anomaly type is the reason)."""
MAX_OPEN = 10_000
MAX_IPS = 20


@dataclass(slots=True)
class _Episode:
    reason: str
    network: str
    start_ms: int
    until_ms: int
    last_ms: int
    flags: int = 0
    ips: set[str] = field(default_factory=set)
    ip_count: int = 0
    rules: dict[str, int] = field(default_factory=dict)

    def evidence(self) -> dict:
        return {"network": self.network, "ips": sorted(self.ips), "ip_count": self.ip_count, "flags": self.flags,
                "rules": dict(sorted(self.rules.items())), "first_seen": format_rfc3339(self.start_ms),
                "last_seen": format_rfc3339(self.last_ms)}


class AbuseEpisodes:
    """Scanner and credential-stuffing episodes of one stream of flags (one pipeline / partition)."""

    def __init__(self, config: Config) -> None:
        self.v4 = config.detection.network_prefix_v4
        self.v6 = config.detection.network_prefix_v6
        self.gap_ms = config.detection.abuse_gap_s * 1000
        self.open: dict[tuple[str, str], _Episode] = {}

    def observe(self, flag: IpFlag) -> list[Anomaly]:
        severity = TRACKED_REASONS.get(flag.reason)
        if severity is None:
            return []
        net = network_of(flag.client_ip, self.v4, self.v6)
        key = (flag.reason, net)
        ep = self.open.get(key)
        out: list[Anomaly] = []
        if ep is not None and flag.ts_ms >= ep.until_ms + self.gap_ms:  # the earlier one had ended: a new one
            out.append(self._resolve(self.open.pop(key), flag.ts_ms))
            ep = None
        if ep is None:
            if len(self.open) >= MAX_OPEN:
                oldest = next(iter(self.open))  # insertion order: the episode opened first
                out.append(self._resolve(self.open.pop(oldest), flag.ts_ms))
            ep = self.open[key] = _Episode(flag.reason, net, flag.ts_ms, flag.until_ms, flag.ts_ms)
            self._add(ep, flag)
            out.append(Anomaly(flag.reason, "firing", None, None, severity, flag.ts_ms, flag.until_ms, flag.ts_ms,
                               ep.start_ms, net, evidence=ep.evidence()))
            return out
        self._add(ep, flag)
        return out

    def _add(self, ep: _Episode, flag: IpFlag) -> None:
        ep.flags += 1
        ep.until_ms = max(ep.until_ms, flag.until_ms)
        ep.last_ms = max(ep.last_ms, flag.ts_ms)
        ep.rules[flag.rule] = ep.rules.get(flag.rule, 0) + 1
        if flag.client_ip not in ep.ips:
            # Exact up to MAX_IPS listed IPs; beyond that an IP flagged twice is counted twice.
            ep.ip_count += 1
            if len(ep.ips) < MAX_IPS:
                ep.ips.add(flag.client_ip)

    def _resolve(self, ep: _Episode, at_ms: int) -> Anomaly:
        end = min(ep.until_ms, at_ms)
        return Anomaly(ep.reason, "resolved", None, None, TRACKED_REASONS[ep.reason], ep.start_ms, end, end,
                       ep.start_ms, ep.network, evidence=ep.evidence())

    def advance(self, until_ms: int) -> list[Anomaly]:
        done = sorted((ep for ep in self.open.values() if ep.until_ms + self.gap_ms <= until_ms),
                      key=lambda ep: (ep.start_ms, ep.reason, ep.network))
        for ep in done:
            del self.open[(ep.reason, ep.network)]
        return [self._resolve(ep, ep.until_ms) for ep in done]

    def state(self) -> list[list]:
        """Open episodes as JSON-able lists (the live worker keeps them in its state changelog)."""
        return [[ep.reason, ep.network, ep.start_ms, ep.until_ms, ep.last_ms, ep.flags, sorted(ep.ips), ep.ip_count,
                 ep.rules] for ep in self.open.values()]

    def load(self, state: list[list]) -> None:
        for reason, net, start, until, last, flags, ips, ip_count, rules in state:
            self.open[(reason, net)] = _Episode(reason, net, start, until, last, flags, set(ips), ip_count,
                                                dict(rules))

    def finish(self) -> list[Anomaly]:
        eps = sorted(self.open.values(), key=lambda ep: (ep.start_ms, ep.reason, ep.network))
        self.open.clear()
        return [self._resolve(ep, ep.until_ms) for ep in eps]
