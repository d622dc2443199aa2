"""Stage B's pure logic: per-partition partial counters of one window → the merged ``sli_counter``.

Partials are keyed journey|slo|window_start|partition; the latest one per partition is kept (last write
wins, in the order the partials partition delivers them), and the merged counter is their sum. Counters
are commutative sums, so the order partitions report in does not matter. The merged revision grows with
every partial update, so a compacted ``sli.counters`` always ends with the complete value.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.networks import top_networks


def merged_key(partial: dict) -> str:
    return f"{partial['journey']}|{partial['slo']}|{partial['window_start']}"


def merge_partials(partials: Iterable[dict], emitted_at: str) -> dict:
    """Sum the partials of one (journey, slo, window); all must share that key."""
    parts = list(partials)
    first = parts[0]
    out = {"journey": first["journey"], "slo": first["slo"], "window_start": first["window_start"],
           "window_end": first["window_end"], "good": 0, "total": 0, "raw_good": 0, "raw_total": 0,
           "filtered": {}, "skipped": {}, "networks": {}, "late": 0, "emitted_at": emitted_at, "revision": 0}
    for p in parts:
        for k in ("good", "total", "raw_good", "raw_total", "late"):
            out[k] += p[k]
        out["revision"] += p["revision"] + 1
        for field in ("filtered", "skipped", "networks"):
            for reason, n in p.get(field, {}).items():
                out[field][reason] = out[field].get(reason, 0) + n
    out["revision"] -= 1
    out["filtered"] = dict(sorted(out["filtered"].items()))
    out["skipped"] = dict(sorted(out["skipped"].items()))
    out["networks"] = top_networks(out["networks"])
    return out
