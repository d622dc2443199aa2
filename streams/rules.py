"""Sloth spec and Prometheus rules for the configured SLOs (``truesli rules``).

Contract: pure functions of a :class:`~streams.config.Config` and :class:`RuleOptions`; they return plain
dicts (and :func:`dump_yaml` turns them into text). Nothing here reads files, clocks or the network.

Both outputs read the series truesli exports over remote write (names are a contract):

- ``truesli_sli_events_total{journey, slo, result="good"|"bad"}`` — cleaned (real-user) events;
- ``truesli_raw_events_total{journey, slo, result}`` and ``truesli_filtered_events_total{journey, reason}``
  — before filtering / what was dropped (not used by the alerts: alerts judge real users only).

Decisions (see docs/rules.md):

- **Zero traffic is 0, never NaN.** ``truesli:sli_error_ratio:rate<W>`` divides only where the window saw
  events (``truesli:sli_events:increase<W> > 0``); where it saw none the ratio is recorded as 0
  (``or 0 * total``): no NaN, no Inf, no ``clamp_min`` bias at low traffic. A missing
  ``result="bad"`` series (no error ever counted) also reads as 0 errors. Only an SLO whose counters do not
  exist at all has no ratio (absence, which is what ``absent()``/no-data alerts are for).
- **Minimum traffic.** Every alert condition also needs ``truesli:sli_events:increase<long window>``
  ≥ ``min_events`` (page) / ``min_ticket_events`` (ticket) events, so two requests and one error at 3 AM
  (a 50 % error ratio) cannot page anyone.
- Page and ticket alerts of one SLO share Sloth's alert name and differ by the ``severity`` label, so the
  two outputs route the same way in Alertmanager.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.config import BurnConfig, Config, JourneyConfig, SLOConfig, expand_statuses
from streams.core.burn import WINDOWS_MS, BurnCondition, BurnPolicy

SLI_METRIC = "truesli_sli_events_total"
RAW_METRIC = "truesli_raw_events_total"
FILTERED_METRIC = "truesli_filtered_events_total"

WINDOWS = tuple(WINDOWS_MS)  # the detector's windows: 5m 30m 1h 2h 6h 1d 3d
RATIO_RECORD = "truesli:sli_error_ratio:rate{window}"
EVENTS_RECORD = "truesli:sli_events:increase{window}"
SLO_PERIOD_DAYS = 30  # the budget period the annotations talk about (Sloth's default as well)


_DEFAULTS = BurnConfig()  # the one definition of the defaults (streams/config/sli.py)


@dataclass(frozen=True)
class RuleOptions:
    """Burn-rate factors and minimum-traffic guards; defaults are ``BurnConfig``'s (what the detector uses).
    The CLI builds it from ``config.detection.burn`` plus its flags (:meth:`from_config`)."""

    page: float = _DEFAULTS.page                 # 1h & 5m
    page_slow: float = _DEFAULTS.page_slow       # 6h & 30m
    ticket: float = _DEFAULTS.ticket             # 1d & 2h
    ticket_slow: float = _DEFAULTS.ticket_slow   # 3d & 6h
    min_events: int = _DEFAULTS.min_events                # events in a page condition's long window (1h, 6h)
    min_ticket_events: int = _DEFAULTS.min_ticket_events  # events in a ticket condition's long window (1d, 3d)

    @classmethod
    def from_config(cls, burn: BurnConfig) -> "RuleOptions":
        """The options ``truesli rules`` uses when no flag overrides the config."""
        return cls(page=burn.page, page_slow=burn.page_slow, ticket=burn.ticket, ticket_slow=burn.ticket_slow,
                   min_events=burn.min_events, min_ticket_events=burn.min_ticket_events)

    def __post_init__(self) -> None:
        for name in ("page", "page_slow", "ticket", "ticket_slow"):
            if not getattr(self, name) > 0:
                raise ValueError(f"burn-rate factor {name} must be > 0, got {getattr(self, name)}")
        for name in ("min_events", "min_ticket_events"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")

    def conditions(self) -> tuple[BurnCondition, ...]:
        """The detectors' conditions (streams/core/burn.py) with these factors: one definition for both."""
        return BurnPolicy.of(self.page, self.page_slow, self.ticket, self.ticket_slow, self.min_events,
                             self.min_ticket_events).conditions


# -- naming and small helpers -------------------------------------------------------------------------------
def service_of(journey: JourneyConfig) -> str:
    return journey.service or journey.name


def alert_name(journey: JourneyConfig, slo: SLOConfig) -> str:
    """``checkout``/``availability`` → ``TruesliCheckoutAvailabilityBudgetBurn`` (same in both outputs)."""
    words = re.split(r"_+", f"{journey.name}_{slo.name}")
    return "Truesli" + "".join(w[:1].upper() + w[1:] for w in words if w) + "BudgetBurn"


def _num(x: float) -> str:
    """A float as PromQL/YAML prints it naturally: 0.001, 14.4, 6 (never 0.0010000000000000009)."""
    r = round(x, 10)
    return str(int(r)) if r == int(r) else repr(r)


def error_budget(slo: SLOConfig) -> float:
    return round(1.0 - slo.objective, 10)


def objective_percent(slo: SLOConfig) -> float:
    return round(slo.objective * 100.0, 8)


def _matchers(journey: str, slo: str, result: str | None = None) -> str:
    parts = [f'journey="{journey}"', f'slo="{slo}"']
    if result is not None:
        parts.append(f'result="{result}"')
    return "{" + ",".join(parts) + "}"


def _range(metric: str, fn: str, journey: str, slo: str, window: str, result: str | None = None) -> str:
    return f"sum by (journey, slo) ({fn}({metric}{_matchers(journey, slo, result)}[{window}]))"


def _good_means(slo: SLOConfig) -> str:
    if slo.kind == "latency":
        return f"answered within {_num(slo.threshold_ms or 0)} ms"
    statuses = sorted(expand_statuses(slo.bad_statuses))
    return f"not answered with a bad status ({_status_ranges(statuses)})"


def _status_ranges(statuses: list[int]) -> str:
    out: list[str] = []
    i = 0
    while i < len(statuses):
        j = i
        while j + 1 < len(statuses) and statuses[j + 1] == statuses[j] + 1:
            j += 1
        lo, hi = statuses[i], statuses[j]
        if hi - lo == 99 and lo % 100 == 0:
            out.append(f"{lo // 100}xx")
        elif hi > lo:
            out.append(f"{lo}-{hi}")
        else:
            out.append(str(lo))
        i = j + 1
    return ", ".join(out)


def _days_left(factor: float) -> str:
    days = SLO_PERIOD_DAYS / factor
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


# -- Sloth --------------------------------------------------------------------------------------------------
def sloth_query(journey: str, slo: str, result: str | None = None) -> str:
    """An events query for Sloth; Sloth fills in ``{{.window}}`` and divides error by total itself."""
    return f"sum(rate({SLI_METRIC}{_matchers(journey, slo, result)}[" + "{{.window}}]))"


def sloth_specs(config: Config) -> list[dict[str, Any]]:
    """One Sloth ``prometheus/v1`` spec per journey, every SLO of the journey in it.

    Sloth names an SLO ``<service>-<name>``; journeys may share a service, so the Sloth SLO name is
    ``<journey>-<slo>`` to keep the IDs unique. Sloth's own windows and factors are the same defaults as
    :class:`BurnConfig` (14.4/6/3/1); the minimum-traffic guard exists only in ``prometheus-rules.yaml``.
    """
    specs = []
    for journey in config.journeys:
        slos = []
        for slo in journey.slos:
            name = alert_name(journey, slo)
            slos.append({
                "name": f"{journey.name}-{slo.name}",
                "objective": objective_percent(slo),
                "description": (f"{journey.name} {slo.name}: {_num(objective_percent(slo))}% of real-user events "
                                f"{_good_means(slo)}; bots, scanners, synthetics and background jobs are "
                                "filtered out by truesli before counting."),
                "labels": {"slo": slo.name},
                "sli": {"events": {
                    "error_query": sloth_query(journey.name, slo.name, "bad"),
                    "total_query": sloth_query(journey.name, slo.name),
                }},
                "alerting": {
                    "name": name,
                    "labels": {"journey": journey.name, "slo": slo.name},
                    "annotations": {
                        "summary": (f"{journey.name}/{slo.name} is burning its error budget "
                                    f"(objective {_num(objective_percent(slo))}%)."),
                        "description": (f"Real-user error ratio of journey {journey.name}, SLO {slo.name} is above "
                                        "its multi-window burn-rate thresholds (Sloth defaults: page at 14.4x "
                                        "over 1h and 5m or 6x over 6h and 30m, ticket at 3x over 1d and 2h or "
                                        "1x over 3d and 6h)."),
                    },
                    "page_alert": {"labels": {"severity": "page"}},
                    "ticket_alert": {"labels": {"severity": "ticket"}},
                },
            })
        specs.append({
            "version": "prometheus/v1",
            "service": service_of(journey),
            "labels": {"journey": journey.name},
            "slos": slos,
        })
    return specs


# -- Prometheus recording rules -----------------------------------------------------------------------------
def error_ratio_expr(journey: str, slo: str, window: str) -> str:
    """bad/total over ``window``; exact where the window saw events, 0 where it saw none, never NaN.

    The total is the recorded ``truesli:sli_events:increase<window>`` (evaluated just before in the same
    group). A ratio of increases over one window equals the ratio of rates, hence the ``rate`` name.
    """
    bad = _range(SLI_METRIC, "increase", journey, slo, window, "bad")
    total = EVENTS_RECORD.format(window=window) + _matchers(journey, slo)
    return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/ ({total} > 0)\nor\n0 * {total}\n"


def events_expr(journey: str, slo: str, window: str) -> str:
    """Number of cleaned events in ``window`` (the minimum-traffic guard and the ratio's denominator)."""
    return _range(SLI_METRIC, "increase", journey, slo, window)


def recording_rules(journey: JourneyConfig, slo: SLOConfig) -> list[dict[str, Any]]:
    # The static labels repeat what the expressions yield; they make every rule distinct for Prometheus
    # (`promtool check rules` lints same-name rules without distinguishing labels as duplicates).
    labels = {"journey": journey.name, "slo": slo.name}
    rules = []
    for w in WINDOWS:
        rules.append({"record": EVENTS_RECORD.format(window=w), "expr": events_expr(journey.name, slo.name, w),
                      "labels": dict(labels)})
    for w in WINDOWS:
        rules.append({"record": RATIO_RECORD.format(window=w), "expr": error_ratio_expr(journey.name, slo.name, w),
                      "labels": dict(labels)})
    return rules


# -- Prometheus alerts --------------------------------------------------------------------------------------
def condition_expr(journey: str, slo: str, budget: float, cond: BurnCondition) -> str:
    sel = _matchers(journey, slo)
    threshold = f"({_num(cond.factor)} * {_num(budget)})"
    return (f"(\n"
            f"    {RATIO_RECORD.format(window=cond.long)}{sel} > {threshold}\n"
            f"  and\n"
            f"    {RATIO_RECORD.format(window=cond.short)}{sel} > {threshold}\n"
            f"  and\n"
            f"    {EVENTS_RECORD.format(window=cond.long)}{sel} >= {cond.min_events}\n"
            f")")


def alert_rules(journey: JourneyConfig, slo: SLOConfig, options: RuleOptions) -> list[dict[str, Any]]:
    budget = error_budget(slo)
    out = []
    for severity in ("page", "ticket"):
        conds = [c for c in options.conditions() if c.severity == severity]
        expr = "\nor\n".join(condition_expr(journey.name, slo.name, budget, c) for c in conds) + "\n"
        explain = " or ".join(
            f"{_num(c.factor)}x over {c.long} and {c.short} (≥ {c.min_events} events in {c.long}; at "
            f"{_num(c.factor)}x a {SLO_PERIOD_DAYS}-day budget lasts {_days_left(c.factor)})"
            for c in conds)
        out.append({
            "alert": alert_name(journey, slo),
            "expr": expr,
            "labels": {"severity": severity, "journey": journey.name, "slo": slo.name},
            "annotations": {
                "summary": (f"{journey.name}/{slo.name} is burning its error budget "
                            f"(objective {_num(objective_percent(slo))}%, {severity})."),
                "description": (f"The real-user error ratio of journey {journey.name}, SLO {slo.name} "
                                f"({_good_means(slo)} is good) exceeds the burn-rate threshold: "
                                f"error ratio > factor x {_num(budget)} (the error budget) over both windows of "
                                f"{explain}."),
            },
        })
    return out


def prometheus_rules(config: Config, options: RuleOptions | None = None) -> dict[str, Any]:
    """A Prometheus rule file: one group per (journey, SLO) with its recordings, then its alerts.

    Rules of a group run in order, so the alerts read the recordings of the same evaluation.
    """
    options = options or RuleOptions()
    groups = []
    for journey in config.journeys:
        for slo in journey.slos:
            groups.append({
                "name": f"truesli-{journey.name}-{slo.name}",
                "rules": recording_rules(journey, slo) + alert_rules(journey, slo, options),
            })
    return {"groups": groups}


def unreachable_alerts(config: Config, options: RuleOptions) -> list[str]:
    """Conditions whose threshold is ≥ 100 % errors (factor × budget ≥ 1) and can never fire."""
    out = []
    for journey in config.journeys:
        for slo in journey.slos:
            for c in options.conditions():
                if c.factor * error_budget(slo) >= 1.0:
                    out.append(f"{journey.name}/{slo.name}: the {c.severity} condition over {c.long}/{c.short} "
                               f"needs an error ratio above {_num(c.factor)} x {_num(error_budget(slo))} ≥ 100% "
                               "and can never fire; lower the factor or tighten the objective")
    return out


# -- YAML ---------------------------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as literal blocks; keys in the order built."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)

HEADER = ("# Generated by `truesli rules` from {source}. Do not edit: change truesli.yaml and regenerate.\n"
          "# Reads truesli_sli_events_total (cleaned, real-user events). See docs/rules.md.\n")


def dump_yaml(doc: dict[str, Any] | list[dict[str, Any]], source: str = "truesli.yaml") -> str:
    """One document, or a list of documents separated by ``---`` (Sloth reads several specs per file)."""
    kw = {"Dumper": _Dumper, "sort_keys": False, "allow_unicode": True, "width": 1_000_000}
    if isinstance(doc, list):
        body = yaml.dump_all(doc, explicit_start=True, **kw)
    else:
        body = yaml.dump(doc, **kw)
    return HEADER.format(source=source) + body


RULE_FILES = ("sloth.yaml", "prometheus-rules.yaml")


def write_rules(config: Config, out: Path, options: RuleOptions, source: str) -> None:
    """Write ``sloth.yaml`` and ``prometheus-rules.yaml`` into the directory ``out`` (created), headed by
    ``source`` (the config they were made from); OutputError when the directory cannot be written."""
    from streams.sinks.files import OutputError

    files = {RULE_FILES[0]: dump_yaml(sloth_specs(config), source),
             RULE_FILES[1]: dump_yaml(prometheus_rules(config, options), source)}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write rules to {out}: {exc.strerror}") from None
