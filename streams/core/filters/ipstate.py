"""Per-client-IP behavioural state, bounded by count and by event-time TTL.

Owned by one pipeline (one partition in live mode — the input topic is keyed by client IP, so an IP's
requests all reach the same owner). The dict is kept in least-recently-touched order: touching an IP
moves it to the end, so eviction pops from the front. A plain dict beats cachetools' LRUCache here by
several times per touch (measured in docs/benchmarks.md), which matters at one touch per request.

Most IPs never produce evidence: their whole state is the last-seen time and the rate window. The batch
core (filters/ip_batch.py) stores such a *plain* state as one packed int (:func:`pack`, ~48 bytes) instead
of an :class:`IpState` and its two boxed ints (~160 bytes) — the difference between meeting and missing
the memory bar at a million IPs (docs/benchmarks.md). Everything that reads the store sees IpStates: a
packed entry is unpacked on touch, in :meth:`IpStateStore.items` and in :meth:`IpStateStore.take_changes`.
When the store tracks changes (live mode) the entry's change sequence is packed too (a few bytes more).

Popping from the front of a dict is not O(1): ``next(iter(d))`` walks over every hole that earlier
evictions and touches left before the first live entry, so a flood of new IPs into a full store cost a
scan that grew with every eviction (200,000 new IPs into a full 1M store: 26 µs per touch and rising).
The store keeps the first few thousand keys of its touch order instead (:meth:`IpStateStore._oldest`) and
answers the oldest from that list, exactly as ``next(iter(d))`` would.
"""

from __future__ import annotations

from itertools import islice


class IpState:
    """Counters of one IP. Sliding windows use two buckets: (index, current count, previous count).

    Kept small on purpose — one per client IP, up to ``state.max_tracked_ips`` of them: only the rate
    window lives here; scanner and login evidence, which few IPs ever produce, sits in ``x``
    (an :class:`IpExtra`, created on first use).
    """

    __slots__ = ("seq", "last_ms", "rate_idx", "rate_cur", "rate_prev", "rate_until", "rate_rule", "x")

    def __init__(self, ts_ms: int) -> None:
        self.seq = 0  # the store's touch counter at the last touch (live mode): what changed since a snapshot
        self.last_ms = ts_ms
        self.rate_idx = -1
        self.rate_cur = 0
        self.rate_prev = 0
        self.rate_until = 0
        self.rate_rule = ""
        self.x: IpExtra | None = None

    def extra(self) -> "IpExtra":
        x = self.x
        if x is None:
            x = self.x = IpExtra()
        return x


class IpExtra:
    """Scanner and credential-stuffing evidence of one IP."""

    __slots__ = ("scan_until", "scan_rule", "nf_idx", "nf_paths", "nf_prev",
                 "cs_idx", "cs_att", "cs_att_prev", "cs_fail", "cs_fail_prev", "cs_until", "cs_rule")

    def __init__(self) -> None:
        self.scan_until = 0
        self.scan_rule = ""
        self.nf_idx = -1
        self.nf_paths: set[str] | None = None
        self.nf_prev: set[str] | None = None
        self.cs_idx = -1
        self.cs_att = 0
        self.cs_att_prev = 0
        self.cs_fail = 0
        self.cs_fail_prev = 0
        self.cs_until = 0
        self.cs_rule = ""


_COUNT_BITS = 24
_IDX_BITS = 48
_LAST_BITS = 48
_COUNT_MASK = (1 << _COUNT_BITS) - 1
_IDX_MASK = (1 << _IDX_BITS) - 1
_LAST_MASK = (1 << _LAST_BITS) - 1
_LAST_SHIFT = _IDX_BITS + 2 * _COUNT_BITS
_SEQ_SHIFT = _LAST_SHIFT + _LAST_BITS
_SEQ_CAP = 1 << 62  # change sequences past this stay objects (a worker does not touch 4.6e18 times)
_BELOW_SEQ = (1 << _SEQ_SHIFT) - 1


def pack(last_ms: int, rate_idx: int, rate_cur: int, rate_prev: int, seq: int = 0) -> int | None:
    """A plain state (no cooldown, no evidence) as one int, or None when a value does not fit its field
    (then an IpState is kept). Layout, high to low: seq | last_ms | rate_idx + 1 | rate_cur | rate_prev.
    ``seq`` is the change sequence (0 when the store does not track changes: the int stays ~48 bytes)."""
    if (rate_cur > _COUNT_MASK or rate_prev > _COUNT_MASK or rate_idx + 1 > _IDX_MASK or rate_idx < -1
            or not 0 <= last_ms <= _LAST_MASK or not 0 <= seq < _SEQ_CAP):
        return None
    return ((((seq << _LAST_BITS | last_ms) << _IDX_BITS | (rate_idx + 1)) << _COUNT_BITS | rate_cur)
            << _COUNT_BITS) | rate_prev


def unpack(v: int) -> tuple[int, int, int, int]:
    """(last_ms, rate_idx, rate_cur, rate_prev) of a :func:`pack`ed state."""
    return (v >> _LAST_SHIFT & _LAST_MASK, (v >> 2 * _COUNT_BITS & _IDX_MASK) - 1,
            v >> _COUNT_BITS & _COUNT_MASK, v & _COUNT_MASK)


def packed_rate_sum(v: int) -> int:
    """rate_cur + rate_prev of a :func:`pack`ed state (what the rate rule's limit is checked against)."""
    return (v >> _COUNT_BITS & _COUNT_MASK) + (v & _COUNT_MASK)


def packed_last_ms(v: int) -> int:
    return v >> _LAST_SHIFT & _LAST_MASK


def packed_seq(v: int) -> int:
    return v >> _SEQ_SHIFT


def with_seq(v: int, seq: int) -> int | None:
    """A packed state with its change sequence replaced, or None if ``seq`` does not fit."""
    return (v & _BELOW_SEQ) | seq << _SEQ_SHIFT if 0 <= seq < _SEQ_CAP else None


def pack_state(st: IpState) -> int | IpState:
    """``st`` packed when it is plain (no cooldown, rule or evidence; fits the layout), else ``st``."""
    if st.x is not None or st.rate_until or st.rate_rule:
        return st
    v = pack(st.last_ms, st.rate_idx, st.rate_cur, st.rate_prev, st.seq)
    return st if v is None else v


def state_of(v: "int | IpState") -> IpState:
    """The IpState of a store entry (a packed one unpacked into a new object)."""
    if type(v) is not int:
        return v
    last, idx, cur, prev = unpack(v)
    st = IpState(last)
    st.rate_idx, st.rate_cur, st.rate_prev, st.seq = idx, cur, prev, v >> _SEQ_SHIFT
    return st


def slide(idx: int, cur: int, prev: int, ts_ms: int, window_ms: int) -> tuple[int, int, int]:
    """Advance a two-bucket sliding counter to ``ts_ms`` and count one event.

    Returns the new (index, current, previous). Out-of-order events older than the current bucket are
    counted into it: the estimate errs towards counting, never towards forgetting.
    """
    new_idx = ts_ms // window_ms
    if new_idx == idx or new_idx < idx:
        return idx, cur + 1, prev
    if new_idx == idx + 1:
        return new_idx, 1, cur
    return new_idx, 1, 0


def estimate(idx: int, cur: int, prev: int, ts_ms: int, window_ms: int) -> float:
    """Events in the window ending at ``ts_ms``: current bucket + the overlapping share of the previous."""
    into = ts_ms - idx * window_ms
    if into < 0 or into >= window_ms:
        return float(cur)
    return cur + prev * (window_ms - into) / window_ms


_FRONT = 4096
"""Keys of the touch order read at once by :meth:`IpStateStore._oldest` (one pass per that many evictions)."""


class IpStateStore:
    """ip → IpState with a hard maximum and a TTL in event time.

    With ``track_changes`` (live mode) the store can report what changed since the last
    :meth:`take_changes` — IPs touched, in touch order, and IPs evicted — so a changelog can be written
    incrementally instead of snapshotting the whole store.
    """

    __slots__ = ("_states", "max_entries", "ttl_ms", "evicted", "_seq", "_synced_seq", "_evicted_keys", "_front",
                 "_front_at", "_front_live")

    def __init__(self, max_entries: int, ttl_s: int, *, track_changes: bool = False) -> None:
        # ip → IpState, or a packed plain state (an int, see the module docstring)
        self._states: dict[str, IpState | int] = {}
        self.max_entries = max_entries
        self.ttl_ms = ttl_s * 1000
        self.evicted = 0
        self._seq = 0
        self._synced_seq = 0
        self._evicted_keys: list[str] | None = [] if track_changes else None
        # The first keys of the touch order when last read (:meth:`_oldest`), where the next candidate is,
        # and which of them are still where they were (not touched, evicted or expired since); None: not read.
        self._front: list[str] = []
        self._front_at = 0
        self._front_live: set[str] | None = None

    def __len__(self) -> int:
        return len(self._states)

    def touch(self, ip: str, ts_ms: int) -> IpState:
        states = self._states
        st = states.pop(ip, None)
        if st is None:
            st = IpState(ts_ms)
            if len(states) >= self.max_entries:
                self._evict(self._oldest())
        else:
            live = self._front_live
            if live is not None:
                live.discard(ip)  # moved behind every other entry
            if type(st) is int:
                st = state_of(st)
            if ts_ms > st.last_ms:
                st.last_ms = ts_ms
        if self._evicted_keys is not None:  # change tracking (live mode) only: saves an int per IP otherwise
            self._seq += 1
            st.seq = self._seq
        states[ip] = st
        return st

    def _oldest(self) -> str:
        """The least recently touched IP — ``next(iter(self._states))`` — in O(1) amortised: the first
        :data:`_FRONT` keys are read in one pass, and the first of them still in place is the answer
        (entries only ever leave their place, and new ones go behind all of them)."""
        live = self._front_live
        while True:
            if live is None or self._front_at >= len(self._front):
                self._front = list(islice(self._states, _FRONT))
                self._front_at = 0
                live = self._front_live = set(self._front)
                if not self._front:
                    raise KeyError("the IP store is empty")
            ip = self._front[self._front_at]
            self._front_at += 1
            if ip in live:
                return ip

    def reordered(self) -> None:
        """Forget the front read by :meth:`_oldest`: to be called by whoever changes ``_states`` other than
        through touch, eviction or expiry (the batch core's bulk step, a load)."""
        self._front_live = None

    def _evict(self, ip: str) -> None:
        del self._states[ip]
        live = self._front_live
        if live is not None:
            live.discard(ip)
        self.evicted += 1
        if self._evicted_keys is not None:
            self._evicted_keys.append(ip)

    def expire(self, event_now_ms: int) -> int:
        """Drop IPs untouched for longer than the TTL (event time). Returns how many went."""
        cutoff = event_now_ms - self.ttl_ms
        # One pass from the oldest touch collects them: ``next(iter(dict))`` per eviction would re-skip every
        # hole that touching (pop + reinsert) leaves at the front of the dict, once per IP expired.
        old: list[str] = []
        for ip, v in self._states.items():
            if (packed_last_ms(v) if type(v) is int else v.last_ms) >= cutoff:
                break
            old.append(ip)
        for ip in old:
            self._evict(ip)
        return len(old)

    def take_changes(self) -> tuple[list[str], list[tuple[str, IpState]]]:
        """(evicted IPs, [(ip, state)] touched since the last call, oldest touch first); resets both."""
        changed: list[tuple[str, IpState]] = []
        states = self._states
        for ip in reversed(states):  # touch order is dict order, so stop at the first unchanged entry
            st = states[ip]
            if (packed_seq(st) if type(st) is int else st.seq) <= self._synced_seq:
                break
            changed.append((ip, state_of(st)))
        changed.reverse()
        self._synced_seq = self._seq
        evicted = self._evicted_keys or []
        if self._evicted_keys is not None:
            self._evicted_keys = []
        return evicted, changed

    def load(self, ip: str, st: IpState) -> None:
        """Restore one entry (in the order the changelog recorded it)."""
        self.reordered()
        self._states.pop(ip, None)
        st.seq = 0
        self._states[ip] = pack_state(st)

    def forget(self, ip: str) -> None:
        self.reordered()
        self._states.pop(ip, None)

    def items(self):
        """(ip, IpState) in touch order; packed entries are unpacked into new objects (a view: changing
        one does not change the store)."""
        return ((ip, state_of(v)) for ip, v in self._states.items())
