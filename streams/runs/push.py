"""The remote-write step of a finite run (``process``, ``replay``): push its merged counters — and the
detectors' gauges, when detection ran — to a Prometheus remote-write receiver, with event-time stamps
(a backfill). Encoding, sending and the retry/split policy are streams/sinks (publish, remote_write)."""

from __future__ import annotations

import sys
from typing import TextIO

from streams.config import Config
from streams.core.merge import CounterBook
from streams.runs.detection import DetectionResult
from streams.runs.errors import UserError


def push_run(book: CounterBook, config: Config, url: str | None, out: TextIO,
             found: DetectionResult | None = None) -> int:
    """Push to ``url`` (else ``remote_write.url``); one line of what was sent to ``out``. Returns the
    exit code: 1 (not 0) when any sample could not be delivered, said on stderr; UserError when the
    receiver cannot be used at all."""
    from streams.sinks.detection_series import gauge_samples
    from streams.sinks.publish import PublishError, push_counters

    try:
        report = push_counters(book, config.remote_write, url, gauge_samples(found.gauges) if found else ())
    except PublishError as exc:
        raise UserError(str(exc)) from None
    target = url or config.remote_write.url
    out.write(f"Remote-write: {report.samples_sent:,} samples in {report.requests:,} requests to {target}"
              f" ({report.retries} retries)\n")
    if report.dropped:
        dropped = ", ".join(f"{k} {v:,}" for k, v in sorted(report.dropped.items()))
        print(f"truesli: remote-write could not deliver every sample: dropped {dropped}; last error: "
              f"{report.last_error}", file=sys.stderr)
        return 1
    return 0
