"""`truesli rules`: the Sloth spec and the Prometheus rules, checked structurally and by the real promtool.

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

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "truesli.yaml"
METRIC = "truesli_sli_events_total"
SEL = '{journey="checkout",slo="availability"}'
ALERT = "TruesliCheckoutAvailabilityBudgetBurn"
LABELS = {"journey": "checkout", "slo": "availability"}


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
    alerts = generated_alerts(doc)
    return [{"exp_labels": dict(alerts[s]["labels"]), "exp_annotations": dict(alerts[s]["annotations"])}
            for s in severities]


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
def test_sloth_spec_exact_for_checkout(config):
    specs = sloth_specs(config)
    assert [(s["version"], s["service"], s["labels"]) for s in specs] == [
        ("prometheus/v1", "shop", {"journey": "checkout"}),
        ("prometheus/v1", "auth", {"journey": "login"}),
        ("prometheus/v1", "catalog", {"journey": "search"}),
        ("prometheus/v1", "catalog", {"journey": "browse"}),
    ]
    assert [[(s["name"], s["objective"]) for s in spec["slos"]] for spec in specs] == [
        [("checkout-availability", 99.9), ("checkout-latency", 99.0)],
        [("login-availability", 99.9), ("login-latency", 99.0)],
        [("search-availability", 99.5), ("search-latency", 95.0)],
        [("browse-availability", 99.9), ("browse-latency", 99.0)],
    ]
    assert list(specs[0]) == ["version", "service", "labels", "slos"]
    slo = specs[0]["slos"][0]
    assert list(slo) == ["name", "objective", "description", "labels", "sli", "alerting"]
    assert slo["labels"] == {"slo": "availability"}
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
    assert "800 ms" in specs[0]["slos"][1]["description"]


def test_sloth_spec_satisfies_sloth_validation(config, promtool, tmp_path):
    """What Sloth checks on load: names, objective range, {{.window}}, label keys, parseable PromQL."""
    name_re = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")  # Sloth's name rule
    label_re = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    specs = sloth_specs(config)
    ids, rendered = set(), []
    for spec in specs:
        for slo in spec["slos"]:
            assert name_re.match(slo["name"]) and 0 < slo["objective"] <= 100
            ids.add(f'{spec["service"]}-{slo["name"]}')
            for q in slo["sli"]["events"].values():
                assert re.search(r"{{ *\.window *}}", q)
                rendered.append(q.replace("{{.window}}", "5m"))
            a = slo["alerting"]
            for labels in (spec["labels"], slo["labels"], a["labels"], a["page_alert"]["labels"],
                           a["ticket_alert"]["labels"], a["annotations"]):
                assert all(label_re.match(k) and k != "__name__" for k in labels)
    assert len(ids) == sum(len(s["slos"]) for s in specs)  # Sloth's SLO IDs are unique: shared services ok
    # The queries Sloth will template must be valid PromQL: let promtool parse them as recording rules.
    check = tmp_path / "sloth-queries.yaml"
    check.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": [
        {"record": f"q:{i}", "expr": q} for i, q in enumerate(rendered)]}]}), encoding="utf-8")
    r = run_promtool(promtool, "check", "rules", str(check))
    assert r.returncode == 0, r.stdout + r.stderr


def test_sloth_file_is_multi_document_yaml(config):
    text = dump_yaml(sloth_specs(config), "x.yaml")
    assert text.startswith("# Generated by `truesli rules` from x.yaml.")
    docs = list(yaml.safe_load_all(text))
    assert docs == sloth_specs(config)
    # Sloth splits files on lines starting with ---; only the separators may.
    assert len(re.findall(r"(?m)^---", text)) == len(docs)


# -- Prometheus rules: structure -----------------------------------------------------------------------------
def test_prometheus_rules_exact_for_checkout_availability(config):
    doc = prometheus_rules(config)
    assert [g["name"] for g in doc["groups"]] == [
        "truesli-checkout-availability", "truesli-checkout-latency", "truesli-login-availability",
        "truesli-login-latency", "truesli-search-availability", "truesli-search-latency",
        "truesli-browse-availability", "truesli-browse-latency"]
    rules = doc["groups"][0]["rules"]
    assert [r.get("record") or r["alert"] for r in rules] == (
        [f"truesli:sli_events:increase{w}" for w in WINDOWS] + [f"truesli:sli_error_ratio:rate{w}" for w in WINDOWS]
        + [ALERT, ALERT])
    assert WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    assert all(r["labels"] == LABELS for r in rules[:14])
    by_name = {r.get("record"): r for r in rules}
    assert by_name["truesli:sli_events:increase1h"]["expr"] == (
        'sum by (journey, slo) (increase(truesli_sli_events_total{journey="checkout",slo="availability"}[1h]))')
    assert by_name["truesli:sli_error_ratio:rate5m"]["expr"] == (
        "(\n"
        '  sum by (journey, slo) (increase(truesli_sli_events_total{journey="checkout",slo="availability",'
        'result="bad"}[5m]))\n'
        "  or\n"
        '  0 * truesli:sli_events:increase5m{journey="checkout",slo="availability"}\n'
        ")\n"
        '/ (truesli:sli_events:increase5m{journey="checkout",slo="availability"} > 0)\n'
        "or\n"
        '0 * truesli:sli_events:increase5m{journey="checkout",slo="availability"}\n')
    page, ticket = rules[14], rules[15]
    assert page["labels"] == {"severity": "page", **LABELS}
    assert ticket["labels"] == {"severity": "ticket", **LABELS}
    assert "for" not in page and "for" not in ticket
    assert page["expr"] == (
        "(\n"
        f"    truesli:sli_error_ratio:rate1h{SEL} > (14.4 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_error_ratio:rate5m{SEL} > (14.4 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_events:increase1h{SEL} >= 100\n"
        ")\n"
        "or\n"
        "(\n"
        f"    truesli:sli_error_ratio:rate6h{SEL} > (6 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_error_ratio:rate30m{SEL} > (6 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_events:increase6h{SEL} >= 100\n"
        ")\n")
    assert ticket["expr"] == (
        "(\n"
        f"    truesli:sli_error_ratio:rate1d{SEL} > (3 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_error_ratio:rate2h{SEL} > (3 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_events:increase1d{SEL} >= 100\n"
        ")\n"
        "or\n"
        "(\n"
        f"    truesli:sli_error_ratio:rate3d{SEL} > (1 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_error_ratio:rate6h{SEL} > (1 * 0.001)\n"
        "  and\n"
        f"    truesli:sli_events:increase3d{SEL} >= 100\n"
        ")\n")
    assert set(page["annotations"]) == {"summary", "description"}
    assert "14.4x over 1h and 5m" in page["annotations"]["description"]
    assert "≥ 100 events in 1h" in page["annotations"]["description"]
    # search/availability: 99.5% → budget 0.005
    search = doc["groups"][4]["rules"]
    assert "> (14.4 * 0.005)" in search[14]["expr"]


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
    assert n == 8 * (2 * len(WINDOWS) + 2)


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
        {"expr": f"truesli:sli_error_ratio:rate5m{SEL}", "eval_time": "180m",
         "exp_samples": [{"labels": f"truesli:sli_error_ratio:rate5m{SEL}", "value": 0.05}]},
        {"expr": f"truesli:sli_events:increase1h{SEL}", "eval_time": "180m",
         "exp_samples": [{"labels": f"truesli:sli_events:increase1h{SEL}", "value": 60_000}]},
    ]
    assert alert_name(config.journeys[0], config.journeys[0].slos[0]) == ALERT
    assert expected(doc, "page")[0]["exp_labels"] == {"severity": "page", **LABELS}
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
        {"expr": f"truesli:sli_error_ratio:rate5m{SEL}", "eval_time": "197m",
         "exp_samples": [{"labels": f"truesli:sli_error_ratio:rate5m{SEL}", "value": 1}]},
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
    for w in WINDOWS:
        rec = f"truesli:sli_error_ratio:rate{w}"
        expr_tests.append({"expr": f"{rec}{lat}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"{rec}{lat}", "value": 0}]})
        expr_tests.append({"expr": f"truesli:sli_events:increase{w}{lat}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"truesli:sli_events:increase{w}{lat}", "value": 0}]})
        login = '{journey="login",slo="availability"}'
        expr_tests.append({"expr": f"{rec}{login}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"{rec}{login}", "value": 0}]})
        search = '{journey="search",slo="availability"}'
        expr_tests.append({"expr": f"{rec}{search}", "eval_time": "240m", "exp_samples": []})
    for w in ("5m", "30m", "1h", "2h"):  # no events of checkout/availability in these windows at 4 h
        rec = f"truesli:sli_error_ratio:rate{w}"
        expr_tests.append({"expr": f"{rec}{SEL}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"{rec}{SEL}", "value": 0}]})
    for w in ("6h", "1d", "3d"):  # the first hour is still inside: 0.05%
        rec = f"truesli:sli_error_ratio:rate{w}"
        expr_tests.append({"expr": f"{rec}{SEL}", "eval_time": "240m",
                           "exp_samples": [{"labels": f"{rec}{SEL}", "value": 0.0005}]})
    for w in WINDOWS:  # no NaN (the only value not equal to itself) in any recorded ratio, at any time
        rec = f"truesli:sli_error_ratio:rate{w}"
        expr_tests += [{"expr": f"{rec} != {rec}", "eval_time": f"{t}m", "exp_samples": []} for t in (30, 90, 240)]
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
    expr_tests = [{"expr": f"truesli:sli_error_ratio:rate1h{SEL} > (14.4 * 0.001)", "eval_time": "400m",
                   "exp_samples": []}]
    promtool_test(promtool, tmp_path, rules, inputs, alert_tests, expr_tests, name="six-hour-burn")


# -- CLI -----------------------------------------------------------------------------------------------------
def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_writes_both_files(config, tmp_path):
    out = tmp_path / "rules"
    r = truesli("rules", "--config", str(EXAMPLE), "--out", str(out), "--page", "14.4", "--min-events", "250")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["prometheus-rules.yaml", "sloth.yaml"]
    assert list(yaml.safe_load_all((out / "sloth.yaml").read_text())) == sloth_specs(config)
    assert yaml.safe_load((out / "prometheus-rules.yaml").read_text()) == prometheus_rules(
        config, RuleOptions(min_events=250, min_ticket_events=250))


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
