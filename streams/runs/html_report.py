"""The HTML-report step (``truesli report``, the end of ``truesli demo``): gather the history's merged
counters from one source, read the markers, build the view model and write the self-contained file.
What the report shows is streams/report; this module only connects inputs and output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streams.config import Config
from streams.core.model import WindowCounter
from streams.runs.errors import UserError
from streams.sinks.files import OutputError


def history_counters(config: Config, *, inputs: Sequence[str] = (), counters: str | None = None,
                     parquet: Sequence[str] | None = None, now_ms: int | None = None
                     ) -> tuple[list[WindowCounter], str]:
    """(merged counters, a phrase naming their source) from exactly one of: a ``--counters`` file,
    Parquet archives replayed, or request logs processed as ``truesli process`` would."""
    if counters:
        from streams.report.inputs import read_counters

        return read_counters(counters), f"counters {counters}"
    if parquet:
        from streams.runs.replay import replay_history

        return (replay_history(config, parquet=list(parquet), now_ms=now_ms).book.merged(),
                "Parquet " + ", ".join(parquet))
    from streams.runs.embedded import run_embedded

    return run_embedded(config, inputs, now_ms=now_ms).book.merged(), "logs " + ", ".join(inputs)


def write_html_report(config: Config, counters: Sequence[WindowCounter], out: str, sources: str, *,
                      anomalies_path: str | None = None, changes_path: str | None = None, max_points: int = 600,
                      period_days: int | None = None) -> Path:
    """Build and write the HTML review report; returns its path. Anomalies and change events are read
    strictly (a bad line is an InputError naming file:line); other user-fixable problems raise UserError,
    an unwritable ``out`` OutputError."""
    from streams.report.inputs import read_anomalies
    from streams.report.render import render_html
    from streams.report.view_model import ReportInputError, build_model
    from streams.sources.change_files import read_changes

    anomalies = read_anomalies(anomalies_path) if anomalies_path else None
    changes = read_changes([changes_path], strict=True).in_time_order() if changes_path else None
    try:
        model = build_model(config, counters, anomalies=anomalies, changes=changes, max_points=max_points,
                            period_days=period_days)
    except ReportInputError as exc:
        raise UserError(str(exc)) from None
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(model, sources), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror}") from None
    return path
