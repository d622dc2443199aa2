"""Per-SLO window series and burn episodes: the shared inputs of the after-the-fact reviews (agreement
with user reports, postmortem trigger, recommended objective). Pure; times are event-time epoch ms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.detect.anomaly import Anomaly
from streams.core.model import WindowCounter


@dataclass(slots=True)
class SloSeries:
    """One SLO's merged windows in time order: cleaned (``bad``/``total``) and raw (before filtering)."""

    journey: str
    slo: str
    step_ms: int
    ends: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    raw_bad: list[int] = field(default_factory=list)
    raw_total: list[int] = field(default_factory=list)

    @property
    def first_start_ms(self) -> int:
        return self.ends[0] - self.step_ms if self.ends else 0


def slo_series(counters: Iterable[WindowCounter], step_ms: int) -> dict[tuple[str, str], SloSeries]:
    """Series per (journey, slo) from merged counters (a later counter of a window replaces an earlier one)."""
    by: dict[tuple[str, str], dict[int, WindowCounter]] = {}
    for c in counters:
        by.setdefault((c.journey, c.slo), {})[c.window_end_ms] = c
    out = {}
    for key, wins in by.items():
        s = SloSeries(key[0], key[1], step_ms)
        for end in sorted(wins):
            c = wins[end]
            s.ends.append(end)
            s.bad.append(c.total - c.good)
            s.total.append(c.total)
            s.raw_bad.append(c.raw_total - c.raw_good)
            s.raw_total.append(c.raw_total)
        out[key] = s
    return out


@dataclass(frozen=True, slots=True)
class Episode:
    """[start, end] of a burn episode: from the first burn_spike firing to the last resolution of the
    burn_spike episodes (page and ticket) that overlap it; an unresolved one ends at the history's end."""

    start_ms: int
    end_ms: int


def burn_episodes(anomalies: Iterable[Anomaly], until_ms: int) -> dict[tuple[str, str], list[Episode]]:
    """Burn episodes per (journey, slo) from a detection's ``burn_spike`` anomalies (any order)."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    opened: dict[tuple[str, str, str], int] = {}
    for a in sorted((a for a in anomalies if a.type == "burn_spike" and a.journey and a.slo),
                    key=lambda a: (a.ts_ms, a.state != "resolved")):
        k = (a.journey, a.slo, a.severity)
        if a.state == "firing":
            opened.setdefault(k, a.ts_ms)
        elif k in opened:
            spans.setdefault((a.journey, a.slo), []).append((opened.pop(k), a.ts_ms))
    for (j, s, _), start in opened.items():
        spans.setdefault((j, s), []).append((start, max(start, until_ms)))
    out: dict[tuple[str, str], list[Episode]] = {}
    for key, items in spans.items():
        merged: list[list[int]] = []
        for start, end in sorted(items):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out[key] = [Episode(a, b) for a, b in merged]
    return out
