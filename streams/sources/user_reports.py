"""User reports (``user_report`` JSON lines: tickets, complaints, RUM error counts…) read from files.

The one reader of user-report files, for every command that takes ``--user-reports``. Lines come from
``streams.sources.files.iter_line_batches`` (``.gz`` and ``-`` = stdin work, blank lines are not reports,
positions are 1-based line numbers); each goes through ``streams.core.detect.user_reports.parse_user_report``.

* ``strict=False`` (``process``, ``replay``): a bad line becomes a ``bad_user_report`` dead letter with its
  reason and is counted; the run goes on.
* ``strict=True`` (``report``): the first bad line raises :class:`InputError` naming ``file:line``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.config import Config
from streams.core.detect.user_reports import ReportMapper, UserReport, parse_user_report
from streams.core.model import DeadLetter
from streams.sources.files import InputError, iter_line_batches

USER_REPORT_DEAD_LETTER = "bad_user_report"


@dataclass(slots=True)
class UserReportInput:
    """Reports in time order (stable), the lines that were not reports, and the count of lines read:
    ``lines == len(reports) + len(dead_letters)``."""

    reports: list[UserReport] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    lines: int = 0

    def reasons(self) -> dict[str, int]:
        return dict(Counter(d.error for d in self.dead_letters))


def read_user_reports(config: Config, paths: Iterable[str], *, strict: bool) -> UserReportInput:
    """Read every file of ``paths``. InputError for a file that cannot be read (either mode) and, when
    ``strict``, for the first line that is not a user report."""
    mapper = ReportMapper(config)
    out = UserReportInput()
    for path in paths:
        for batch, origin in iter_line_batches(path):
            for i, line in enumerate(batch):
                out.lines += 1
                rep = parse_user_report(line, mapper)
                if not isinstance(rep, str):
                    out.reports.append(rep)
                elif strict:
                    raise InputError(f"{origin.source}:{origin.position(i)}: {rep} (user_report contract: "
                                     "docs/user-reports.md)")
                else:
                    out.dead_letters.append(DeadLetter(USER_REPORT_DEAD_LETTER, rep, bytes(line[:4096]).decode(
                        "utf-8", "backslashreplace"), origin.source, None, origin.position(i), None))
    out.reports.sort(key=lambda r: r.ts_ms)
    return out
