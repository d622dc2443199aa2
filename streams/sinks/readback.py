"""After a backfill: read every pushed series back from the receiver and say what did not arrive.

A receiver can answer 2xx and still keep nothing (VictoriaMetrics outside ``-retentionPeriod``), so a
push is only trusted once the receiver's query API returns, for every series sent, its newest sample —
same timestamp, same value. Contract:

- :class:`Expected` is fed every sample sent (in any order) and keeps, per series, the newest one; it owns
  no I/O. :func:`verify` queries one instant per (metric, newest timestamp) — ``m`` and ``timestamp(m)``
  — and polls until everything matches or ``timeout_s`` passes (receivers make fresh samples searchable
  after a moment). Values compare exactly for integers (the counters) and to 1e-9 relative otherwise
  (VictoriaMetrics stores floats with ~12 significant digits).
- What it cannot query (no query API in the URL, a query error) is reported as not verified, with why;
  :class:`ReadbackReport` says which series are missing and which hold other values.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.sinks.query_api import QueryApi, QueryError

Labels = tuple[tuple[str, str], ...]


def _key(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__" and v != ""))


@dataclass
class Expected:
    """The newest sample of each series sent: (metric, labels without __name__) → (ts_ms, value)."""

    newest: dict[tuple[str, Labels], tuple[int, float]] = field(default_factory=dict)
    oldest_ms: int | None = None

    def add(self, labels: Mapping[str, str], ts_ms: int, value: float) -> None:
        key = (labels["__name__"], _key(labels))
        prev = self.newest.get(key)
        if prev is None or ts_ms >= prev[0]:
            self.newest[key] = (ts_ms, value)
        if self.oldest_ms is None or ts_ms < self.oldest_ms:
            self.oldest_ms = ts_ms

    def add_all(self, samples: Iterable[tuple[Mapping[str, str], int, float]]) -> None:
        for labels, ts_ms, value in samples:
            self.add(labels, ts_ms, value)

    @property
    def newest_ms(self) -> int | None:
        return max((ts for ts, _ in self.newest.values()), default=None)


@dataclass
class ReadbackReport:
    """``verified``: series whose newest sample came back; ``missing``/``mismatched``: examples
    (``metric{labels}``, at most 5 each) with the totals; ``skipped``: why nothing could be checked."""

    series: int = 0
    verified: int = 0
    missing: int = 0
    mismatched: int = 0
    examples: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.skipped and self.verified == self.series


def _same(got: float, want: float) -> bool:
    if float(want).is_integer():
        return got == want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def _show(metric: str, labels: Labels) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def _check_once(api: QueryApi, expected: Expected) -> ReadbackReport:
    groups: dict[tuple[str, int], dict[Labels, float]] = {}
    for (metric, labels), (ts, value) in expected.newest.items():
        groups.setdefault((metric, ts), {})[labels] = value
    report = ReadbackReport(series=len(expected.newest))
    for (metric, ts), want in sorted(groups.items()):
        values = {_key(r["metric"]): float(r["value"][1]) for r in api.instant(metric, ts)}
        stamps = {_key(r["metric"]): round(float(r["value"][1]) * 1000) for r in api.instant(f"timestamp({metric})", ts)}
        for labels, value in sorted(want.items()):
            if labels not in values or stamps.get(labels) != ts:
                report.missing += 1
                problem = "missing" if labels not in values else f"newest sample at {stamps.get(labels)}, not {ts}"
            elif not _same(values[labels], value):
                report.mismatched += 1
                problem = f"holds {values[labels]!r}, sent {value!r}"
            else:
                report.verified += 1
                continue
            if len(report.examples) < 5:
                report.examples.append(f"{_show(metric, labels)} at {ts}: {problem}")
    return report


def verify(api: QueryApi | None, expected: Expected, timeout_s: float = 15.0, poll_s: float = 0.5,
           why_not: str = "") -> ReadbackReport:
    """Read back every series of ``expected``; poll until all match or ``timeout_s`` (monotonic) passes."""
    if api is None:
        return ReadbackReport(series=len(expected.newest), skipped=why_not or "no query API for this URL")
    if not expected.newest:
        return ReadbackReport()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            report = _check_once(api, expected)
        except QueryError as exc:
            return ReadbackReport(series=len(expected.newest), skipped=f"query API error: {exc}")
        if report.ok or time.monotonic() >= deadline:
            return report
        time.sleep(poll_s)
