"""Rate-limited clients: the edge already said so (flag or 429), or the IP exceeds a configured rate.

The rate is counted per IP in event time with a two-bucket sliding window; an IP above
``max_requests`` per ``window_s`` is dropped for ``cooldown_s`` (restarted while it stays above the rate). Thresholds are meant to be conservative:
a CGNAT or corporate NAT address carries many real users.
"""

from __future__ import annotations

from streams.config import RateLimitFilter
from streams.core.filters.ipstate import IpState, estimate, slide
from streams.core.model import IpFlag, Request


class RateLimitCheck:
    reason = "rate_limited"
    __slots__ = ("_edge", "_429", "_max", "_window_ms", "_cooldown_ms", "_rule")

    def __init__(self, cfg: RateLimitFilter) -> None:
        self._edge = cfg.edge_flag
        self._429 = cfg.status_429
        self._max = cfg.max_requests
        self._window_ms = cfg.window_s * 1000
        self._cooldown_ms = cfg.cooldown_s * 1000
        self._rule = f"ip_rate>{cfg.max_requests}/{cfg.window_s}s"

    def over(self, idx: int, cur: int, prev: int, ts_ms: int) -> bool:
        """Whether an IP whose window reads (idx, cur, prev) after counting a request at ``ts_ms`` is above
        the rate (the batch core's steps ask it too, core/filters/ip_batch.py)."""
        return cur + prev > self._max and estimate(idx, cur, prev, ts_ms, self._window_ms) > self._max

    def check(self, req: Request, st: IpState, flags: list[IpFlag]) -> str | None:
        if self._edge and req.rate_limited:
            return "edge_flag"
        if self._429 and req.status == 429:
            return "status_429"
        ts = req.ts_ms
        st.rate_idx, st.rate_cur, st.rate_prev = slide(st.rate_idx, st.rate_cur, st.rate_prev, ts, self._window_ms)
        over = self.over(st.rate_idx, st.rate_cur, st.rate_prev, ts)
        if ts < st.rate_until:
            if over:  # still above the rate: the cooldown restarts from now
                st.rate_until = ts + self._cooldown_ms
            return st.rate_rule
        if over:
            st.rate_until = ts + self._cooldown_ms
            st.rate_rule = self._rule
            flags.append(IpFlag(ts, req.client_ip, self.reason, self._rule, st.rate_until))
            return self._rule
        return None
