"""What every finite run over request logs (``process``, ``replay``) does once its counters are
complete: the ``--summary-json`` totals, the text report, and detection when the config enables it.
Publishing the counters (remote-write, a Kafka topic) comes after, per command."""

from __future__ import annotations

import sys
from typing import TextIO

from streams.config import Config
from streams.runs.detection import DetectionResult, detect_run
from streams.runs.result import RunResult


def text_stream(*outputs: str | None) -> TextIO:
    """Where the human-readable report goes: stderr when any JSON output is stdout ('-'), so that one
    stays clean; else stdout."""
    return sys.stderr if "-" in outputs else sys.stdout


def report_run(config: Config, result: RunResult, out: TextIO, *, now_ms: int, summary_json: str | None = None,
               changes: list[str] | None = None, anomalies_path: str | None = None,
               dead_letters_path: str | None = None) -> DetectionResult | None:
    """Write the summary JSON, the text report to ``out``, then detect (see ``detect_run``); returns what
    the detectors found, None when detection is disabled."""
    from streams.report.summary import render_report, summary_dict
    from streams.sinks.files import write_json

    if summary_json:
        write_json(summary_json, summary_dict(result.tally, result.book, config))
    first, last = result.span()
    out.write(render_report(result.tally, result.book, config, result.inputs, result.dead_letter_samples,
                            first, last))
    if not config.detection.enabled:
        return None
    return detect_run(config, result, changes, anomalies_path, out, now_ms, dead_letters_path)
