"""CIDR membership with a prefix trie (pytricia): deny lists, allow lists, trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import pytricia

from streams.config import IpDenyFilter
from streams.core.model import Request


class CidrSet:
    """Longest-prefix lookup over IPv4 and IPv6 blocks; ``lookup`` returns the matching block or None."""

    __slots__ = ("_trie",)

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._trie = pytricia.PyTricia(128)
        for cidr in cidrs:
            net = str(ipaddress.ip_network(cidr, strict=False))
            self._trie[net] = net

    def lookup(self, ip: str) -> str | None:
        try:
            return self._trie.get(ip)
        except ValueError:  # not an address: decode normally rejects these first
            return None

    def __contains__(self, ip: str) -> bool:
        return self.lookup(ip) is not None


class IpDenyCheck:
    """Deny-listed networks (scanner ranges, internal security testing). The allow list wins."""

    reason = "ip_deny"
    __slots__ = ("_deny", "_allow")

    def __init__(self, cfg: IpDenyFilter) -> None:
        self._deny = CidrSet(cfg.deny)
        self._allow = CidrSet(cfg.allow) if cfg.allow else None

    def check(self, req: Request) -> str | None:
        net = self._deny.lookup(req.client_ip)
        if net is None or (self._allow is not None and req.client_ip in self._allow):
            return None
        return f"deny:{net}"


def resolve_forwarded(peer: str, forwarded_for: str, proxies: CidrSet, normalize) -> str:
    """The client behind trusted proxies: walk X-Forwarded-For right to left, skipping trusted hops.

    Only called when ``peer`` itself is a trusted proxy; an unparseable hop stops the walk at the last
    trusted address, so a client cannot forge its way past an untrusted hop.
    """
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        ip = normalize(hop.strip())
        if ip is None:
            break
        client = ip
        if ip not in proxies:
            break
    return client
