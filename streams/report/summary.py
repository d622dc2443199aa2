"""The readable report and the ``--summary-json`` document of a run: raw vs cleaned, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from streams.config import Config
from streams.core.merge import CounterBook
from streams.core.pipeline import Tally
from streams.core.timeparse import format_rfc3339


def summary_dict(tally: Tally, book: CounterBook, config: Config, capped: Sequence = ()) -> dict:
    """{consumed, counted, filtered{}, excluded{}, unmatched, dead_lettered, dead_letter_reasons{}, late,
    journeys{journey: {slos: {slo: {good, total, raw_good, raw_total}}}}} — every configured journey/SLO
    appears, with zeros when it saw no traffic. ``capped`` ([{source, limit, detail}], the ``limits:`` the
    run hit) is present only when some limit was hit."""
    doc = tally.to_dict()
    if capped:
        doc["capped"] = [c.to_dict() for c in capped]
    totals = book.totals()
    journeys: dict = {}
    for j in config.journeys:
        slos = {}
        for s in j.slos:
            t = totals.get((j.name, s.name))
            slos[s.name] = t.to_dict() if t else {"good": 0, "total": 0, "raw_good": 0, "raw_total": 0}
        journeys[j.name] = {"slos": slos}
    doc["journeys"] = journeys
    return doc


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 anomaly``, ``2 anomalies``: the count with the word it needs (``many`` defaults to one + "s")."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _pct(bad: int, total: int) -> str:
    # "n/a" keeps the column's width; the line under the table says what it means.
    return "n/a" if total == 0 else f"{100.0 * bad / total:.3f}%"


def _reasons(d: dict[str, int]) -> str:
    if not d:
        return "none"
    return " · ".join(f"{k} {v:,}" for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))


def _distortion(good: int, total: int, raw_good: int, raw_total: int) -> str | None:
    """One sentence on how far the raw error rate is from the real-user one, or None if equal."""
    if not total or not raw_total or (raw_total - raw_good) * total == (total - good) * raw_total:
        return None
    raw_err, real_err = (raw_total - raw_good) / raw_total, (total - good) / total
    head = f"raw {100 * raw_err:.3f}% vs real users {100 * real_err:.3f}%"
    if raw_err > real_err:
        return f"{head} — non-user traffic inflated the error rate"
    if raw_err == 0:
        return f"{head} — non-user traffic hid every error"
    return f"{head} — non-user traffic diluted the error rate {real_err / raw_err:.1f}-fold"


def render_report(tally: Tally, book: CounterBook, config: Config, inputs: list[str],
                  dead_letter_samples: list, first_ts_ms: int | None, last_ts_ms: int | None,
                  capped: Sequence = ()) -> str:
    totals = book.totals()
    lines: list[str] = []
    span = ""
    if first_ts_ms is not None and last_ts_ms is not None:
        span = f" · event time {format_rfc3339(first_ts_ms)} → {format_rfc3339(last_ts_ms)}"
    lines.append(f"truesli SLI summary — {plural(tally.consumed, 'record')} from {', '.join(inputs)}{span}")
    lines.append("")
    header = f"{'journey':<14}{'slo':<14}{'objective':>10}  {'raw good/total':>22}  {'raw err':>9}  " \
             f"{'real-user good/total':>22}  {'real err':>9}"
    lines.append(header)
    lines.append("-" * len(header))
    distortions: list[str] = []
    idle: list[str] = []
    for j in config.journeys:
        for s in j.slos:
            t = totals.get((j.name, s.name))
            g, tot, rg, rt = (t.good, t.total, t.raw_good, t.raw_total) if t else (0, 0, 0, 0)
            lines.append(f"{j.name:<14}{s.name:<14}{100 * s.objective:>9.3f}%  {f'{rg:,}/{rt:,}':>22}  "
                         f"{_pct(rt - rg, rt):>9}  {f'{g:,}/{tot:,}':>22}  {_pct(tot - g, tot):>9}")
            if rt == 0:
                idle.append(f"{j.name}/{s.name}")
            note = _distortion(g, tot, rg, rt)
            if note:
                distortions.append(f"  {j.name}/{s.name}: {note}")
    if idle:
        lines.append(f"n/a: no traffic — no request was counted for {', '.join(idle)}")
    lines.append("")
    not_users = sum(tally.filtered.values())
    lines.append(f"Dropped as not real users: {not_users:,} ({_reasons(tally.filtered)})")
    lines.append(f"Excluded as not user events: {sum(tally.excluded.values()):,} ({_reasons(tally.excluded)})")
    lines.append(f"Unmatched by any journey: {tally.unmatched:,}")
    lines.append(f"Dead letters: {sum(tally.dead_lettered.values()):,} ({_reasons(tally.dead_lettered)})")
    for d in dead_letter_samples[:3]:
        lines.append(f"  e.g. {d.source}:{d.offset} {d.reason}: {d.error[:80]}")
    if tally.late:
        lines.append(f"Late records (counted into already-closed windows, re-emitted): {tally.late:,}")
    ok = "holds" if tally.accounted() == tally.consumed else "BROKEN"
    lines.append(f"Conservation {ok}: consumed {tally.consumed:,} = counted {tally.counted:,} + filtered "
                 f"{not_users:,} + excluded {sum(tally.excluded.values()):,} + unmatched {tally.unmatched:,} + "
                 f"dead-lettered {sum(tally.dead_lettered.values()):,}")
    if capped:
        lines.append("Capped (limits:, see docs/configuration.md) — the counts above cover what was read:")
        lines.extend(f"  {c.line()}" for c in capped)
    if distortions:
        lines.append("")
        lines.append("How non-user traffic distorted the SLI:")
        lines.extend(distortions)
    return "\n".join(lines) + "\n"
