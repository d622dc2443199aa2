"""`truesli rules`: the Sloth specs and the Sloth-compatible Prometheus rules, checked structurally, by the
real promtool and by the real Sloth CLI (v0.16.0: `sloth validate`, and `sloth generate` whose rule names,
labels and annotations the generated rules must carry).

The promtool scenarios feed counters in promtool's expanding notation (``0+1000x120``) to the generated
rule file and assert which alerts fire: a sustained burst pages, a quiet night with one error does not
(minimum-traffic guard; with the guard off the same night pages), zero traffic records 0 (never NaN),
a slow burn opens a ticket and does not page. promtool is required: without it these tests fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streams.config import load_config
from streams.rules import (
    WINDOWS,
    RuleOptions,
    alert_name,
    dump_yaml,
    prometheus_rules,
    sloth_specs,
)
from tests.support.sloth import run_sloth

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "truesli.yaml"
METRIC = "truesli_sli_events_total"
SEL = '{journey="checkout",slo="availability"}'
ALERT = "TruesliCheckoutAvailabilityBudgetBurn"
LABELS = {"journey": "checkout", "slo": "availability"}
SLOTH = {"sloth_id": "shop-checkout-availability", "sloth_service": "shop", "sloth_slo": "checkout-availability"}
SSEL = ('{sloth_id="shop-checkout-availability", sloth_service="shop", sloth_slo="checkout-availability"}')


def rec(name: str, window: str | None = None, journey: str = "checkout", slo: str = "availability",
        service: str = "shop") -> str:
    """A recorded series as a selector with every label: Sloth's ``slo:…`` records carry its ids (and
    ``sloth_window`` when ``window`` is given); truesli's ``truesli:sli_events:…`` only journey and slo."""
    labels = {"journey": journey, "slo": slo}
    if name.startswith("slo:"):
        labels |= {"sloth_id": f"{service}-{journey}-{slo}", "sloth_service": service, "sloth_slo": f"{journey}-{slo}"}
        if window is not None:
            labels["sloth_window"] = window
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


# -- promtool ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def promtool() -> str:
    """The real promtool (Debian's prometheus package). Installed here if missing and we are root;
    otherwise the tests fail — they never skip."""
    path = shutil.which("promtool")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock = ["-o", "DPkg::Lock::Timeout=600"]
        subprocess.run(["apt-get", *lock, "update", "-qq"], env=env, capture_output=True, timeout=900)
        subprocess.run(["apt-get", *lock, "install", "-y", "-qq", "prometheus"], env=env, capture_output=True,
                       timeout=900)
        path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found and could not be installed: install Debian's `prometheus` package "
                    "(scripts/test does) — the generated rules must be checked by the real promtool")
    return path


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=300)


# -- helpers -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE)


def notation(values: list[float]) -> str:
    """Per-step sample values → promtool's expanding notation (``a+bxn`` = a, a+b, …, a+n·b)."""
    parts, i = [], 0
    while i < len(values):
        if i + 1 == len(values):
            parts.append(f"{values[i]}")
            break
        step = values[i + 1] - values[i]
        j = i + 1
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        parts.append(f"{values[i]}{'+' if step >= 0 else ''}{step}x{j - i}")
        i = j + 1
    return " ".join(parts)


def counter(minutes: int, per_minute) -> list[int]:
    """Cumulative counter sampled every minute from t=0: ``per_minute(m)`` events during minute m (1-based)."""
    out = [0]
    for m in range(1, minutes + 1):
        out.append(out[-1] + per_minute(m))
    return out


def series(result: str, values: list[int], journey: str = "checkout", slo: str = "availability",
           metric: str = METRIC, worker: str = "w1") -> dict:
    return {"series": f'{metric}{{journey="{journey}",slo="{slo}",result="{result}",worker="{worker}"}}',
            "values": notation(values)}


def write_rules(tmp_path: Path, config, options: RuleOptions | None = None,
                journeys: tuple[str, ...] = ("checkout",)) -> tuple[Path, dict]:
    """The generated rule file, cut down to the groups of ``journeys`` (promtool evaluates every rule at
    every step; the other journeys' groups would only slow the scenarios down)."""
    doc = prometheus_rules(config, options or RuleOptions())
    doc = {"groups": [g for g in doc["groups"] if g["name"].split("-")[1] in journeys]}
    path = tmp_path / "prometheus-rules.yaml"
    path.write_text(dump_yaml(doc, str(EXAMPLE)), encoding="utf-8")
    return path, doc


def generated_alerts(doc: dict, journey: str = "checkout", slo: str = "availability") -> dict[str, dict]:
    """severity → the generated alert rule (labels, annotations) of one SLO."""
    group = next(g for g in doc["groups"] if g["name"] == f"truesli-{journey}-{slo}")
    return {r["labels"]["severity"]: r for r in group["rules"] if "alert" in r}


def expected(doc: dict, *severities: str) -> list[dict]:
    """The firing alerts as promtool reports them: the rule's labels plus the series' (Sloth's ids), and the
    annotations with ``{{$labels.…}}`` filled in."""
    alerts = generated_alerts(doc)
    out = []
    for s in severities:
        ann = {k: v.replace("{{$labels.sloth_service}}", SLOTH["sloth_service"])
                   .replace("{{$labels.sloth_slo}}", SLOTH["sloth_slo"]) for k, v in alerts[s]["annotations"].items()}
        out.append({"exp_labels": {**SLOTH, **alerts[s]["labels"]}, "exp_annotations": ann})
    return out


def promtool_test(promtool: str, tmp_path: Path, rules: Path, input_series: list[dict],
                  alert_tests: list[dict] = (), expr_tests: list[dict] = (), name: str = "scenario") -> None:
    test = {"rule_files": [rules.name], "evaluation_interval": "1m",
            "tests": [{"name": name, "interval": "1m", "input_series": input_series,
                       "alert_rule_test": list(alert_tests), "promql_expr_test": list(expr_tests)}]}
    path = tmp_path / f"{name}.test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False, width=1_000_000), encoding="utf-8")
    r = run_promtool(promtool, "test", "rules", str(path))
    assert r.returncode == 0, f"promtool test rules {path.name} failed:\n{r.stdout}\n{r.stderr}"


# -- Sloth spec ----------------------------------------------------------------------------------------------
def test_sloth_specs_one_per_service(config):
    specs = sloth_specs(config)
    assert list(specs) == ["shop.yaml", "auth.yaml", "catalog.yaml"]
    assert [(s["version"], s["service"]) for s in specs.values()] == [
        ("prometheus/v1", "shop"), ("prometheus/v1", "auth"), ("prometheus/v1", "catalog")]
    assert [[(s["name"], s["objective"], s["labels"]) for s in spec["slos"]] for spec in specs.values()] == [
        [("checkout-availability", 99.9, LABELS), ("checkout-latency", 99.0, {"journey": "checkout", "slo": "latency"})],
        [("login-availability", 99.9, {"journey": "login", "slo": "availability"}),
         ("login-latency", 99.0, {"journey": "login", "slo": "latency"})],
        [("search-availability", 99.5, {"journey": "search", "slo": "availability"}),
         ("search-latency", 95.0, {"journey": "search", "slo": "latency"}),
         ("browse-availability", 99.9, {"journey": "browse", "slo": "availability"}),
         ("browse-latency", 99.0, {"journey": "browse", "slo": "latency"})],
    ]
    slo = specs["shop.yaml"]["slos"][0]
    assert list(slo) == ["name", "objective", "description", "labels", "sli", "alerting"]
    assert slo["sli"] == {"events": {
        "error_query": 'sum(rate(truesli_sli_events_total{journey="checkout",slo="availability",result="bad"}'
                       '[{{.window}}]))',
        "total_query": 'sum(rate(truesli_sli_events_total{journey="checkout",slo="availability"}[{{.window}}]))',
    }}
    alerting = slo["alerting"]
    assert list(alerting) == ["name", "labels", "annotations", "page_alert", "ticket_alert"]
    assert alerting["name"] == ALERT
    assert alerting["labels"] == LABELS
    assert set(alerting["annotations"]) == {"summary", "description"}
    assert alerting["page_alert"] == {"labels": {"severity": "page"}}
    assert alerting["ticket_alert"] == {"labels": {"severity": "ticket"}}
    assert "5xx" in slo["description"]
    assert "800 ms" in specs["shop.yaml"]["slos"][1]["description"]


def test_every_file_is_one_yaml_document(config, tmp_path):
    """Prometheus and promtool read only the first document of a multi-document file."""
    from streams.rules_files import rule_files

    files = rule_files(config, RuleOptions(), "x.yaml")
    assert sorted(files) == ["prometheus-rules.yaml", *sorted(f"pyrra/{j.name}-{s.name}.yaml" for j in config.journeys
                                                              for s in j.slos),
                             "sloth/auth.yaml", "sloth/catalog.yaml", "sloth/shop.yaml"]
    for name, text in files.items():
        assert text.startswith("# Generated by `truesli rules` from x.yaml.")
        assert not re.search(r"(?m)^---", text), name
        assert len(list(yaml.safe_load_all(text))) == 1
    assert yaml.safe_load(files["sloth/shop.yaml"]) == sloth_specs(config)["shop.yaml"]


@pytest.fixture(scope="module")
def sloth_out(config, tmp_path_factory) -> tuple[Path, dict]:
    """The real Sloth CLI on the specs `truesli rules` wrote: `sloth validate`, then `sloth generate` of the
    directory (one rule file per spec). Returns the output folder and truesli's own rule file."""
    from streams.rules_files import rule_files

    root = tmp_path_factory.mktemp("sloth")
    for name, text in rule_files(config, RuleOptions(), str(EXAMPLE)).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    r = run_sloth("validate", "-i", str(root / "sloth"))
    assert r.returncode == 0 and 'msg="Validation succeeded" slo-specs=3' in r.stderr, r.stderr
    (root / "sloth-rules").mkdir()
    r = run_sloth("generate", "-i", str(root / "sloth"), "-o", str(root / "sloth-rules"))
    assert r.returncode == 0, r.stderr
    return root, yaml.safe_load((root / "prometheus-rules.yaml").read_text())


def _rules_by_key(docs: list[dict]) -> dict[tuple, dict]:
    out = {}
    for doc in docs:
        for group in doc["groups"]:
            for r in group["rules"]:
                lab = r.get("labels", {})
                out[(r.get("record") or r["alert"], lab.get("sloth_id") or lab["journey"] + "/" + lab["slo"],
                     lab.get("sloth_window"), lab.get("severity"))] = r
    return out


def test_sloth_generates_one_loadable_file_per_service(sloth_out, promtool):
    root, _ = sloth_out
    files = sorted(p.name for p in (root / "sloth-rules").iterdir())
    assert files == ["auth.yaml", "catalog.yaml", "shop.yaml"]
    for name, n_slos in (("auth.yaml", 2), ("catalog.yaml", 4), ("shop.yaml", 2)):
        path = root / "sloth-rules" / name
        assert len(list(yaml.safe_load_all(path.read_text()))) == 1
        r = run_promtool(promtool, "check", "rules", str(path))
        # per SLO: 8 SLI ratios (7 windows + 30d), 7 metadata records, 2 alerts
        assert r.returncode == 0 and f"SUCCESS: {17 * n_slos} rules found" in r.stdout, r.stdout + r.stderr


def test_prometheus_rules_carry_sloths_names_labels_and_annotations(sloth_out):
    """Every rule `sloth generate` writes for truesli's specs is in prometheus-rules.yaml under the same
    name, with the same labels and annotations (only sloth_version says who generated it); truesli adds
    only its event counts (the traffic guard and the ratios' denominator)."""
    root, ours = sloth_out
    theirs = _rules_by_key([yaml.safe_load(p.read_text()) for p in sorted((root / "sloth-rules").iterdir())])
    mine = _rules_by_key([ours])
    assert len(theirs) == 8 * 17
    assert set(theirs) <= set(mine)
    extra = {k[0] for k in set(mine) - set(theirs)}
    assert extra == {f"truesli:sli_events:increase{w}" for w in (*WINDOWS, "30d")}
    for key, rule in theirs.items():
        labels = dict(rule.get("labels", {}))
        if key[0] == "sloth_slo_info":
            assert labels.pop("sloth_version") == "dev"
            assert mine[key]["labels"]["sloth_version"].startswith("truesli")
            labels["sloth_version"] = mine[key]["labels"]["sloth_version"]
        assert mine[key].get("labels") == labels, key
        assert mine[key].get("annotations") == rule.get("annotations"), key
    assert {k[0] for k in theirs} == {
        *(f"slo:sli_error:ratio_rate{w}" for w in (*WINDOWS, "30d")), "slo:objective:ratio", "slo:error_budget:ratio",
        "slo:time_period:days", "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio", "sloth_slo_info", ALERT, "TruesliCheckoutLatencyBudgetBurn",
        "TruesliLoginAvailabilityBudgetBurn", "TruesliLoginLatencyBudgetBurn", "TruesliSearchAvailabilityBudgetBurn",
        "TruesliSearchLatencyBudgetBurn", "TruesliBrowseAvailabilityBudgetBurn", "TruesliBrowseLatencyBudgetBurn"}


# -- Prometheus rules: structure -----------------------------------------------------------------------------
def test_prometheus_rules_exact_for_checkout_availability(config):
    doc = prometheus_rules(config)
    names = [f"truesli-{j}-{s}" for j in ("checkout", "login", "search", "browse") for s in ("availability", "latency")]
    assert [g["name"] for g in doc["groups"]] == [n + sfx for n in names for sfx in ("", "-meta")]
    rules = doc["groups"][0]["rules"]
    windows = (*WINDOWS, "30d")
    assert [r.get("record") or r["alert"] for r in rules] == (
        [f"truesli:sli_events:increase{w}" for w in windows] + [f"slo:sli_error:ratio_rate{w}" for w in windows]
        + [ALERT, ALERT])
    assert WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    assert all(r["labels"] == LABELS for r in rules[:8])
    assert [r["labels"] for r in rules[8:16]] == [{**LABELS, **SLOTH, "sloth_window": w} for w in windows]
    by_name = {r.get("record"): r for r in rules}
    assert by_name["truesli:sli_events:increase1h"]["expr"] == (
        'sum by (journey, slo) (increase(truesli_sli_events_total{journey="checkout",slo="availability"}[1h]))')
    assert by_name["slo:sli_error:ratio_rate5m"]["expr"] == (
        "(\n"
        '  sum by (journey, slo) (increase(truesli_sli_events_total{journey="checkout",slo="availability",'
        'result="bad"}[5m]))\n'
        "  or\n"
        '  0 * truesli:sli_events:increase5m{journey="checkout",slo="availability"}\n'
        ")\n"
        '/ (truesli:sli_events:increase5m{journey="checkout",slo="availability"} > 0)\n'
        "or\n"
        '0 * truesli:sli_events:increase5m{journey="checkout",slo="availability"}\n')
    page, ticket = rules[16], rules[17]
    assert page["labels"] == {"journey": "checkout", "severity": "page", "slo": "availability",
                              "sloth_severity": "page"}
    assert ticket["labels"] == {"journey": "checkout", "severity": "ticket", "slo": "availability",
                                "sloth_severity": "ticket"}
    assert "for" not in page and "for" not in ticket

    def cond(short, long, factor):
        return ("(\n"
                f"    max(slo:sli_error:ratio_rate{short}{SSEL} > ({factor} * 0.001)) without (sloth_window)\n"
                "    and\n"
                f"    max(slo:sli_error:ratio_rate{long}{SSEL} > ({factor} * 0.001)) without (sloth_window)\n"
                "    and\n"
                f"    on(journey, slo) truesli:sli_events:increase{long}{SEL} >= 100\n"
                ")")
    assert page["expr"] == cond("5m", "1h", "14.4") + "\nor\n" + cond("30m", "6h", "6") + "\n"
    assert ticket["expr"] == cond("2h", "1d", "3") + "\nor\n" + cond("6h", "3d", "1") + "\n"
    assert page["annotations"]["title"] == (
        "(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.")
    meta = {r["record"]: r for r in doc["groups"][1]["rules"]}
    assert list(meta) == ["slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
                          "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
                          "slo:period_error_budget_remaining:ratio", "sloth_slo_info"]
    assert meta["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert meta["slo:error_budget:ratio"]["expr"] == "vector(1-0.999)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    assert meta["slo:period_burn_rate:ratio"]["expr"] == (
        f"slo:sli_error:ratio_rate30d{SSEL}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"slo:error_budget:ratio{SSEL}\n")
    assert meta["sloth_slo_info"]["labels"] == {**LABELS, **SLOTH, "sloth_mode": "cli-gen-prom",
                                                "sloth_objective": "99.9", "sloth_spec": "prometheus/v1",
                                                "sloth_version": "truesli"}
    # search/availability: 99.5% → budget 0.005
    search = doc["groups"][8]["rules"]
    assert "> (14.4 * 0.005)" in search[16]["expr"]


def test_period_follows_detection_slo_period_days(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("journeys:\n  - name: api\n    slos: [{name: availability, kind: availability, objective: 0.99}]\n"
                   "detection: {slo_period_days: 28}\n")
    doc = prometheus_rules(load_config(cfg))
    records = [r.get("record") for g in doc["groups"] for r in g["rules"]]
    assert "slo:sli_error:ratio_rate28d" in records and "slo:sli_error:ratio_rate30d" not in records
    meta = {r["record"]: r["expr"] for r in doc["groups"][1]["rules"]}
    assert meta["slo:time_period:days"] == "vector(28)"


def test_options_change_factors_and_guards(config):
    doc = prometheus_rules(config, RuleOptions(page=10, page_slow=5, ticket=2, ticket_slow=0.5, min_events=500,
                                               min_ticket_events=2000))
    alerts = generated_alerts(doc)
    assert "> (10 * 0.001)" in alerts["page"]["expr"] and "> (5 * 0.001)" in alerts["page"]["expr"]
    assert "increase1h" in alerts["page"]["expr"] and ">= 500\n" in alerts["page"]["expr"]
    assert "> (2 * 0.001)" in alerts["ticket"]["expr"] and "> (0.5 * 0.001)" in alerts["ticket"]["expr"]
    assert ">= 2000\n" in alerts["ticket"]["expr"] and ">= 500" not in alerts["ticket"]["expr"]
    with pytest.raises(ValueError):
        RuleOptions(page=0)
    with pytest.raises(ValueError):
        RuleOptions(min_events=-1)


def test_generated_rules_pass_promtool_check(config, promtool, tmp_path):
    path, doc = write_rules(tmp_path, config, journeys=tuple(j.name for j in config.journeys))
    r = run_promtool(promtool, "check", "rules", str(path))
    n = sum(len(g["rules"]) for g in doc["groups"])
    assert r.returncode == 0 and f"SUCCESS: {n} rules found" in r.stdout, r.stdout + r.stderr
    assert n == 8 * (2 * (len(WINDOWS) + 1) + 2 + 7)  # events, ratios (+ the 30d period), 2 alerts, 7 meta


# -- Prometheus rules: behaviour under the real rule engine --------------------------------------------------
def test_sustained_burst_pages_with_exact_labels(config, promtool, tmp_path):
    """1,000 events/min for 2 h without errors, then 5% errors (50× the 0.1% budget) for 1 h, split over two
    workers. Too early to page 5 min into the burst (1 h ratio ~0.4%); paging (and ticketing) 30 min in."""
    rules, doc = write_rules(tmp_path, config)

    def good(m): return 500 if m <= 120 else 475
    def bad(m): return 0 if m <= 120 else 25
    inputs = [series(r, counter(180, f), worker=w) for w in ("w1", "w2") for r, f in (("good", good), ("bad", bad))]
    alert_tests = [
        {"eval_time": "60m", "alertname": ALERT, "exp_alerts": []},
        # 5 min in: the 1h ratio is ~0.4% (< 14.4×) — no page yet; 1× over 3d & 6h already opens a ticket
        {"eval_time": "125m", "alertname": ALERT, "exp_alerts": expected(doc, "ticket")},
        {"eval_time": "150m", "alertname": ALERT, "exp_alerts": expected(doc, "page", "ticket")},
        {"eval_time": "180m", "alertname": ALERT, "exp_alerts": expected(doc, "page", "ticket")},
        # other SLOs have no traffic at all: nothing fires for them
        {"eval_time": "180m", "alertname": "TruesliCheckoutLatencyBudgetBurn", "exp_alerts": []},
    ]
    expr_tests = [
        {"expr": f"slo:sli_error:ratio_rate5m{SEL}", "eval_time": "180m",
         "exp_samples": [{"labels": rec("slo:sli_error:ratio_rate5m", "5m"), "value": 0.05}]},
        {"expr": f"slo:current_burn_rate:ratio{SEL}", "eval_time": "180m",
         # Sloth's division keeps the 5m ratio's sloth_window; the budget is vector(1-0.999), as in Sloth
         "exp_samples": [{"labels": rec("slo:current_burn_rate:ratio", "5m"), "value": 0.05 / (1 - 0.999)}]},
        {"expr": f"truesli:sli_events:increase1h{SEL}", "eval_time": "180m",
         "exp_samples": [{"labels": f"truesli:sli_events:increase1h{SEL}", "value": 60_000}]},
    ]
    assert alert_name(config.journeys[0], config.journeys[0].slos[0]) == ALERT
    assert expected(doc, "page")[0]["exp_labels"] == {"severity": "page", "sloth_severity": "page", **LABELS, **SLOTH}
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, expr_tests, name="burst")


def _quiet_night(minutes: int = 480) -> list[dict]:
    """2 real-user requests an hour (at :15 and :45) for 8 h; the one at 03:15 fails. Meanwhile a scanner
    makes 500 failing requests a minute — filtered out, visible only in the raw counter."""
    events = set(range(15, minutes + 1, 30))
    def good(m): return 1 if m in events and m != 195 else 0
    def bad(m): return 1 if m == 195 else 0
    return [series("good", counter(minutes, good)), series("bad", counter(minutes, bad)),
            series("good", counter(minutes, lambda m: 2), metric="truesli_raw_events_total"),
            series("bad", counter(minutes, lambda m: 500 + bad(m)), metric="truesli_raw_events_total")]


def test_quiet_night_with_one_error_does_not_alert(config, promtool, tmp_path):
    rules, doc = write_rules(tmp_path, config)
    evals = sorted({*range(10, 481, 10), 196, 197, 198, 200, 205})
    alert_tests = [{"eval_time": f"{t}m", "alertname": ALERT, "exp_alerts": []} for t in evals]
    expr_tests = [  # the error is seen (ratio 1 over 5m) — only the traffic guard holds the page back
        {"expr": f"slo:sli_error:ratio_rate5m{SEL}", "eval_time": "197m",
         "exp_samples": [{"labels": rec("slo:sli_error:ratio_rate5m", "5m"), "value": 1}]},
    ]
    promtool_test(promtool, tmp_path, rules, _quiet_night(), alert_tests, expr_tests, name="quiet-night")


def test_quiet_night_pages_without_the_traffic_guard(config, promtool, tmp_path):
    """Control: the same night with --min-events 0 pages — so it is the guard that keeps the night quiet."""
    rules, doc = write_rules(tmp_path, config, RuleOptions(min_events=0, min_ticket_events=0))
    alert_tests = [{"eval_time": "197m", "alertname": ALERT, "exp_alerts": expected(doc, "page", "ticket")}]
    promtool_test(promtool, tmp_path, rules, _quiet_night(), alert_tests, name="quiet-night-unguarded")


def test_zero_traffic_records_zero_never_nan(config, promtool, tmp_path):
    """Counters that stop (checkout/availability, after 1 h at 0.05% errors) or never move (checkout/latency):
    every ratio is 0 once its window has no events; a journey with no series at all has no ratio."""
    rules, doc = write_rules(tmp_path, config, journeys=("checkout", "login", "search"))
    inputs = [
        series("good", counter(240, lambda m: 1999 if m <= 60 else 0)),
        series("bad", counter(240, lambda m: 1 if m <= 60 else 0)),
        series("good", [0] * 241, slo="latency"),
        series("bad", [0] * 241, slo="latency"),
        # login/availability: traffic, but no result="bad" series was ever exported
        series("good", counter(240, lambda m: 100), journey="login"),
    ]
    expr_tests = []
    lat = '{journey="checkout",slo="latency"}'
    login = '{journey="login",slo="availability"}'
    search = '{journey="search",slo="availability"}'
    for w in WINDOWS:
        ratio = f"slo:sli_error:ratio_rate{w}"
        expr_tests.append({"expr": f"{ratio}{lat}", "eval_time": "240m",
                           "exp_samples": [{"labels": rec(ratio, w, slo="latency"), "value": 0}]})
        expr_tests.append({"expr": f"truesli:sli_events:increase{w}{lat}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"truesli:sli_events:increase{w}{lat}", "value": 0}]})
        expr_tests.append({"expr": f"{ratio}{login}", "eval_time": "240m",
                           "exp_samples": [{"labels": rec(ratio, w, journey="login", service="auth"), "value": 0}]})
        expr_tests.append({"expr": f"{ratio}{search}", "eval_time": "240m", "exp_samples": []})
    for w in ("5m", "30m", "1h", "2h"):  # no events of checkout/availability in these windows at 4 h
        ratio = f"slo:sli_error:ratio_rate{w}"
        expr_tests.append({"expr": f"{ratio}{SEL}", "eval_time": "240m",
                           "exp_samples": [{"labels": rec(ratio, w), "value": 0}]})
    for w in ("6h", "1d", "3d", "30d"):  # the first hour is still inside: 0.05%
        ratio = f"slo:sli_error:ratio_rate{w}"
        expr_tests.append({"expr": f"{ratio}{SEL}", "eval_time": "240m",
                           "exp_samples": [{"labels": rec(ratio, w), "value": 0.0005}]})
    # the period's budget: 0.05% errors of a 0.1% budget → half of it left, from the counters (no history)
    expr_tests.append({"expr": f"slo:period_error_budget_remaining:ratio{SEL}", "eval_time": "240m",
                       "exp_samples": [{"labels": rec("slo:period_error_budget_remaining:ratio", "30d"),
                                        "value": 1 - 0.0005 / (1 - 0.999)}]})
    for w in (*WINDOWS, "30d"):  # no NaN (the only value not equal to itself) in any recorded ratio, at any time
        ratio = f"slo:sli_error:ratio_rate{w}"
        expr_tests += [{"expr": f"{ratio} != {ratio}", "eval_time": f"{t}m", "exp_samples": []} for t in (30, 90, 240)]
    alert_tests = [{"eval_time": "240m", "alertname": n, "exp_alerts": []}
                   for n in (ALERT, "TruesliCheckoutLatencyBudgetBurn", "TruesliLoginAvailabilityBudgetBurn")]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, expr_tests, name="zero-traffic")


def test_slow_burn_opens_a_ticket_not_a_page(config, promtool, tmp_path):
    """0.4% errors (4× the budget) at 1,000 events/min for 4 h: above the ticket thresholds (3× over 1d & 2h,
    1× over 3d & 6h), below both page thresholds (14.4×, 6×)."""
    rules, doc = write_rules(tmp_path, config)
    inputs = [series("good", counter(240, lambda m: 996)), series("bad", counter(240, lambda m: 4))]
    alert_tests = [{"eval_time": t, "alertname": ALERT, "exp_alerts": expected(doc, "ticket")}
                   for t in ("60m", "120m", "240m")]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, name="slow-burn")


def test_six_hour_burn_pages_through_the_slow_page_condition(config, promtool, tmp_path):
    """0.8% errors (8×): under 14.4× so the 1h/5m pair never fires, over 6× so 6h/30m pages."""
    rules, doc = write_rules(tmp_path, config)
    inputs = [series("good", counter(420, lambda m: 992)), series("bad", counter(420, lambda m: 8))]
    alert_tests = [{"eval_time": "400m", "alertname": ALERT, "exp_alerts": expected(doc, "page", "ticket")}]
    expr_tests = [{"expr": f"slo:sli_error:ratio_rate1h{SEL} > (14.4 * 0.001)", "eval_time": "400m",
                   "exp_samples": []}]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, expr_tests, name="six-hour-burn")


# -- CLI -----------------------------------------------------------------------------------------------------
def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_writes_rules_sloth_specs_and_pyrra_slos(config, tmp_path):
    from streams.rules_pyrra import pyrra_slos

    out = tmp_path / "rules"
    r = truesli("rules", "--config", str(EXAMPLE), "--out", str(out), "--page", "14.4", "--min-events", "250")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["prometheus-rules.yaml", "pyrra", "sloth"]
    assert {p.name: yaml.safe_load(p.read_text()) for p in (out / "sloth").iterdir()} == sloth_specs(config)
    assert {p.name: yaml.safe_load(p.read_text()) for p in (out / "pyrra").iterdir()} == pyrra_slos(config)
    from streams.rules_files import truesli_version
    assert yaml.safe_load((out / "prometheus-rules.yaml").read_text()) == prometheus_rules(
        config, RuleOptions(min_events=250, min_ticket_events=250), truesli_version())
    assert r.stderr.strip().endswith("8 Pyrra ServiceLevelObjectives in " + str(out / "pyrra") + "/")


def test_cli_user_errors_are_one_line(tmp_path):
    for args, needle in [
        (("--page", "0"), "page must be > 0"),
        (("--min-events", "-5"), "min_events must be ≥ 0"),
        (("--config", str(tmp_path / "missing.yaml")), "config file not found"),
    ]:
        r = truesli("rules", "--out", str(tmp_path / "o"), *args)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("truesli: error: ") and needle in r.stderr, r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = truesli("rules", "--out", str(blocker))
    assert r.returncode == 2 and r.stderr.startswith("truesli: error: cannot write rules to"), r.stderr


def test_cli_warns_about_alerts_that_can_never_fire(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("journeys:\n  - name: api\n    slos: [{name: availability, kind: availability, objective: 0.9}]\n")
    r = truesli("rules", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert r.returncode == 0
    assert "truesli: warning: api/availability: the page condition over 1h/5m" in r.stderr
    assert "6h/30m" not in r.stderr  # 6 × 0.1 < 1: reachable
