"""good/bad per SLO of a journey.

availability: a status in the SLO's bad set (default 5xx) is bad, anything else good.
latency: duration ≤ threshold is good; a request without a duration cannot be judged and is skipped
(tallied as ``no_duration`` on the counter) rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.config import SLOConfig, expand_statuses

GOOD = 1
BAD = 0
SKIP = -1


@dataclass(frozen=True, slots=True)
class SloJudge:
    name: str
    is_latency: bool
    bad_status: bytes  # index = status code (0..999), 1 = bad
    threshold_ms: float

    def judge(self, status: int, duration_ms: float | None) -> int:
        if self.is_latency:
            if duration_ms is None:
                return SKIP
            return GOOD if duration_ms <= self.threshold_ms else BAD
        return BAD if self.bad_status[status] else GOOD


def build_judge(slo: SLOConfig) -> SloJudge:
    table = bytearray(1000)
    if slo.kind == "availability":
        for code in expand_statuses(slo.bad_statuses):
            if 0 <= code < 1000:
                table[code] = 1
    return SloJudge(slo.name, slo.kind == "latency", bytes(table), float(slo.threshold_ms or 0.0))
