"""Client networks as evidence: an IP reduced to its /24 (IPv4) or /48 (IPv6) network, and bounded tallies.

Network strings are evidence for humans (``sli_counter.networks``, anomaly evidence); they never become
metric labels. Tallies are capped so hostile traffic from millions of networks cannot grow state.
"""

from __future__ import annotations

import ipaddress

TRACKED_PER_WINDOW = 64
"""Distinct networks tallied per (journey, window); later ones are summed under ``OTHER``."""
TOP_N = 5
"""Networks kept on an emitted counter (the rest are summed under ``OTHER``)."""
OTHER = "other"


def network_of(ip: str, v4_prefix: int = 24, v6_prefix: int = 48) -> str:
    """``203.0.113.7`` → ``203.0.113.0/24``; unparsable input → ``OTHER`` (never raises)."""
    if v4_prefix == 24 and ip.count(".") == 3 and ":" not in ip:
        return ip[: ip.rfind(".")] + ".0/24"
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return OTHER
    if addr.version == 6 and addr.ipv4_mapped is not None:  # ::ffff:1.2.3.4 from a dual-stack listener
        addr = addr.ipv4_mapped
    prefix = v4_prefix if addr.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def tally_network(tally: dict[str, int], network: str, count: int = 1) -> None:
    """Add ``count`` requests of ``network`` to a window's tally: a network the window does not track yet
    goes to OTHER once it tracks TRACKED_PER_WINDOW, so the first networks to appear are the ones kept."""
    if network not in tally and len(tally) >= TRACKED_PER_WINDOW:
        network = OTHER
    tally[network] = tally.get(network, 0) + count


def top_networks(tally: dict[str, int], n: int = TOP_N) -> dict[str, int]:
    """The ``n`` largest networks (ties by name), the rest summed under ``OTHER``; ordered by count."""
    named = sorted(((k, v) for k, v in tally.items() if k != OTHER), key=lambda kv: (-kv[1], kv[0]))
    out = dict(named[:n])
    rest = sum(v for _, v in named[n:]) + tally.get(OTHER, 0)
    if rest:
        out[OTHER] = rest
    return out
