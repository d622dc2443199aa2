"""Server-side SVG charts: time-series lines with gaps, stacked areas, reference lines and markers.

Deliberately small (no charting library, no JavaScript): the report must be one self-contained file that
fetches nothing, and the series are already downsampled by the view model. Every chart is an ``<svg
class="chart">`` whose drawn series are ``<path class="series" data-series=… data-points=N>``; tests read
those attributes from the browser's DOM. ``None`` values are gaps (a new ``M`` command), never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape

WIDTH = 960
HEIGHT = 210
LEFT, RIGHT, TOP, BOTTOM = 64, 100, 30, 26
# Above the plot: the chart's note (baseline NOTE_Y), then a strip for the ▼ anomaly markers just above TOP,
# so a marker never sits on the note's text.
NOTE_Y = 11
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _f(v: float) -> str:
    """Compact coordinate: one decimal, no trailing zeros (keeps 90-day reports small)."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


@dataclass(slots=True)
class Scale:
    """Maps a value to a y pixel. ``log`` scales draw values ≤ ``lo`` at the bottom edge."""

    lo: float
    hi: float
    log: bool = False

    def y(self, v: float) -> float:
        top, bottom = TOP, HEIGHT - BOTTOM
        if self.log:
            v = min(max(v, self.lo), self.hi)
            frac = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            v = min(max(v, self.lo), self.hi)
            frac = (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return bottom - frac * (bottom - top)


@dataclass(slots=True)
class TimeAxis:
    start_ms: int
    end_ms: int

    def x(self, ts_ms: float) -> float:
        span = max(self.end_ms - self.start_ms, 1)
        return LEFT + (ts_ms - self.start_ms) / span * (WIDTH - LEFT - RIGHT)


@dataclass(slots=True)
class Chart:
    """Accumulates SVG elements for one chart; ``svg()`` returns the finished element."""

    name: str
    axis: TimeAxis
    attrs: dict[str, str] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def svg(self, label: str) -> str:
        attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in self.attrs.items())
        return (f'<svg class="chart" data-chart="{self.name}"{attrs} viewBox="0 0 {WIDTH} {HEIGHT}" '
                f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">'
                + "".join(self.parts) + "</svg>")


def line_path(xs: Sequence[float], ys: Sequence[float | None], scale: Scale) -> tuple[str, int]:
    """(path ``d``, number of drawn points). A lone point between gaps gets a tiny segment so it shows."""
    out: list[str] = []
    drawn = 0
    pen_down = False
    for i, (x, v) in enumerate(zip(xs, ys)):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            pen_down = False
            continue
        drawn += 1
        cmd = "L" if pen_down else "M"
        out.append(f"{cmd}{_f(x)} {_f(scale.y(v))}")
        nxt = ys[i + 1] if i + 1 < len(ys) else None
        if not pen_down and nxt is None:
            out.append("h1")
        pen_down = True
    return "".join(out), drawn


def series(chart: Chart, key: str, xs: Sequence[float], ys: Sequence[float | None], scale: Scale, color: str,
           width: float = 1.4, dash: str | None = None, label: str | None = None) -> int:
    d, drawn = line_path(xs, ys, scale)
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    title = f"<title>{escape(label)}</title>" if label else ""
    chart.add(f'<path class="series" data-series="{escape(key)}" data-points="{drawn}" d="{d}" fill="none" '
              f'stroke="{color}" stroke-width="{width}" stroke-linejoin="round" stroke-linecap="round"{extra}>'
              f"{title}</path>")
    return drawn


def stacked_areas(chart: Chart, xs: Sequence[float], layers: Sequence[tuple[str, Sequence[float], str]],
                  scale: Scale) -> None:
    """Layers bottom-up; each is drawn as a closed band between the running sum before and after it."""
    base = [0.0] * len(xs)
    for key, values, color in layers:
        top = [b + v for b, v in zip(base, values)]
        if not xs:
            continue
        upper = "".join(f"{'M' if i == 0 else 'L'}{_f(x)} {_f(scale.y(t))}" for i, (x, t) in enumerate(zip(xs, top)))
        lower = "".join(f"L{_f(x)} {_f(scale.y(b))}" for x, b in zip(reversed(xs), reversed(base)))
        drawn = sum(1 for v in values if v > 0)
        chart.add(f'<path class="series area" data-series="{escape(key)}" data-points="{drawn}" '
                  f'd="{upper}{lower}Z" fill="{color}" fill-opacity="0.85" stroke="none"></path>')
        base = top


def hline(chart: Chart, v: float, scale: Scale, color: str, label: str, dash: str = "5 4", cls: str = "ref") -> None:
    y = _f(scale.y(v))
    chart.add(f'<line class="{cls}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{color}" '
              f'stroke-width="1.2" stroke-dasharray="{dash}"/>'
              f'<text x="{WIDTH - RIGHT + 4}" y="{_f(scale.y(v) + 3.5)}" fill="{color}" font-size="10">'
              f"{escape(label)}</text>")


def band(chart: Chart, lo: float, hi: float, scale: Scale, color: str, label: str) -> None:
    y1, y2 = scale.y(hi), scale.y(lo)
    chart.add(f'<rect class="band" x="{LEFT}" y="{_f(y1)}" width="{WIDTH - LEFT - RIGHT}" height="{_f(y2 - y1)}" '
              f'fill="{color}" fill-opacity="0.13"><title>{escape(label)}</title></rect>')


def y_axis(chart: Chart, scale: Scale, ticks: Sequence[float], fmt: Callable[[float], str], right: bool = False) -> None:
    for t in ticks:
        y = _f(scale.y(t))
        if right:
            chart.add(f'<text x="{WIDTH - RIGHT + 4}" y="{y}" font-size="10" fill="#666" '
                      f'dominant-baseline="middle">{escape(fmt(t))}</text>')
        else:
            chart.add(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#e6e6e6"/>'
                      f'<text x="{LEFT - 6}" y="{y}" font-size="10" fill="#666" text-anchor="end" '
                      f'dominant-baseline="middle">{escape(fmt(t))}</text>')


def time_axis(chart: Chart) -> None:
    """Day (or hour) ticks along the bottom, at most ~10 labels, UTC."""
    a = chart.axis
    span = a.end_ms - a.start_ms
    for step in (60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 2 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS,
                 28 * DAY_MS):
        if span / step <= 10:
            break
    t = a.start_ms - a.start_ms % step + (step if a.start_ms % step else 0)
    bottom = HEIGHT - BOTTOM
    chart.add(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}" stroke="#999"/>')
    while t <= a.end_ms:
        x = _f(a.x(t))
        dt = datetime.fromtimestamp(t / 1000, tz=timezone.utc)
        label = dt.strftime("%b %d") if step >= DAY_MS or (t % DAY_MS == 0 and step >= HOUR_MS) \
            else dt.strftime("%H:%M")
        chart.add(f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}" stroke="#f0f0f0"/>'
                  f'<text x="{x}" y="{HEIGHT - 8}" font-size="10" fill="#666" text-anchor="middle">{label}</text>')
        t += step


def vmarker(chart: Chart, ts_ms: int, color: str, title: str, cls: str, width: float = 1.0,
            opacity: float = 0.7) -> None:
    if not chart.axis.start_ms <= ts_ms <= chart.axis.end_ms:
        return
    x = _f(chart.axis.x(ts_ms))
    chart.add(f'<g class="marker {cls}"><line x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="{color}" '
              f'stroke-width="{width:g}" stroke-opacity="{opacity:g}"/><title>{escape(title)}</title></g>')


def triangle(chart: Chart, ts_ms: int, color: str, title: str, cls: str) -> None:
    if not chart.axis.start_ms <= ts_ms <= chart.axis.end_ms:
        return
    x = chart.axis.x(ts_ms)
    chart.add(f'<g class="marker {cls}"><path d="M{_f(x - 5)} {TOP - 10}L{_f(x + 5)} {TOP - 10}L{_f(x)} {TOP - 2}Z" '
              f'fill="{color}"/><title>{escape(title)}</title></g>')


def span_bar(chart: Chart, start_ms: int, end_ms: int, color: str, title: str, row: int) -> None:
    a = chart.axis
    x1, x2 = a.x(max(start_ms, a.start_ms)), a.x(min(end_ms, a.end_ms))
    y = HEIGHT - BOTTOM - 5 - 5 * row
    chart.add(f'<rect class="alert-span" x="{_f(x1)}" y="{y}" width="{_f(max(x2 - x1, 1.5))}" height="4" '
              f'fill="{color}"><title>{escape(title)}</title></rect>')


def note(chart: Chart, text: str) -> None:
    chart.add(f'<text class="note" x="{LEFT}" y="{NOTE_Y}" font-size="10" fill="#888">{escape(text)}</text>')


def nice_ticks(hi: float, count: int = 4) -> list[float]:
    """0 and round multiples (1, 2, 2.5 or 5 × 10^k) up to the first at or above ``hi``: about ``count``
    steps. Axis labels like 12/min or 38/min (quarters of an arbitrary top) are what this avoids."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def empty(chart: Chart, text: str) -> None:
    chart.add(f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" font-size="13" fill="#999" '
              f'text-anchor="middle">{escape(text)}</text>')


def report_tick(chart: Chart, ts_ms: int, count: int, color: str, title: str) -> None:
    """A user report: a tick rising from the bottom, 4 px plus 3 px per doubling of ``count`` (max 28 px)."""
    if not chart.axis.start_ms <= ts_ms <= chart.axis.end_ms:
        return
    x = _f(chart.axis.x(ts_ms))
    h = min(28, 4 + 3 * (count.bit_length() - 1))
    y2 = HEIGHT - BOTTOM
    chart.add(f'<g class="marker user-report"><line x1="{x}" x2="{x}" y1="{y2 - h}" y2="{y2}" stroke="{color}" '
              f'stroke-width="2"/><title>{escape(title)}</title></g>')
