"""What a finite run (``process``, ``demo``, ``replay``, ``report`` over logs) ends with."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.core.merge import CounterBook
from streams.core.pipeline import Outputs, Tally
from streams.runs.detection import AbuseCollector


@dataclass(slots=True)
class RunResult:
    """The merged counters (``book``: the newest revision of every window), the run's tallies, what was
    read (``inputs``, for the report), the first five dead letters and the filter flags' abuse episodes.
    :meth:`span` gives the event-time span (start of the first, end of the last window)."""

    tally: Tally
    book: CounterBook
    inputs: list[str]
    dead_letter_samples: list = field(default_factory=list)
    abuse: AbuseCollector | None = None
    capped: list = field(default_factory=list)
    """Every input or output limit (``limits:``; :class:`streams.sources.limits.Cap`) the run hit, in order."""

    def collect(self, out: Outputs) -> None:
        """Keep a core output: newest counter revisions, tallies, the first few dead letters, the
        filter flags (abuse episodes)."""
        self.book.add(out.counters)
        self.tally.add(out.tally)
        if self.abuse is not None and out.flags:
            self.abuse.add(out.flags)
        if out.dead_letters and len(self.dead_letter_samples) < 5:
            self.dead_letter_samples.extend(out.dead_letters[: 5 - len(self.dead_letter_samples)])

    def span(self) -> tuple[int | None, int | None]:
        """(start of the first window, end of the last window) in epoch ms; (None, None) without counters."""
        merged = self.book.merged()
        return (merged[0].window_start_ms, merged[-1].window_end_ms) if merged else (None, None)
