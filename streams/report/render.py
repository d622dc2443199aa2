"""The report page: one self-contained HTML file (inline CSS and SVG, no scripts, no external URLs).

``render_html(model)`` is pure: the same model gives byte-identical HTML (no clock, no randomness).
Layout: the verdicts and the meta-dashboard first (what a quarterly review decides on), then per
journey/SLO four charts — raw vs cleaned error rate, traffic by filter reason, burn-rate history with the
MWMBR thresholds and calibration band, error budget remaining.
"""

from __future__ import annotations

import itertools

import math
from html import escape

from streams.core.timeparse import format_rfc3339
from streams.report import svg
from streams.report.pain_html import REPORT_COLOR, agreement_table, recommendation_line, report_markers
from streams.report.view_model import DAY_MS, REAL_USERS, ReportModel, SloView
from streams.report.verdict import (BUDGET_SPENT, CALIBRATED, NO_TRAFFIC, NOT_ENOUGH_HISTORY, POLICY_NOT_ENFORCED,
                                    TOO_LOOSE, TOO_TIGHT)

# Green is "calibrated" only; a verdict the history cannot support is a neutral slate, a spent budget red.
VERDICT_COLORS = {CALIBRATED: "#2e7d32", TOO_TIGHT: "#c62828", TOO_LOOSE: "#ef6c00",
                  POLICY_NOT_ENFORCED: "#6a1b9a", NO_TRAFFIC: "#616161", NOT_ENOUGH_HISTORY: "#546e7a",
                  BUDGET_SPENT: "#b71c1c"}
REASON_COLORS = {REAL_USERS: "#4c78a8", "crawler": "#f58518", "ai_crawler": "#ffbf79", "automation": "#54a24b",
                 "monitoring": "#88d27a", "preview": "#eeca3b", "feed_reader": "#d6a5c9", "headless": "#8c564b",
                 "scanner": "#e45756", "rate_limited": "#72b7b2", "credential_stuffing": "#b279a2",
                 "synthetic": "#9d755d", "ip_deny": "#bab0ac"}
EXTRA_COLORS = ("#ff9da6", "#79706e", "#9ecae9", "#d67195")
WINDOW_COLORS = {"1h": "#e45756", "6h": "#f58518", "1d": "#54a24b", "3d": "#4c78a8"}
CHANGE_COLORS = {"deploy": "#1f77b4", "config": "#17becf", "upstream": "#8c564b", "freeze": "#6a1b9a",
                 "unfreeze": "#b39ddb"}
SEVERITY_COLORS = {"page": "#c62828", "ticket": "#ef6c00", "info": "#757575"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:0}h3{font-size:14px;margin:14px 0 2px;color:#333}
.meta{color:#666;font-size:12px}.tiles{display:flex;gap:12px;margin:14px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px}.tile b{display:block;font-size:22px}
table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:4px 7px;border-bottom:1px solid #eee;text-align:right}
th:nth-child(-n+2),td:nth-child(-n+2),th:nth-child(4),td:nth-child(4){text-align:left}
.verdict{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600;white-space:nowrap}
section.slo{border-top:2px solid #ddd;margin-top:26px;padding-top:12px}.why{margin:4px 0 2px}
.legend{list-style:none;padding:0;margin:2px 0;font-size:12px;color:#444}.legend li{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:14px;height:4px;margin-right:4px;vertical-align:middle}
.caption{font-size:11.5px;color:#777;margin:0 0 4px}svg.chart{display:block;max-width:100%;height:auto}
table.summary caption{caption-side:top;text-align:left;font-size:11.5px;color:#777;padding:0 0 4px}
"""


def _pct(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}×"


def _ago(ms: int) -> str:
    days, rest = divmod(ms, DAY_MS)
    hours = rest // 3_600_000
    return f"{days} d {hours} h ago" if days else f"{hours} h {rest % 3_600_000 // 60_000} min ago"


def _badge(code: str, words: str) -> str:
    return f'<span class="verdict" data-verdict="{code}" style="background:{VERDICT_COLORS[code]}">{escape(words)}</span>'


def _legend(items: list[tuple[str, str]]) -> str:
    return '<ul class="legend">' + "".join(f'<li><i style="background:{c}"></i>{escape(t)}</li>' for t, c in items) + "</ul>"


def _decades(lo: float, hi: float) -> list[float]:
    return [10.0 ** e for e in range(math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9) + 1)]


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= v)


def _ran_out(budget: list[float | None]) -> int | None:
    """The bucket where the budget ran out for good: the start of the final stretch below 0, when the
    history ends overspent (an early dip that recovered is not it); None when it ends with budget left."""
    values = [(k, x) for k, x in enumerate(budget) if x is not None]
    if not values or values[-1][1] >= 0:
        return None
    k = len(values) - 1
    while k > 0 and values[k - 1][1] < 0:
        k -= 1
    return values[k][0]


def _span_words(ms: int) -> str:
    if ms % DAY_MS == 0:
        return f"{ms // DAY_MS} d"
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000} h"
    return f"{ms // 60_000} min"


def _since_freeze(v: SloView, model: ReportModel) -> str:
    if not model.changes_given:
        return "no --changes"
    if v.last_freeze_ms is None or model.last_ms is None:
        return "never"
    return _ago(model.last_ms - v.last_freeze_ms)


def _summary(model: ReportModel) -> str:
    s = model.summary
    tiles = [("Active SLOs", f"{s.active} of {s.slos}", f"real-user events in the last {model.period_days} days"),
             ("Burning > 1×", str(s.burning), "1-hour burn rate above 1×"),
             ("Avg budget remaining", _pct(s.avg_budget_remaining, 1), f"over the last {model.period_days} days"),
             ]
    out = ['<div class="tiles">']
    for name, value, hint in tiles:
        out.append(f'<div class="tile" data-tile="{escape(name)}">{escape(name)}<b>{escape(value)}</b>'
                   f'<span class="meta">{escape(hint)}</span></div>')
    out.append("</div>")
    # One definition of "active" for the page and the gauges: the detectors' (events in the SLO period).
    out.append(f'<table class="summary"><caption>Active SLOs: real-user events in the last {model.period_days} days '
               "(the SLO period, as the detectors' truesli_slos_active); burning: 1-hour burn rate above 1×."
               "</caption><thead><tr><th>journey</th><th>SLO</th><th>objective</th><th>verdict</th>"
               "<th>real-user errors</th><th>raw errors</th><th>not real users</th><th>burn 1h</th>"
               "<th>burn 3d avg</th><th>budget left</th><th>last freeze</th></tr></thead><tbody>")
    for v in model.slos:
        out.append(f'<tr data-journey="{escape(v.journey)}" data-slo="{escape(v.slo)}"><td>{escape(v.journey)}</td>'
                   f"<td>{escape(v.slo)}</td><td>{100 * v.objective:g}%</td><td>{_badge(v.verdict.code, v.verdict.headline)}</td>"
                   f"<td>{_pct((v.total - v.good) / v.total if v.total else None)}</td>"
                   f"<td>{_pct((v.raw_total - v.raw_good) / v.raw_total if v.raw_total else None)}</td>"
                   f"<td>{_pct(v.share_not_users(), 1)}</td><td>{_x(v.burn_1h_now)}</td><td>{_x(v.burn_avg_now)}</td>"
                   f"<td>{_pct(v.budget_now, 1)}</td><td>{escape(_since_freeze(v, model))}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _chart(name: str, v: SloView, model: ReportModel) -> svg.Chart:
    b = model.bucketing
    axis = svg.TimeAxis(b.start_ms, b.end_ms) if b else svg.TimeAxis(0, 1)
    return svg.Chart(name, axis, {"journey": v.journey, "slo": v.slo})


def _xs(model: ReportModel) -> list[float]:
    b = model.bucketing
    if b is None:
        return []
    axis = svg.TimeAxis(b.start_ms, b.end_ms)
    return [axis.x(b.start_ms + (k + 0.5) * b.bucket_ms) for k in range(b.n)]


def _change_markers(c: svg.Chart, v: SloView) -> None:
    for e in v.changes:
        policy = e.kind in ("freeze", "unfreeze")  # the events a review asks about stand out from routine deploys
        svg.vmarker(c, e.ts_ms, CHANGE_COLORS[e.kind], f"{e.kind} {e.id} ({v.service}) at {format_rfc3339(e.ts_ms)}"
                    + (f": {e.description}" if e.description else ""), f"change change-{e.kind}",
                    width=2.0 if policy else 1.0, opacity=0.9 if policy else 0.35)


def _error_chart(v: SloView, model: ReportModel, xs: list[float]) -> str:
    c = _chart("error_rate", v, model)
    allowed = 1.0 - v.objective
    values = [x for x in v.error_raw + v.error_real if x]
    lo = allowed / 100
    hi = min(1.0, max(_nice_max(max(values, default=allowed) * 1.5), allowed * 10))
    scale = svg.Scale(lo, hi, log=True)
    svg.y_axis(c, scale, _decades(lo, hi), lambda t: f"{100 * t:g}%")
    svg.time_axis(c)
    _change_markers(c, v)
    svg.hline(c, allowed, scale, "#222", f"objective {100 * allowed:g}%", dash="6 3")
    svg.series(c, "cleaned", xs, v.error_real, scale, "#d62728", width=1.8, label="cleaned: real users only")
    # Raw on top, dashed: where the two agree the cleaned line still shows through.
    svg.series(c, "raw", xs, v.error_raw, scale, "#616161", width=1.2, dash="5 3",
               label="raw: every request the journey matched")
    report_markers(c, v)
    if not v.has_data:
        svg.empty(c, "no counters for this SLO")
    rolling = ""
    if v.error_span > 1 and model.bucketing is not None:
        rolling = f"; each point: the rate over the last {_span_words(v.error_span * model.bucketing.bucket_ms)} " \
                  "(thin traffic)"
    svg.note(c, f"log scale; below {100 * lo:g}% (incl. 0) drawn at the bottom; gaps = no traffic{rolling}")
    return c.svg(f"{v.journey}/{v.slo} error rate")


def _traffic_chart(v: SloView, model: ReportModel, xs: list[float]) -> tuple[str, list[tuple[str, str]]]:
    c = _chart("traffic", v, model)
    layers = []
    legend = []
    extra = itertools.cycle(EXTRA_COLORS)  # the model caps the layers; colours repeat rather than run out
    for key, values in v.traffic.items():
        color = REASON_COLORS.get(key) or next(extra)
        layers.append((key, values, color))
        legend.append((key if key == REAL_USERS else f"filtered: {key}", color))
    tops = [sum(vals[k] for _, vals, _ in layers) for k in range(len(xs))]
    ticks = svg.nice_ticks(max(tops, default=0) * 1.05 or 1.0)
    hi = ticks[-1]
    scale = svg.Scale(0, hi)
    whole = all(float(t).is_integer() for t in ticks)
    svg.y_axis(c, scale, ticks, lambda t: f"{t:,.0f}/min" if whole else f"{t:g}/min")
    svg.time_axis(c)
    svg.stacked_areas(c, xs, layers, scale)
    share = svg.Scale(0, 1)
    svg.y_axis(c, share, [0, 0.5, 1], lambda t: f"{100 * t:.0f}%", right=True)
    svg.series(c, "not_real_users_share", xs, v.nonuser_share, share, "#111", width=1.2, dash="2 2",
               label="share of traffic that is not a real user (right axis)")
    legend.append(("share not real users (right axis)", "#111"))
    if not v.has_data:
        svg.empty(c, "no counters for this SLO")
    svg.note(c, "stacked requests per minute by verdict; dotted: share not real users")
    return c.svg(f"{v.journey}/{v.slo} traffic by filter reason"), legend


def _burn_chart(v: SloView, model: ReportModel, xs: list[float]) -> tuple[str, list[tuple[str, str]]]:
    c = _chart("burn_rate", v, model)
    top = max((x for vals in v.burn.values() for x in vals if x is not None), default=1.0)
    lo = 0.1
    hi = max(_nice_max(top * 1.3), 20.0)
    scale = svg.Scale(lo, hi, log=True)
    svg.y_axis(c, scale, _decades(lo, hi), lambda t: f"{t:g}×")
    svg.time_axis(c)
    loose, tight = model.band
    svg.band(c, loose, tight, scale, "#2e7d32", f"calibration band {loose:g}×–{tight:g}× for the 3-day average")
    _change_markers(c, v)
    legend = []
    for sev, window, factor in v.thresholds:
        svg.hline(c, factor, scale, WINDOW_COLORS.get(window, "#555"), f"{factor:g}× {sev}", dash="4 3")
    for window, values in v.burn.items():
        color = WINDOW_COLORS.get(window, "#555")
        is_avg = window == "3d"
        svg.series(c, f"burn_{window}", xs, values, scale, color, width=2.4 if is_avg else 1.1,
                   label=f"burn rate over {window}" + (" (the 3-day average)" if is_avg else ""))
        legend.append((f"{window}" + (" = 3-day average" if is_avg else ""), color))
    for row, (sev, spans) in enumerate(sorted(v.alerts.items())):
        for s, e in spans:
            svg.span_bar(c, s, e, SEVERITY_COLORS[sev], f"{sev} alert {format_rfc3339(s)} → {format_rfc3339(e)}", row)
    for a in v.anomalies:
        svg.triangle(c, a.ts_ms, SEVERITY_COLORS.get(a.severity, "#757575"),
                     f"anomaly {a.type} ({a.severity}, {a.state}) at {format_rfc3339(a.ts_ms)}", f"anomaly anomaly-{a.type}")
    if not v.has_data:
        svg.empty(c, "no counters for this SLO")
    svg.note(c, "log scale; each point is the highest burn in its bucket; green band = calibrated 3-day average")
    legend += [("calibration band", "#a5d6a7"), ("page alert", SEVERITY_COLORS["page"]),
               ("ticket alert", SEVERITY_COLORS["ticket"])]
    return c.svg(f"{v.journey}/{v.slo} burn rate"), legend


def _budget_chart(v: SloView, model: ReportModel, xs: list[float]) -> str:
    c = _chart("budget", v, model)
    low = min((x for x in v.budget if x is not None), default=0.0)
    # An overspent budget can be −20000%: scaled to that, 100% and 0% share a pixel and the series is a flat
    # line. The axis stops at −100% (values below are drawn on its bottom edge) and the chart says so.
    lo = 0.0 if low >= 0 else (-0.5 if low >= -0.5 else -1.0)
    scale = svg.Scale(lo, 1.0)
    ticks = {0.0: [0.0, 0.25, 0.5, 0.75, 1.0], -0.5: [-0.5, 0.0, 0.5, 1.0], -1.0: [-1.0, -0.5, 0.0, 0.5, 1.0]}[lo]
    svg.y_axis(c, scale, ticks, lambda t: f"{100 * t:.0f}%")
    svg.time_axis(c)
    _change_markers(c, v)
    svg.hline(c, 0.0, scale, "#c62828", "exhausted", dash="1 0")
    b = model.bucketing
    spent = _ran_out(v.budget)
    if spent is not None and b is not None:
        at = b.start_ms + (spent + 1) * b.bucket_ms  # the value is the one at the bucket's end
        svg.vmarker(c, min(at, b.end_ms), "#c62828", f"error budget ran out by {format_rfc3339(at)}", "exhausted",
                    width=1.5, opacity=0.9)
    svg.series(c, "budget_remaining", xs, v.budget, scale, "#4c78a8", width=1.8,
               label=f"error budget remaining over the trailing {model.period_days} days")
    if not v.has_data:
        svg.empty(c, "no counters for this SLO")
    clipped = f"; axis clipped at −100% (lowest {100 * low:,.0f}%)" if low < -1.0 else ""
    ran_out = f"; red line: ran out by {format_rfc3339(at)}" if spent is not None and b is not None else ""
    svg.note(c, f"trailing {model.period_days}-day budget: 1 − bad ÷ allowed bad; value at the end of each bucket"
             f"{clipped}{ran_out}")
    return c.svg(f"{v.journey}/{v.slo} error budget remaining")


def _section(v: SloView, model: ReportModel, xs: list[float]) -> str:
    note = model.bucketing.note() if model.bucketing else "no data"
    changes = sorted({e.kind for e in v.changes})
    change_legend = [(f"{k} ({v.service})", CHANGE_COLORS[k]) for k in changes]
    anomaly_legend = [("anomaly ▼", "#757575")] if v.anomalies else []
    traffic, traffic_legend = _traffic_chart(v, model, xs)
    burn, burn_legend = _burn_chart(v, model, xs)
    share = v.share_not_users()
    parts = [
        f'<section class="slo" id="{escape(v.journey)}-{escape(v.slo)}" data-journey="{escape(v.journey)}" '
        f'data-slo="{escape(v.slo)}">',
        f"<h2>{escape(v.journey)} / {escape(v.slo)} <span class=\"meta\">{v.kind}, objective {100 * v.objective:g}%, "
        f"service {escape(v.service)}</span></h2>",
        f'<p class="why">Verdict: {_badge(v.verdict.code, v.verdict.headline)} — {escape(v.verdict.reason)} '
        f'<span class="meta">(from {escape(v.verdict.source)})</span></p>',
        recommendation_line(v),
        "<h3>Error rate: raw vs real users</h3>",
        _legend([("raw (all matched requests), dashed", "#616161"), ("cleaned (real users)", "#d62728"),
                  ("objective", "#222")] + change_legend
                 + ([("user report", REPORT_COLOR)] if v.user_reports else [])),
        f'<p class="caption">{escape(note)}</p>', _error_chart(v, model, xs),
        f"<h3>Traffic by filter reason — {_pct(share, 1)} of it is not real users</h3>", _legend(traffic_legend),
        f'<p class="caption">{escape(note)}</p>', traffic,
        "<h3>Burn rate (MWMBR long windows) with alert thresholds</h3>", _legend(burn_legend + change_legend
                                                                                 + anomaly_legend),
        f'<p class="caption">{escape(note)}</p>', burn,
        f"<h3>Error budget remaining (trailing {model.period_days} days)</h3>",
        _legend([("budget remaining", "#4c78a8")] + change_legend),
        f'<p class="caption">{escape(note)}</p>', _budget_chart(v, model, xs),
        "</section>",
    ]
    return "".join(parts)


def render_html(model: ReportModel, sources: str) -> str:
    """The whole page. ``sources`` names what was read (shown in the header)."""
    xs = _xs(model)
    span = "no counters"
    if model.first_ms is not None and model.last_ms is not None:
        span = f"{format_rfc3339(model.first_ms)} → {format_rfc3339(model.last_ms)} (UTC)"
    verdicts = ("the anomalies file (detectors)" if model.verdict_source == "anomalies"
                else "the detectors, run over these counters")
    head = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>truesli SLO review</title><style>{CSS}</style></head><body>")
    top = (f"<h1>truesli SLO review</h1><p class=\"meta\">History {escape(span)} · {escape(sources)} · "
           f"verdicts from {escape(verdicts)}"
           + (f" · {escape(model.bucketing.note())}" if model.bucketing else "") + "</p>")
    body = [head, top, _summary(model), agreement_table(model)]
    body.extend(_section(v, model, xs) for v in model.slos)
    body.append("</body></html>\n")
    return "".join(body)
