"""Mutation check: apply one deliberate bug at a time to the product code, run the unit suite, restore.

    python tests/mutation/run.py [--only NAME ...] [--pytest-args "..."] [--list]

Each mutant is an exact text replacement in one file (it must match exactly ``count`` times, or the mutant is
reported as "not applied" — the code moved, update the table). For each mutant the whole unit suite runs
with ``-x -q`` from this tree (PYTHONPATH is this tree, so subprocesses the tests start import the
mutated code too); the first failing test is the one that caught it. The original bytes are written back
after every mutant, also on Ctrl-C. Prints a Markdown table: mutant → caught by (or SURVIVED) and seconds.
Not part of the suite: it takes one unit-suite run per mutant.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old, new): every occurrence of old is replaced
    count: int = 1                             # occurrences expected per edit


MUTANTS = (
    Mutant("filters-order-cached", "filters order", (
        ("streams/core/filters/__init__.py", "for ua_verdict in self._ua_parts or ():",
         "for ua_verdict in reversed(self._ua_parts or ()):"),)),
    Mutant("filters-order-chain", "filters order", (
        ("streams/core/filters/__init__.py", "            for check in self._verdicts:",
         "            for check in reversed(self._verdicts):"),)),
    Mutant("filters-order-stateful", "filters order", (
        ("streams/core/filters/__init__.py", "for reason, check in self._stateful:",
         "for reason, check in reversed(self._stateful):"),)),
    # Both comparisons: ``cur + prev > max`` alone is a cheap pre-check (the estimate never exceeds cur + prev),
    # so ``>=`` in only one of them is an equivalent mutant — that survived the first run for that reason.
    Mutant("rate-limit-threshold", "thresholds", (
        ("streams/core/filters/rate_limit.py", "> self._max", ">= self._max"),), count=2),
    Mutant("scanner-404-threshold", "thresholds", (
        ("streams/core/filters/scanner.py", "self._count_404(st, ts, req.path) > self._threshold",
         "self._count_404(st, ts, req.path) >= self._threshold"),)),
    Mutant("judge-latency-boundary", "judge", (
        ("streams/core/judge.py", "GOOD if duration_ms <= self.threshold_ms else BAD",
         "GOOD if duration_ms < self.threshold_ms else BAD"),)),
    Mutant("judge-availability-inverted", "judge", (
        ("streams/core/judge.py", "return BAD if self.bad_status[status] else GOOD",
         "return GOOD if self.bad_status[status] else BAD"),)),
    Mutant("late-not-counted", "late", (
        ("streams/core/windows.py", "            acc.late += 1", "            acc.late += 0"),)),
    Mutant("too-late-boundary", "late", (
        ("streams/core/pipeline.py", "if ts < late_before:", "if ts <= late_before:"),)),
    Mutant("dead-letter-reason", "dead letters", (
        ("streams/core/pipeline.py", 'reason, error = "future_timestamp", "ahead',
         'reason, error = "too_late", "ahead'),)),
    # (Not "excluded only when no journey matched": classify() returns journey -1 for every exclusion, so
    # that mutant is equivalent — it survived the first run for that reason.)
    Mutant("exclusions-user-agent-inverted", "exclusions", (
        ("streams/core/journeys.py", "                if not mask & bit:\n                    continue",
         "                if mask & bit:\n                    continue"),)),
    Mutant("burn-page-factor-14.0", "burn factors", (
        ("streams/config/sli.py", "page: float = Field(default=14.4, gt=0)", "page: float = Field(default=14.0, gt=0)"),
        ("examples/truesli.yaml", "burn: {page: 14.4,", "burn: {page: 14.0,"))),
    Mutant("burn-factor-inclusive", "burn factors", (
        ("streams/core/burn.py",
         "if burn_rate(lb, lt, objective) > cond.factor and burn_rate(sb, st, objective) > cond.factor:",
         "if burn_rate(lb, lt, objective) >= cond.factor and burn_rate(sb, st, objective) >= cond.factor:"),)),
    Mutant("burn-short-window-ignored", "burn factors", (
        ("streams/core/burn.py",
         "if burn_rate(lb, lt, objective) > cond.factor and burn_rate(sb, st, objective) > cond.factor:",
         "if burn_rate(lb, lt, objective) > cond.factor:"),)),
    Mutant("burn-min-events-inclusive", "burn guards", (
        ("streams/core/burn.py", "lt < cond.min_events", "lt <= cond.min_events"),)),
    Mutant("burn-ticket-guard-from-page", "burn guards", (
        ("streams/core/burn.py", "BurnCondition(\"ticket\", \"1d\", \"2h\", ticket, min_ticket_events)",
         "BurnCondition(\"ticket\", \"1d\", \"2h\", ticket, min_events)"),)),
    Mutant("series-good-bad-swapped", "series good/bad", (
        ("streams/sinks/series.py", 'for result, delta in (("good", good), ("bad", total - good)):',
         'for result, delta in (("good", total - good), ("bad", good)):'),)),
    Mutant("merge-raw-good-from-good", "merge fields", (
        ("streams/core/merge.py", "        m.raw_good += c.raw_good", "        m.raw_good += c.good"),)),
    Mutant("merge-filtered-dropped", "merge fields", (
        ("streams/core/merge.py", "        _add_into(m.filtered, c.filtered)\n", ""),)),
    Mutant("merge-revision-rule", "merge fields", (
        ("streams/core/merge.py", "        emissions += c.revision + 1", "        emissions += c.revision"),)),
    Mutant("idle-timeout-boundary", "idle timeout", (
        ("streams/core/windows.py", "now_ms - self._idle_since >= self.idle_ms", "now_ms - self._idle_since > self.idle_ms"),)),
    Mutant("idle-advance-missing", "idle timeout", (
        ("streams/core/windows.py", "wm = max(wm, self.max_ts + (now_ms - self._idle_since) - self.lateness_ms)",
         "wm = max(wm, self.max_ts - self.lateness_ms)"),)),
)

FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - |$)", re.M)


def apply(m: Mutant) -> dict[Path, bytes] | str:
    """Apply ``m``; the original bytes of every touched file, or why it could not be applied (tree untouched)."""
    originals: dict[Path, bytes] = {}
    texts: dict[Path, str] = {}
    for file, old, new in m.edits:
        path = ROOT / file
        text = texts.get(path) or path.read_text(encoding="utf-8")
        originals.setdefault(path, path.read_bytes())
        found = text.count(old)
        if found != m.count:
            return f"not applied: {file} has the pattern {found}× (expected {m.count})"
        texts[path] = text.replace(old, new)
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    return originals


def run_suite(pytest_args: list[str]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *pytest_args],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="mutant names (default: all)")
    ap.add_argument("--pytest-args", default="tests/unit", help="what to run (default: the unit suite)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--log", help="append each mutant's pytest output to this file")
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name}\t{m.kind}")
        return 0
    pytest_args = args.pytest_args.split()
    print("| mutant | kind | result | s |\n|---|---|---|---|", flush=True)
    survivors = 0
    for m in chosen:
        started = time.monotonic()
        originals = apply(m)
        if isinstance(originals, str):
            print(f"| {m.name} | {m.kind} | {originals} | 0 |", flush=True)
            survivors += 1
            continue
        try:
            code, out = run_suite(pytest_args)
        finally:
            for path, data in originals.items():
                path.write_bytes(data)
        if args.log:
            with open(args.log, "a", encoding="utf-8") as log:
                log.write(f"\n===== {m.name} (exit {code}) =====\n{out[-6000:]}")
        failed = FAILED.findall(out)
        if code == 0:
            result = "SURVIVED"
            survivors += 1
        elif failed:
            result = f"caught by `{failed[0]}`"
        else:
            result = f"pytest exit {code} (no FAILED line; see --log)"
        print(f"| {m.name} | {m.kind} | {result} | {time.monotonic() - started:.0f} |", flush=True)
    print(f"\n{len(chosen) - survivors} of {len(chosen)} caught", flush=True)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
