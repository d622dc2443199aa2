"""Hot records shared by the core, the sources and the sinks.

Times are integer milliseconds since the Unix epoch, in event time (the request's own timestamp) unless a
name says otherwise. Records are slotted dataclasses: millions pass through per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Verdicts: every consumed record ends in exactly one of these (the conservation law).
COUNTED = "counted"
FILTERED = "filtered"
EXCLUDED = "excluded"
UNMATCHED = "unmatched"
DEAD_LETTER = "dead_letter"

@dataclass(slots=True)
class Request:
    """One decoded HTTP request. ``path`` has its query string removed; ``host`` is lowercase, no port."""

    ts_ms: int
    client_ip: str
    method: str
    host: str
    path: str
    status: int
    duration_ms: float | None
    user_agent: str
    rate_limited: bool = False
    synthetic: bool = False
    forwarded_for: str | None = None
    """Raw X-Forwarded-For, consulted only when the peer is a configured trusted proxy."""


@dataclass(slots=True)
class DeadLetter:
    """A record that could not be turned into a Request (or arrived too late to count).

    ``raw`` is the original input, truncated to a bounded size; ``source``/``partition``/``offset``
    locate it (file name and 1-based line number for files, topic/partition/offset for Kafka).
    """

    reason: str
    error: str
    raw: str
    source: str
    partition: int | None
    offset: int
    ts_ms: int | None = None



@dataclass(slots=True)
class RecordVerdict:
    """Why one input record ended where it did; what ``--verdicts`` writes, one per input record."""

    source: str
    line: int
    journey: str | None
    verdict: str
    reason: str | None
    rule: str | None

    def to_dict(self) -> dict:
        # ``source`` is the one location vocabulary of every output: {file, line} here, as in a file's
        # dead letters (Kafka records are {topic, partition, offset}).
        return {"source": {"file": self.source, "line": self.line}, "journey": self.journey,
                "verdict": self.verdict, "reason": self.reason, "rule": self.rule}


@dataclass(slots=True)
class WindowCounter:
    """good/total for one (journey, slo, window) — the ``sli_counter`` contract.

    ``good``/``total`` are cleaned (real users only); ``raw_*`` count every request the journey matched
    before filtering; ``filtered`` tallies the journey's drops by reason; ``skipped`` tallies requests
    the SLI could not judge (``no_duration`` for a latency SLO). ``late`` counts records that arrived
    after the window first closed; each re-emission bumps ``revision`` and replaces the earlier one.
    ``partition`` is set on per-partition partials and None on merged counters.
    """

    journey: str
    slo: str
    window_start_ms: int
    window_end_ms: int
    good: int = 0
    total: int = 0
    raw_good: int = 0
    raw_total: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    late: int = 0
    networks: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    partition: int | None = None

    @property
    def key(self) -> str:
        base = f"{self.journey}|{self.slo}|{self.window_start_ms}"
        return base if self.partition is None else f"{base}|{self.partition}"

    def sli_fields(self) -> tuple:
        """The values that define the SLI, independent of delivery (late/revision/partition)."""
        return (self.journey, self.slo, self.window_start_ms, self.window_end_ms, self.good, self.total,
                self.raw_good, self.raw_total, tuple(sorted(self.filtered.items())),
                tuple(sorted(self.skipped.items())))


@dataclass(slots=True)
class IpFlag:
    """A behavioural filter started dropping ``client_ip`` at ``ts_ms`` (input to the detectors)."""

    ts_ms: int
    client_ip: str
    reason: str
    rule: str
    until_ms: int
