"""The report's user-pain parts (additive to render.py): the agreement table (cleaned vs raw SLI per SLO),
the recommended objective next to the verdict, and the user reports drawn on the error-rate chart. Pure."""

from __future__ import annotations

from html import escape

from streams.core.timeparse import format_rfc3339
from streams.report import svg
from streams.report.view_model import ReportModel, SloView

REPORT_COLOR = "#7b1fa2"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def agreement_table(model: ReportModel) -> str:
    """Empty when no user reports were given (the report then says nothing about agreement)."""
    pain = model.pain
    if pain is None:
        return ""
    cfg_note = ("precision: burn episodes users reported; recall: report spikes the SLI burned for; "
                "spearman: rank correlation of reports and errors per bucket at the best lag (buckets)")
    out = [f'<section class="agreement" id="user-pain"><h2>Does the SLI move when users hurt?</h2>'
           f'<p class="meta">{pain.reports:,} user reports · {escape(cfg_note)}</p>',
           '<table class="agreement"><thead><tr><th>journey</th><th>SLO</th><th>SLI</th><th>burn episodes</th>'
           "<th>report spikes</th><th>precision</th><th>recall</th><th>spearman</th><th>lag</th></tr></thead><tbody>"]
    for a in pain.agreements:
        rho = "–" if a.spearman is None else f"{a.spearman:+.2f}"
        lag = "–" if a.lag_buckets is None else str(a.lag_buckets)
        out.append(f'<tr data-journey="{escape(a.journey)}" data-slo="{escape(a.slo)}" data-basis="{a.basis}">'
                   f"<td>{escape(a.journey)}</td><td>{escape(a.slo)}</td><td>{a.basis}</td><td>{a.burn_episodes}</td>"
                   f"<td>{a.report_spikes}</td><td>{_pct(a.precision)}</td><td>{_pct(a.recall)}</td>"
                   f"<td>{rho}</td><td>{lag}</td></tr>")
    out.append("</tbody></table>")
    verdicts = [a for a in pain.anomalies if a.type in ("sli_misses_user_pain", "sli_pain_unseen_by_users")]
    if verdicts:
        out.append('<ul class="pain-verdicts">')
        for a in verdicts:
            where = a.journey + (f"/{a.slo}" if a.slo else "")
            out.append(f'<li data-type="{a.type}">{escape(a.type)} — {escape(where)} '
                       f"{format_rfc3339(a.window_start_ms)} → {format_rfc3339(a.window_end_ms)}</li>")
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def recommendation_line(v: SloView) -> str:
    r, c = v.recommendation, v.ceiling
    parts = []
    if r is not None and r.recommended is not None:
        basis = "3-day burn average" if r.basis == "3d" else "whole history (shorter than 3 days)"
        text = f"Recommended objective {100 * r.recommended:.3f}% (3-day burn would average 1×; {basis})"
        if r.reduction:
            text += f"; the current {100 * r.objective:g}% needs {100 * r.reduction:.0f}% fewer errors"
        parts.append(f'<span class="recommended" data-recommended="{r.recommended:.6f}">{escape(text)}</span>')
    if c is not None:
        if c.ceiling is None:
            text = "composite ceiling unknown (a dependency has no traffic in this history)"
        else:
            text = (f"composite ceiling {100 * c.ceiling:.3f}% ({' × '.join(c.services)})"
                    + (" — the objective is ABOVE it" if c.above_ceiling else ""))
        parts.append(f'<span class="ceiling" data-above="{str(c.above_ceiling).lower()}">{escape(text)}</span>')
    return f'<p class="recommend meta">{" · ".join(parts)}</p>' if parts else ""


def report_markers(chart: svg.Chart, v: SloView) -> None:
    """The journey's user reports on the error-rate chart: a purple tick per report, taller for larger counts."""
    for r in v.user_reports:
        svg.report_tick(chart, r.ts_ms, r.count, REPORT_COLOR,
                        f"{r.kind} ×{r.count} at {format_rfc3339(r.ts_ms)}" + (f" ({r.source})" if r.source else ""))
