"""Sloth specs and Sloth-compatible Prometheus rules for the configured SLOs (``truesli rules``).

Contract: pure functions of a :class:`~streams.config.Config` and :class:`RuleOptions`; they return plain
dicts (and :func:`dump_yaml` turns them into text). Nothing here reads files, clocks or the network.
Pyrra resources live in :mod:`streams.rules_pyrra`.

Both outputs read the series truesli exports over remote write (names are a contract):

- ``truesli_sli_events_total{journey, slo, result="good"|"bad"}`` — cleaned (real-user) events;
- ``truesli_raw_events_total{journey, slo, result}`` and ``truesli_filtered_events_total{journey, reason}``
  — before filtering / what was dropped (not used by the alerts: alerts judge real users only).

Decisions (see docs/rules.md):

- **Sloth's names and labels.** ``prometheus-rules.yaml`` records what ``sloth generate`` records for the
  spec written next to it — ``slo:sli_error:ratio_rate<W>`` for W in 5m…3d and the SLO period,
  ``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
  ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info`` — with the same labels (``sloth_id``,
  ``sloth_service``, ``sloth_slo``, ``sloth_window``, the SLO's ``journey``/``slo``) and alerts of the same
  name, labels (``severity``, ``sloth_severity``) and annotations, so Sloth's dashboards and Alertmanager
  routes keep working after switching. Only the expressions differ, where truesli adds value:
- **Zero traffic is 0, never NaN.** ``slo:sli_error:ratio_rate<W>`` divides only where the window saw
  events (``truesli:sli_events:increase<W> > 0``); where it saw none the ratio is recorded as 0
  (``or 0 * total``): no NaN, no Inf, no ``clamp_min`` bias at low traffic. A missing
  ``result="bad"`` series (no error ever counted) also reads as 0 errors. Only an SLO whose counters do not
  exist at all has no ratio (absence, which is what ``absent()``/no-data alerts are for).
- **The period ratio is event-weighted.** ``slo:sli_error:ratio_rate<period>`` is bad/total over the whole
  period from the counters (Sloth averages the 5m ratios, which weighs a quiet night like a busy day and
  needs 30 days of recorded history — a backfill has none).
- **Minimum traffic.** Every alert condition also needs ``truesli:sli_events:increase<long window>``
  ≥ ``min_events`` (page) / ``min_ticket_events`` (ticket) events, so two requests and one error at 3 AM
  (a 50 % error ratio) cannot page anyone. ``truesli:sli_events:increase<W>{journey, slo}`` is
  truesli's one extra record.
- Page and ticket alerts of one SLO share the alert name and differ by the ``severity`` label, as in Sloth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from streams.config import BurnConfig, Config, JourneyConfig, SLOConfig, expand_statuses
from streams.core.burn import WINDOWS_MS, BurnCondition, BurnPolicy

SLI_METRIC = "truesli_sli_events_total"
RAW_METRIC = "truesli_raw_events_total"
FILTERED_METRIC = "truesli_filtered_events_total"

WINDOWS = tuple(WINDOWS_MS)  # the detector's windows: 5m 30m 1h 2h 6h 1d 3d
RATIO_RECORD = "slo:sli_error:ratio_rate{window}"  # Sloth's name
EVENTS_RECORD = "truesli:sli_events:increase{window}"  # truesli's extra: the traffic guard and denominator
SLO_PERIOD_DAYS = 30  # Sloth's default period; the config's detection.slo_period_days overrides it
SLOTH_SPEC_VERSION = "prometheus/v1"
SLOTH_MODE = "cli-gen-prom"  # what `sloth generate` stamps on sloth_slo_info; dashboards may filter on it


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


# -- Sloth ids and labels -------------------------------------------------------------------------------------
def sloth_slo_name(journey: JourneyConfig, slo: SLOConfig) -> str:
    """The SLO's name in the Sloth spec: ``<journey>-<slo>`` (journeys may share a service)."""
    return f"{journey.name}-{slo.name}"


def sloth_id(journey: JourneyConfig, slo: SLOConfig) -> str:
    """Sloth's SLO id, ``<service>-<slo name>``: ``shop-checkout-availability``."""
    return f"{service_of(journey)}-{sloth_slo_name(journey, slo)}"


def slo_labels(journey: JourneyConfig, slo: SLOConfig) -> dict[str, str]:
    """The labels Sloth puts on every rule of the SLO: the spec's SLO labels, then its own ids."""
    return {"journey": journey.name, "slo": slo.name, "sloth_id": sloth_id(journey, slo),
            "sloth_service": service_of(journey), "sloth_slo": sloth_slo_name(journey, slo)}


def _sloth_selector(journey: JourneyConfig, slo: SLOConfig) -> str:
    """Sloth's selector for one SLO's recordings (its exact text, so the rules read like Sloth's)."""
    return (f'{{sloth_id="{sloth_id(journey, slo)}", sloth_service="{service_of(journey)}", '
            f'sloth_slo="{sloth_slo_name(journey, slo)}"}}')


def period_window(period_days: int) -> str:
    return f"{period_days}d"


# -- Sloth spec ---------------------------------------------------------------------------------------------
def sloth_query(journey: str, slo: str, result: str | None = None) -> str:
    """An events query for Sloth; Sloth fills in ``{{.window}}`` and divides error by total itself."""
    return f"sum(rate({SLI_METRIC}{_matchers(journey, slo, result)}[" + "{{.window}}]))"


def _alert_annotations(journey: JourneyConfig, slo: SLOConfig) -> dict[str, str]:
    return {
        "summary": (f"{journey.name}/{slo.name} is burning its error budget "
                    f"(objective {_num(objective_percent(slo))}%)."),
        "description": (f"Real-user error ratio of journey {journey.name}, SLO {slo.name} ({_good_means(slo)} "
                        "is good) is above its multi-window burn-rate thresholds (page at 14.4x over 1h and "
                        "5m or 6x over 6h and 30m, ticket at 3x over 1d and 2h or 1x over 3d and 6h, by "
                        "default)."),
    }


def sloth_specs(config: Config) -> dict[str, dict[str, Any]]:
    """One Sloth ``prometheus/v1`` spec per service (file name → spec), every SLO of its journeys in it.

    One spec per file: ``sloth generate -i DIR -o DIR`` then writes one rule file per spec, each a single
    YAML document (Prometheus and promtool read only the first document of a file). Sloth names an SLO
    ``<service>-<name>``; journeys may share a service, so the SLO name is ``<journey>-<slo>``. Sloth's own
    windows and factors are the defaults of :class:`BurnConfig` (14.4/6/3/1); the minimum-traffic guard
    and zero-traffic ratios exist only in ``prometheus-rules.yaml``.
    """
    by_service: dict[str, list[dict[str, Any]]] = {}
    for journey in config.journeys:
        for slo in journey.slos:
            by_service.setdefault(service_of(journey), []).append({
                "name": sloth_slo_name(journey, slo),
                "objective": objective_percent(slo),
                "description": (f"{journey.name} {slo.name}: {_num(objective_percent(slo))}% of real-user events "
                                f"{_good_means(slo)}; bots, scanners, synthetics and background jobs are "
                                "filtered out by truesli before counting."),
                "labels": {"journey": journey.name, "slo": slo.name},
                "sli": {"events": {
                    "error_query": sloth_query(journey.name, slo.name, "bad"),
                    "total_query": sloth_query(journey.name, slo.name),
                }},
                "alerting": {
                    "name": alert_name(journey, slo),
                    "labels": {"journey": journey.name, "slo": slo.name},
                    "annotations": _alert_annotations(journey, slo),
                    "page_alert": {"labels": {"severity": "page"}},
                    "ticket_alert": {"labels": {"severity": "ticket"}},
                },
            })
    return {f"{service}.yaml": {"version": SLOTH_SPEC_VERSION, "service": service, "slos": slos}
            for service, slos in by_service.items()}


# -- Prometheus recording rules -----------------------------------------------------------------------------
def error_ratio_expr(journey: str, slo: str, window: str) -> str:
    """bad/total over ``window``; exact where the window saw events, 0 where it saw none, never NaN.

    The total is the recorded ``truesli:sli_events:increase<window>`` (evaluated just before in the same
    group). A ratio of increases over one window equals the ratio of rates (Sloth's ``ratio_rate``).
    """
    bad = _range(SLI_METRIC, "increase", journey, slo, window, "bad")
    total = EVENTS_RECORD.format(window=window) + _matchers(journey, slo)
    return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/ ({total} > 0)\nor\n0 * {total}\n"


def events_expr(journey: str, slo: str, window: str) -> str:
    """Number of cleaned events in ``window`` (the minimum-traffic guard and the ratio's denominator)."""
    return _range(SLI_METRIC, "increase", journey, slo, window)


def recording_rules(journey: JourneyConfig, slo: SLOConfig, period_days: int = SLO_PERIOD_DAYS) -> list[dict[str, Any]]:
    """Events then ratios for the MWMBR windows and the SLO period, labelled as Sloth labels its SLIs.

    The ratios' static labels repeat what the expressions yield and add Sloth's ids; they also make every rule
    distinct for ``promtool check rules`` (same-name rules without distinguishing labels are duplicates).
    """
    windows = (*WINDOWS, period_window(period_days))
    rules = []
    for w in windows:  # truesli's own record keeps only journey/slo: the ratios divide by it label for label
        rules.append({"record": EVENTS_RECORD.format(window=w), "expr": events_expr(journey.name, slo.name, w),
                      "labels": {"journey": journey.name, "slo": slo.name}})
    for w in windows:
        rules.append({"record": RATIO_RECORD.format(window=w), "expr": error_ratio_expr(journey.name, slo.name, w),
                      "labels": {**slo_labels(journey, slo), "sloth_window": w}})
    return rules


def meta_rules(journey: JourneyConfig, slo: SLOConfig, period_days: int = SLO_PERIOD_DAYS,
               version: str = "") -> list[dict[str, Any]]:
    """Sloth's metadata recordings: objective, budget, period, current/period burn rate, budget left, info."""
    labels = slo_labels(journey, slo)
    sel = _sloth_selector(journey, slo)
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
    period = period_window(period_days)
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(slo.objective)})", "labels": dict(labels)},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{_num(slo.objective)})", "labels": dict(labels)},
        {"record": "slo:time_period:days", "expr": f"vector({period_days})", "labels": dict(labels)},
        {"record": "slo:current_burn_rate:ratio",
         "expr": f"{RATIO_RECORD.format(window='5m')}{sel}\n{on}slo:error_budget:ratio{sel}\n",
         "labels": dict(labels)},
        {"record": "slo:period_burn_rate:ratio",
         "expr": f"{RATIO_RECORD.format(window=period)}{sel}\n{on}slo:error_budget:ratio{sel}\n",
         "labels": dict(labels)},
        {"record": "slo:period_error_budget_remaining:ratio", "expr": f"1 - slo:period_burn_rate:ratio{sel}",
         "labels": dict(labels)},
        {"record": "sloth_slo_info", "expr": "vector(1)",
         "labels": {**labels, "sloth_mode": SLOTH_MODE, "sloth_objective": _num(objective_percent(slo)),
                    "sloth_spec": SLOTH_SPEC_VERSION, "sloth_version": f"truesli-{version}" if version else "truesli"}},
    ]


# -- Prometheus alerts --------------------------------------------------------------------------------------
def condition_expr(journey: JourneyConfig, slo: SLOConfig, budget: float, cond: BurnCondition) -> str:
    """Sloth's condition (short and long window over factor × budget) and truesli's traffic guard."""
    sel = _sloth_selector(journey, slo)
    threshold = f"({_num(cond.factor)} * {_num(budget)})"

    def over(window: str) -> str:
        return f"max({RATIO_RECORD.format(window=window)}{sel} > {threshold}) without (sloth_window)"

    guard = (f"on(journey, slo) {EVENTS_RECORD.format(window=cond.long)}{_matchers(journey.name, slo.name)} "
             f">= {cond.min_events}")
    return (f"(\n"
            f"    {over(cond.short)}\n"
            f"    and\n"
            f"    {over(cond.long)}\n"
            f"    and\n"
            f"    {guard}\n"
            f")")


def alert_rules(journey: JourneyConfig, slo: SLOConfig, options: RuleOptions) -> list[dict[str, Any]]:
    """Page and ticket alerts as Sloth writes them for the spec (labels and annotations equal)."""
    budget = error_budget(slo)
    out = []
    for severity in ("page", "ticket"):
        conds = [c for c in options.conditions() if c.severity == severity]
        expr = "\nor\n".join(condition_expr(journey, slo, budget, c) for c in conds) + "\n"
        out.append({
            "alert": alert_name(journey, slo),
            "expr": expr,
            "labels": {"journey": journey.name, "severity": severity, "slo": slo.name, "sloth_severity": severity},
            "annotations": {
                **_alert_annotations(journey, slo),
                "title": (f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error "
                          "budget burn rate is too fast."),
            },
        })
    return out


def prometheus_rules(config: Config, options: RuleOptions | None = None, version: str = "") -> dict[str, Any]:
    """A Prometheus rule file (one document): per SLO a group with its recordings then its alerts (rules of
    a group run in order, so the alerts read the recordings of the same evaluation), and a metadata group."""
    options = options or RuleOptions()
    period = config.detection.slo_period_days
    groups = []
    for journey in config.journeys:
        for slo in journey.slos:
            groups.append({"name": f"truesli-{journey.name}-{slo.name}",
                           "rules": recording_rules(journey, slo, period) + alert_rules(journey, slo, options)})
            groups.append({"name": f"truesli-{journey.name}-{slo.name}-meta",
                           "rules": meta_rules(journey, slo, period, version)})
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


def dump_yaml(doc: dict[str, Any], source: str = "truesli.yaml") -> str:
    """One YAML document (never ``---``-separated documents: Prometheus and promtool read only the first)."""
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
    return HEADER.format(source=source) + body

