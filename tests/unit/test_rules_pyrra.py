"""`truesli rules`' Pyrra ServiceLevelObjectives, checked against the fields Pyrra's CRD documents
(pyrra.dev/v1alpha1, released v0.9; Pyrra's filesystem mode reads them with a strict unmarshal, so an unknown
field is an error) and by the real promtool (the metrics must be valid PromQL selectors)."""

from __future__ import annotations

import pytest
import yaml

from streams.config import load_config
from streams.rules_pyrra import pyrra_slos, resource_name
from streams.rules import RuleOptions
from streams.rules_files import rule_files
from tests.unit.test_rules import EXAMPLE, promtool, run_promtool  # noqa: F401

# The CRD's openAPIV3Schema, as documented: allowed keys per object, required keys.
SPEC_KEYS = {"alerting", "description", "indicator", "partial_response_strategy", "performanceOverAccuracy",
             "target", "window"}
ALERTING_KEYS = {"absent", "absentName", "burnrates", "disabled", "name"}
INDICATOR_KEYS = {"bool_gauge", "latency", "latencyNative", "ratio"}
RATIO_KEYS = {"errors", "grouping", "total"}


def is_dns_label(name: str) -> bool:
    return (0 < len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()
            and all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in name))


def is_duration(text: str) -> bool:  # Prometheus model.Duration, as Pyrra parses spec.window
    from streams.sinks.receiver_limits import parse_duration_ms

    return bool(parse_duration_ms(text))


def check_slo(doc: dict) -> None:
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert doc["apiVersion"] == "pyrra.dev/v1alpha1" and doc["kind"] == "ServiceLevelObjective"
    assert set(doc["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    assert is_dns_label(doc["metadata"]["name"])
    assert all(isinstance(v, str) for v in doc["metadata"].get("labels", {}).values())
    spec = doc["spec"]
    assert set(spec) <= SPEC_KEYS and {"indicator", "target", "window"} <= set(spec)
    assert isinstance(spec["target"], str) and 0 < float(spec["target"]) < 100  # a string: no floats in CRDs
    assert is_duration(spec["window"])
    assert set(spec["indicator"]) <= INDICATOR_KEYS and len(spec["indicator"]) == 1
    ratio = spec["indicator"]["ratio"]
    assert set(ratio) <= RATIO_KEYS and {"errors", "total"} <= set(ratio)
    assert set(ratio["errors"]) == {"metric"} and set(ratio["total"]) == {"metric"}
    assert all(isinstance(g, str) for g in ratio.get("grouping", []))
    assert set(spec.get("alerting", {})) <= ALERTING_KEYS


@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE)


def test_one_slo_per_journey_and_slo_matching_the_crd(config):
    slos = pyrra_slos(config)
    assert list(slos) == [f"{j.name}-{s.name}.yaml" for j in config.journeys for s in j.slos]
    for doc in slos.values():
        check_slo(doc)
    ca = slos["checkout-availability.yaml"]
    assert ca["metadata"] == {"name": "checkout-availability",
                              "labels": {"journey": "checkout", "slo": "availability", "service": "shop"}}
    assert {k: v for k, v in ca["spec"].items() if k != "description"} == {
        "target": "99.9", "window": "30d",
        "indicator": {"ratio": {
            "errors": {"metric": 'truesli_sli_events_total{journey="checkout",slo="availability",result="bad"}'},
            "total": {"metric": 'truesli_sli_events_total{journey="checkout",slo="availability"}'},
            "grouping": ["journey", "slo"]}},
        "alerting": {"name": "TruesliCheckoutAvailabilityBudgetBurn"}}
    assert slos["search-latency.yaml"]["spec"]["target"] == "95"


def test_the_checker_rejects_what_pyrra_rejects(config):
    good = pyrra_slos(config)["checkout-availability.yaml"]
    for broken in ({**good, "extra": 1},
                   {**good, "spec": {**good["spec"], "target": 99.9}},
                   {**good, "spec": {**good["spec"], "window": "a month"}},
                   {**good, "spec": {**good["spec"], "alerting": {"severity": "page"}}},
                   {**good, "metadata": {"name": "Checkout_Availability"}}):
        with pytest.raises(AssertionError):
            check_slo(broken)


def test_names_become_dns_labels(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("journeys:\n  - name: checkout_api\n    slos: [{name: p99_latency, kind: latency, "
                   "objective: 0.99, threshold_ms: 300}]\ndetection: {slo_period_days: 28}\n")
    config = load_config(cfg)
    j = config.journeys[0]
    assert resource_name(j, j.slos[0]) == "checkout-api-p99-latency"
    [doc] = pyrra_slos(config).values()
    check_slo(doc)
    assert doc["spec"]["window"] == "28d"


def test_written_files_are_one_document_with_valid_promql(config, promtool, tmp_path):
    files = {n: yaml.safe_load(t) for n, t in rule_files(config, RuleOptions(), "x").items() if n.startswith("pyrra/")}
    assert len(files) == 8
    metrics = [doc["spec"]["indicator"]["ratio"][k]["metric"] for doc in files.values() for k in ("errors", "total")]
    rules = [{"record": f"q:{i}", "expr": m} for i, m in enumerate(metrics)]
    path = tmp_path / "pyrra-metrics.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    r = run_promtool(promtool, "check", "rules", str(path))
    assert r.returncode == 0 and "SUCCESS: 16 rules found" in r.stdout, r.stdout + r.stderr
