"""Pipeline state ⇄ bytes, for changelogs that make a live worker's results crash-consistent.

Two kinds of records describe one pipeline (one input partition):
- per-IP records: key ``ip:<address>`` → the IpState as JSON, or None (a tombstone) once evicted;
- one meta record: key ``meta`` → windows (open and retained closed accumulators, watermark inputs), the
  cumulative tally, and ``next_offset``, the first input offset *not* reflected in this state.
Replaying the records in the order they were written rebuilds the state exactly, including the
least-recently-touched order that decides evictions. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from streams.core.filters.ipstate import IpExtra, IpState
from streams.core.pipeline import Pipeline, Tally
from streams.core.windows import WindowAcc

META_KEY = b"meta"
IP_PREFIX = b"ip:"
_IP_FIELDS = ("last_ms", "rate_idx", "rate_cur", "rate_prev", "rate_until", "rate_rule")
_EXTRA_FIELDS = tuple(f for f in IpExtra.__slots__ if f not in ("nf_paths", "nf_prev"))


def _ip_state_to_bytes(st: IpState) -> bytes:
    values: list = [getattr(st, f) for f in _IP_FIELDS]
    x = st.x
    if x is not None:
        values.append([getattr(x, f) for f in _EXTRA_FIELDS]
                      + [sorted(x.nf_paths) if x.nf_paths is not None else None,
                         sorted(x.nf_prev) if x.nf_prev is not None else None])
    return orjson.dumps(values)


def _ip_state_from_bytes(data: bytes) -> IpState:
    values = orjson.loads(data)
    st = IpState(0)
    for f, v in zip(_IP_FIELDS, values):
        setattr(st, f, v)
    if len(values) > len(_IP_FIELDS):
        extra = values[len(_IP_FIELDS)]
        x = st.extra()
        for f, v in zip(_EXTRA_FIELDS, extra):
            setattr(x, f, v)
        cur, prev = extra[len(_EXTRA_FIELDS)], extra[len(_EXTRA_FIELDS) + 1]
        x.nf_paths = set(cur) if cur is not None else None
        x.nf_prev = set(prev) if prev is not None else None
    return st


def ip_changes(pipeline: Pipeline) -> list[tuple[bytes, bytes | None]]:
    """Changelog records for the per-IP state changed since the last call: tombstones first, then
    touched IPs in touch order (so an IP evicted and touched again ends up present)."""
    evicted, changed = pipeline.filters.store.take_changes()
    out: list[tuple[bytes, bytes | None]] = [(IP_PREFIX + ip.encode(), None) for ip in evicted]
    out.extend((IP_PREFIX + ip.encode(), _ip_state_to_bytes(st)) for ip, st in changed)
    return out


def _acc_to_list(acc: WindowAcc) -> list:
    return [acc.journey, acc.start, acc.good, acc.total, acc.raw_good, acc.raw_total, acc.no_duration,
            acc.filtered, acc.late, acc.revision, acc.networks]


def _acc_from_list(v: list) -> WindowAcc:
    acc = WindowAcc(v[0], v[1], len(v[2]))
    (acc.good, acc.total, acc.raw_good, acc.raw_total, acc.no_duration, acc.filtered, acc.late,
     acc.revision) = v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]
    acc.networks = v[10] if len(v) > 10 else {}  # snapshots written before networks existed
    return acc


def meta_record(pipeline: Pipeline, next_offset: int, extra: dict | None = None) -> bytes:
    """Everything but the per-IP state. Call between batches (no dirty windows pending). ``extra`` is
    opaque state of the caller's own (e.g. an exporter's running sums), restored alongside."""
    w = pipeline.windows
    t = pipeline.tally
    return orjson.dumps({
        "next_offset": next_offset,
        "max_ts": w.max_ts,
        "closed_through": w.closed_through,
        "open": [_acc_to_list(a) for a in w._open.values()],
        "closed": [_acc_to_list(a) for a in w._closed.values()],
        "tally": [t.consumed, t.counted, t.filtered, t.excluded, t.unmatched, t.dead_lettered, t.late],
        "evicted": pipeline.filters.store.evicted,
        "extra": extra,
    })


def restore(pipeline: Pipeline, records: Iterable[tuple[bytes, bytes | None]]) -> tuple[int | None, dict | None]:
    """Rebuild a fresh pipeline from changelog records in write order. Returns (``next_offset``, extra) from
    the last meta record, or (None, None) when there was no state (start from the committed/earliest
    offset)."""
    store = pipeline.filters.store
    meta: bytes | None = None
    for key, value in records:
        if key == META_KEY:
            meta = value
        elif key.startswith(IP_PREFIX):
            ip = key[len(IP_PREFIX):].decode()
            if value is None:
                store.forget(ip)
            else:
                store.load(ip, _ip_state_from_bytes(value))
    store.take_changes()  # what was just loaded is already in the changelog
    if meta is None:
        return None, None
    doc = orjson.loads(meta)
    w = pipeline.windows
    w.max_ts = doc["max_ts"]
    w.closed_through = doc["closed_through"]
    w._open = {(a.journey, a.start): a for a in map(_acc_from_list, doc["open"])}
    w._closed = {(a.journey, a.start): a for a in map(_acc_from_list, doc["closed"])}
    consumed, counted, filtered, excluded, unmatched, dead, late = doc["tally"]
    pipeline.tally = Tally(consumed, counted, filtered, excluded, unmatched, dead, late)
    store.evicted = doc["evicted"]
    return int(doc["next_offset"]), doc.get("extra")
