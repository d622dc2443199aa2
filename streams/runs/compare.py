"""``truesli replay --compare OLD_CONFIG``: the same history under two SLI definitions, side by side.

Per journey and SLO: good/total, error rate and error budget spent under each definition, and the
windows where burn-rate alerts (streams.core.burn, the thresholds `truesli rules` generates) fire under
one definition but not the other — the evidence a quarterly review needs before re-baselining.
"""

from __future__ import annotations

from streams.config import Config
from streams.core.burn import BurnPolicy, alert_windows, spans
from streams.core.merge import CounterBook, SloTotals
from streams.core.timeparse import format_rfc3339


def _side(config: Config, book: CounterBook) -> dict[tuple[str, str], dict]:
    merged = book.merged()
    totals = book.totals()
    out: dict[tuple[str, str], dict] = {}
    for journey in config.journeys:
        for slo in journey.slos:
            counters = [c for c in merged if c.journey == journey.name and c.slo == slo.name]
            t = totals.get((journey.name, slo.name), SloTotals())
            good, total = t.good, t.total
            error = (total - good) / total if total else 0.0
            out[(journey.name, slo.name)] = {
                "objective": slo.objective, "good": good, "total": total, "error_rate": error,
                "budget_spent": error / (1.0 - slo.objective),
                "alerts": alert_windows(counters, slo.objective, BurnPolicy.from_config(config.detection.burn)),
                "step_ms": config.windows.size_s * 1000}
    return out


def compare(old_config: Config, old_book: CounterBook, new_config: Config, new_book: CounterBook) -> dict:
    old, new = _side(old_config, old_book), _side(new_config, new_book)
    rows = []
    for key in list(old) + [k for k in new if k not in old]:
        a, b = old.get(key), new.get(key)
        row: dict = {"journey": key[0], "slo": key[1],
                     "old": None if a is None else {k: a[k] for k in ("good", "total", "error_rate", "budget_spent")},
                     "new": None if b is None else {k: b[k] for k in ("good", "total", "error_rate", "budget_spent")}}
        for severity in ("page", "ticket"):
            fired_a = set(a["alerts"][severity]) if a else set()
            fired_b = set(b["alerts"][severity]) if b else set()
            step = (a or b)["step_ms"]
            row[f"{severity}_only_old"] = [[format_rfc3339(s), format_rfc3339(e)]
                                           for s, e in spans(sorted(fired_a - fired_b), step)]
            row[f"{severity}_only_new"] = [[format_rfc3339(s), format_rfc3339(e)]
                                           for s, e in spans(sorted(fired_b - fired_a), step)]
            row[f"{severity}_windows"] = {"old": len(fired_a), "new": len(fired_b)}  # alerting windows, each side
        rows.append(row)
    return {"slos": rows}


def render_compare(report: dict, old_name: str, new_name: str) -> str:
    lines = [f"SLI definitions compared over the same history: old = {old_name}, new = {new_name}", ""]
    for row in report["slos"]:
        lines.append(f"{row['journey']}/{row['slo']}")
        for side in ("old", "new"):
            d = row[side]
            if d is None:
                lines.append(f"  {side}: (not defined)")
            else:
                lines.append(f"  {side}: {d['good']:,}/{d['total']:,} good · error rate {100 * d['error_rate']:.3f}% · "
                             f"budget spent {100 * d['budget_spent']:.1f}%")
        for severity in ("page", "ticket"):
            differ = False
            for side, label in (("only_old", "fired only under old"), ("only_new", "fired only under new")):
                found = row[f"{severity}_{side}"]
                if found:
                    differ = True
                    shown = ", ".join(f"{s} → {e}" for s, e in found[:5]) + (" …" if len(found) > 5 else "")
                    lines.append(f"  {severity} alerts {label}: {len(found)} span(s): {shown}")
            if not differ:  # say it: silence would read as "not checked"
                n = row.get(f"{severity}_windows", {}).get("new", 0)
                lines.append(f"  {severity} alerts: none under either definition" if n == 0 else
                             f"  {severity} alerts: the same {n:,} windows under both definitions")
        lines.append("")
    return "\n".join(lines)
