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
             found: DetectionResult | None = None, now_ms: int | None = None) -> int:
    """Push to ``url`` (else ``remote_write.url``) the counters, the detectors' gauges and anomalies; one
    line of what was sent to ``out``, warnings first about samples the receiver will not keep. Returns the
    exit code: 1 (not 0) when any sample could not be delivered or did not read back as sent, said on
    stderr; UserError when the receiver cannot be used at all."""
    import time

    from streams.sinks.backfill import failure_line
    from streams.sinks.detection_series import anomaly_samples, gauge_samples
    from streams.sinks.publish import PublishError, backfill

    extra = [*gauge_samples(found.gauges), *anomaly_samples(found.anomalies)] if found else []
    try:
        result = backfill(book, config.remote_write, url, extra,
                          int(time.time() * 1000) if now_ms is None else now_ms)
    except PublishError as exc:
        raise UserError(str(exc)) from None
    for warning in result.warnings:
        print(f"truesli: warning: {warning}", file=sys.stderr)
    report = result.delivery
    target = url or config.remote_write.url
    out.write(f"Remote-write: {report.samples_sent:,} samples in {report.requests:,} requests to {target}"
              f" ({report.retries} retries)\n")
    if report.dropped:
        dropped = ", ".join(f"{k} {v:,}" for k, v in sorted(report.dropped.items()))
        print(f"truesli: remote-write could not deliver every sample: dropped {dropped}; last error: "
              f"{report.last_error}", file=sys.stderr)
        return 1
    rb = result.readback
    if rb.skipped:
        out.write(f"Read-back: not verified ({rb.skipped})\n")
    elif rb.ok:
        out.write(f"Read-back: all {rb.verified:,} series hold their newest sample "
                  f"({result.target.info.kind} at {result.target.api.base})\n")
    else:
        print(failure_line(result.target, rb, target or ""), file=sys.stderr)
        return 1
    return 0
