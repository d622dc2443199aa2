"""The ``anomaly`` record and its stable id."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.core.timeparse import format_rfc3339


@dataclass(slots=True)
class Anomaly:
    """One detector finding (a detector's own, or an ``anomaly`` message read back for the report).
    Times are event-time epoch ms.

    ``episode_ms`` is when the condition started and ``key`` separates parallel episodes of one type
    (severity, network); with type, journey, slo and state they make the id, so a replay of the same
    events yields the same ids (consumers and the compacted topic deduplicate on it).

    ``message_id`` is set only on a message read back (streams/report/inputs.py): its id is taken as
    published — another producer may derive it differently — and ``key``/``episode_ms`` are then not
    known (the reader leaves ``key`` empty and puts the window start in ``episode_ms``).
    """

    type: str
    state: str  # firing | resolved
    journey: str | None
    slo: str | None
    severity: str
    window_start_ms: int
    window_end_ms: int
    ts_ms: int
    episode_ms: int
    key: str = ""
    burn_rates: dict[str, float] = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    correlated_changes: list[dict] = field(default_factory=list)
    message_id: str | None = None

    @property
    def id(self) -> str:
        if self.message_id is not None:
            return self.message_id
        parts = (self.type, self.journey or "-", self.slo or "-", self.key or "-", format_rfc3339(self.episode_ms),
                 self.state)
        return "|".join(parts)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "type": self.type, "state": self.state, "journey": self.journey, "slo": self.slo,
            "severity": self.severity,
            "window": {"start": format_rfc3339(self.window_start_ms), "end": format_rfc3339(self.window_end_ms)},
            "burn_rates": {k: round(v, 6) for k, v in self.burn_rates.items()},
            "evidence": self.evidence, "correlated_changes": self.correlated_changes,
            "ts": format_rfc3339(self.ts_ms),
        }

    def brief(self) -> tuple:
        """(type, state, journey, slo, severity, window start, window end): what tests compare."""
        return (self.type, self.state, self.journey, self.slo, self.severity, format_rfc3339(self.window_start_ms),
                format_rfc3339(self.window_end_ms))
