"""``truesli`` command line: argument parsing and dispatch only. Command names and flags are a contract
other tooling relies on.

Each command checks its flags, loads the config and calls what does the work: streams/runs (finite runs
and their steps: embedded, replay, detection, push, html_report, demo, archive, compare), streams/live
(the worker), streams/rules.py, streams/tools (gen, scenarios, bench). Expected failures (bad config,
unreadable input, unwritable output, anything a user can fix) print one ``truesli: error: …`` line naming
the fix and exit 2; they never show a traceback.
"""

from __future__ import annotations

import gc
import sys

from streams.cli.parser import build_parser
from streams.config import ConfigError
from streams.runs.errors import UserError
from streams.sinks.files import OutputError
from streams.sources.files import InputError

EXIT_USAGE = 2

COLLECTOR_THRESHOLDS = (50_000, 20, 100)
"""CPython's cyclic-collector thresholds for every command (the default is 700, 10, 10). The batch core
makes and drops thousands of short-lived containers per batch (lists, tuples, Arrow wrappers) that
reference counting frees anyway; at the default a young collection runs every 700 allocations and a full
one re-walks every long-lived object (IP states, windows, caches) every 100 young ones. Measured on
`truesli process` over 1M lines: 0.88× the wall at the same peak RSS (docs/benchmarks.md "Fourth round").
Cyclic garbage is still collected, only less often."""

__all__ = ["COLLECTOR_THRESHOLDS", "EXIT_USAGE", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, InputError, OutputError, UserError) as exc:
        print(f"truesli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("truesli: interrupted", file=sys.stderr)
        return 130

