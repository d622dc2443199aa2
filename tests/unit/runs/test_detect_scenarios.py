"""Detector scenarios from ``truesli gen --scenario`` (streams/tools/scenarios.py), run through the embedded core
and the detectors, asserting the exact anomalies: (type, state, journey, slo, severity, window start, end).

Every expected window below is derived in the comments from the scenario's definition and the MWMBR
thresholds of examples/truesli.yaml (checkout availability objective 99.9%: budget 0.1%).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson
import pytest

from streams.config import config_from_dict, load_config
from streams.runs.detection import detect
from streams.runs.embedded import run_embedded
from streams.tools.scenarios import SCENARIOS, STUFFING_IPS

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "truesli.yaml"
CA = ("checkout", "availability")


def config_with(config_overrides: dict | None = None):
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text())
    for key, value in (config_overrides or {}).items():
        section, _, leaf = key.partition(".")
        if leaf:
            data.setdefault(section, {})
            node = data[section]
            parts = leaf.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        else:
            data[section] = value
    return config_from_dict(data)


def run_scenario(name: str, tmp_path: Path, config=None, verdicts: bool = False):
    records, changes = SCENARIOS[name]()
    log = tmp_path / f"{name}.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    config = config or load_config(EXAMPLE)
    from streams.core.detect import parse_change

    result = run_embedded(config, [str(log)], now_ms=None,
                          verdicts_path=str(tmp_path / "verdicts.jsonl") if verdicts else None)
    found = detect(config, result.book.merged(), [parse_change(c) for c in changes], result.abuse.finish())
    return result, found


def briefs(found, types=None):
    return [a.brief() for a in found.anomalies if types is None or a.type in types]


def T(day_hm: str) -> str:
    """'10T03:01' → '2026-03-10T03:01:00.000Z'."""
    return f"2026-03-{day_hm}:00.000Z"


def test_burst_at_3am_without_a_change_is_a_burn_spike_and_a_security_suspect(tmp_path):
    result, found = run_scenario("burst", tmp_path)
    assert briefs(found) == [
        # 03:01: 18 errors / 10,860 events over 6h and 3d = 1.66× > 1 → ticket (2h: 2.5× < 3)
        ("burn_spike", "firing", *CA, "ticket", T("07T03:01"), T("10T03:01")),
        # 03:03: 54 errors in the last hour = 15× > 14.4, 5m: 180× → page, its 1h window
        ("burn_spike", "firing", *CA, "page", T("10T02:03"), T("10T03:03")),
        # decided 30 min after the page started: no change of service `shop` within ±30 min
        ("security_suspect", "firing", *CA, "page", T("10T02:33"), T("10T03:33")),
        # the 30m window leaves the burst (ended 03:10) at 03:40; the 1h/5m pair stopped at 03:15
        ("burn_spike", "resolved", *CA, "page", T("10T03:03"), T("10T03:40")),
    ]
    suspect = next(a for a in found.anomalies if a.type == "security_suspect")
    ev = suspect.evidence
    assert ev["service"] == "shop" and ev["change_window_s"] == 1800
    assert ev["events"] == 3600 and ev["filtered_share"] == 0.0 and ev["top_drop_reasons"] == {}
    # the 54 failed requests by client /24 — real users in 198.18.0.0/15, all different networks
    assert sum(ev["top_networks"].values()) == 54
    assert suspect.burn_rates["5m"] == pytest.approx(180.0)
    assert suspect.correlated_changes == []


def test_the_same_burst_five_minutes_after_a_deploy_is_a_burn_spike_only(tmp_path):
    records, changes = SCENARIOS["burst-after-deploy"]()
    assert changes == [{"ts": "2026-03-10T02:55:00.000Z", "service": "shop", "kind": "deploy",
                        "id": "deploy-shop-4711"}]
    result, found = run_scenario("burst-after-deploy", tmp_path)
    assert briefs(found) == [
        ("burn_spike", "firing", *CA, "ticket", T("07T03:01"), T("10T03:01")),
        ("burn_spike", "firing", *CA, "page", T("10T02:03"), T("10T03:03")),
        ("burn_spike", "resolved", *CA, "page", T("10T03:03"), T("10T03:40")),
    ]
    page = found.anomalies[1]
    assert page.correlated_changes == changes


def test_quiet_night_with_one_error_does_not_page(tmp_path):
    # 2 requests an hour per journey: silences of 30 min stay under the 1 h no-traffic threshold
    config = config_with({"detection.no_traffic_after_s": 3600})
    result, found = run_scenario("quiet-night", tmp_path, config)
    assert result.book.totals()[CA].total == 16 and result.book.totals()[CA].good == 15
    assert briefs(found) == []
    # control: without the minimum-traffic guard the same night pages (1 error of 2 in the hour)
    config = config_with({"detection.no_traffic_after_s": 3600,
                           "detection.burn": {"min_events": 0, "min_ticket_events": 0}})
    _, found = run_scenario("quiet-night", tmp_path, config)
    pages = [b for b in briefs(found, {"burn_spike"}) if b[1] == "firing" and b[4] == "page"]
    assert pages == [("burn_spike", "firing", *CA, "page", T("10T02:16"), T("10T03:16"))]


def test_a_journey_that_goes_silent_is_no_traffic_never_nan(tmp_path):
    result, found = run_scenario("silent-journey", tmp_path)
    assert briefs(found) == [
        ("no_traffic", "firing", "search", "availability", "ticket", T("10T01:00"), T("10T01:15")),
        ("no_traffic", "firing", "search", "latency", "ticket", T("10T01:00"), T("10T01:15")),
        ("no_traffic", "resolved", "search", "availability", "ticket", T("10T01:00"), T("10T01:30")),
        ("no_traffic", "resolved", "search", "latency", "ticket", T("10T01:00"), T("10T01:30")),
    ]
    silent = [c for c in result.book.merged() if c.journey == "search" and c.total == 0]
    assert len(silent) == 60  # 30 windows × 2 SLOs, emitted with total 0
    dumped = b"".join(orjson.dumps(a.to_dict()) for a in found.anomalies) + orjson.dumps(found.gauges)
    assert b"NaN" not in dumped and b"Infinity" not in dumped
    for slo in found.gauges["slos"]:
        assert all(math.isfinite(v) for v in slo["burn_rates"].values())
        assert math.isfinite(slo["budget_remaining"])


def test_credential_stuffing_burst_is_one_episode_and_never_counted_good(tmp_path):
    result, found = run_scenario("credential-stuffing", tmp_path, verdicts=True)
    stuffing = [a for a in found.anomalies if a.type == "credential_stuffing"]
    # the 11th failed login of 203.0.113.7 in 60 s, at 00:20:10.007; cooldown 900 s. The episode ends when
    # the last of the four IPs (flagged at 00:20:10.307) leaves its cooldown.
    assert [a.brief() for a in stuffing] == [
        ("credential_stuffing", "firing", None, None, "ticket", "2026-03-10T00:20:10.007Z",
         "2026-03-10T00:35:10.007Z"),
        ("credential_stuffing", "resolved", None, None, "ticket", "2026-03-10T00:20:10.007Z",
         "2026-03-10T00:35:10.307Z"),
    ]
    assert stuffing[1].evidence["ips"] == sorted(STUFFING_IPS)
    assert stuffing[1].evidence["ip_count"] == 4 and stuffing[1].evidence["network"] == "203.0.113.0/24"
    assert stuffing[0].id != stuffing[1].id and stuffing[0].episode_ms == stuffing[1].episode_ms
    # the filtered share of login jumped while the attack ran
    assert briefs(found, {"bot_surge"}) == [
        ("bot_surge", "firing", "login", "availability", "info", T("10T00:07"), T("10T00:22")),
        ("bot_surge", "firing", "login", "latency", "info", T("10T00:07"), T("10T00:22")),
        ("bot_surge", "resolved", "login", "availability", "info", T("10T00:22"), T("10T00:38")),
        ("bot_surge", "resolved", "login", "latency", "info", T("10T00:22"), T("10T00:38")),
    ]
    # Not one of the attacker's 120 successful logins is counted; only the first 10 failures of each IP
    # (before the filter had its evidence) are.
    records = [orjson.loads(line) for line in (tmp_path / "credential-stuffing.jsonl").read_bytes().splitlines()]
    verdicts = [orjson.loads(line) for line in (tmp_path / "verdicts.jsonl").read_bytes().splitlines()]
    attacker = [(r["status"], v["verdict"]) for r, v in zip(records, verdicts) if r["client_ip"] in STUFFING_IPS]
    assert len(attacker) == 2400
    assert sum(1 for s, v in attacker if s == 200) == 120
    assert [s for s, v in attacker if v == "counted"] == [401] * 40
    login = result.book.totals()[("login", "availability")]
    assert (login.good, login.total) == (1800 + 40, 1800 + 40)


def test_thirty_days_burning_twice_the_budget_is_too_tight_and_policy_not_enforced(tmp_path):
    # Checkout only, 5-minute windows (the detectors are grid-agnostic; this keeps the month fast).
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text())
    data["journeys"] = [j for j in data["journeys"] if j["name"] == "checkout"]
    data["windows"]["size_s"] = 300
    config = config_from_dict(data)
    result, found = run_scenario("slow-burn-30d", tmp_path, config)
    assert result.book.totals()[CA].total == 86_400 and result.book.totals()[CA].good == 86_400 - 172
    assert briefs(found) == [
        # the 500th request (04:09:45) fails: 6h and 3d at 2× > 1 → ticket, which never resolves (an error
        # every 4h10m keeps ≥ 1 in every 6h window); no page (max 2.78× over 6h) so no security_suspect
        ("burn_spike", "firing", *CA, "ticket", T("07T04:10"), T("10T04:10")),
        # one day of history at 11T00:00, budget long gone (2× burn), nobody froze: after the 1 h grace
        ("policy_not_enforced", "firing", *CA, "ticket", T("11T00:00"), T("11T01:00")),
        # 3 full days at 13T00:00, 3-day burn ≈ 2 > 1.5, sustained for a day
        ("burn_too_loose", "firing", "checkout", "latency", "info", T("10T00:00"), T("14T00:00")),
        ("burn_too_tight", "firing", *CA, "ticket", T("10T00:00"), T("14T00:00")),
    ]
    tight = next(a for a in found.anomalies if a.type == "burn_too_tight")
    assert 1.9 < tight.evidence["burn_3d"] < 2.1
    g = {(s["journey"], s["slo"]): s for s in found.gauges["slos"]}
    assert g[CA]["budget_remaining"] == pytest.approx(1 - 172 / 86_400 / 0.001)
    assert g[("checkout", "latency")]["budget_remaining"] == 1.0
    assert found.gauges["active_slos"] == 2 and g[CA]["seconds_since_freeze"] is None


def test_budget_exhausted_without_a_freeze_is_policy_not_enforced(tmp_path):
    _, found = run_scenario("budget-exhausted", tmp_path)
    D = "11"
    assert briefs(found) == [
        # 02:01: 10 errors in the hour (600 events) = 16.7× and 20%/0.1% over 5m → page
        ("burn_spike", "firing", *CA, "page", T(f"{D}T01:01"), T(f"{D}T02:01")),
        # 02:02: 20 errors / 15,620 over 3d = 1.28× and 6h 5.6× → ticket
        ("burn_spike", "firing", *CA, "ticket", T("08T02:02"), T(f"{D}T02:02")),
        # the deploy was at 00:00, two hours before: not within ±30 min
        ("security_suspect", "firing", *CA, "page", T(f"{D}T01:31"), T(f"{D}T02:31")),
        ("burn_spike", "resolved", *CA, "page", T(f"{D}T02:01"), T(f"{D}T02:40")),
        # budget ≤ 0 from 02:02 (20 errors > 0.1% of 15,620); no freeze within the 1 h grace
        ("policy_not_enforced", "firing", *CA, "ticket", T(f"{D}T02:02"), T(f"{D}T03:02")),
        # the 6h window leaves the outage at 08:10 (2h left it at 04:10)
        ("burn_spike", "resolved", *CA, "ticket", T(f"{D}T02:02"), T(f"{D}T08:10")),
    ]
    policy = next(a for a in found.anomalies if a.type == "policy_not_enforced")
    assert policy.evidence["last_freeze"] is None and policy.evidence["budget_remaining"] < 0


def test_budget_exhausted_with_a_freeze_is_enforced(tmp_path):
    _, found = run_scenario("budget-exhausted-frozen", tmp_path)
    assert briefs(found, {"policy_not_enforced"}) == []
    g = {(s["journey"], s["slo"]): s for s in found.gauges["slos"]}
    assert g[CA]["frozen"] is True
    # 36 h of windows: the last ends at 11T12:00; the freeze was at 11T02:30
    assert g[CA]["seconds_since_freeze"] == 9 * 3600 + 30 * 60


def test_gen_scenario_and_process_write_schema_valid_anomalies_with_stable_ids(tmp_path):
    def truesli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)

    log, changes = tmp_path / "burst.jsonl", tmp_path / "changes.jsonl"
    r = truesli("gen", "--scenario", "burst-after-deploy", "--out", str(log), "--changes-out", str(changes))
    assert r.returncode == 0, r.stderr
    assert "wrote scenario burst-after-deploy: 75,600 requests" in r.stderr
    outs = []
    for run in (1, 2):
        out = tmp_path / f"anomalies-{run}.jsonl"
        r = truesli("process", "--config", str(EXAMPLE), str(log), "--changes", str(changes), "--anomalies", str(out))
        assert r.returncode == 0, r.stderr
        assert "Detection (1 change event): 2 anomalies fired" in r.stdout
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]  # same events → same anomalies, same ids
    schema = json.loads((ROOT / "schemas" / "anomaly.schema.json").read_text())
    docs = [orjson.loads(line) for line in outs[0].splitlines()]
    for doc in docs:
        jsonschema.validate(doc, schema)
    assert [d["id"] for d in docs] == [
        "burn_spike|checkout|availability|ticket|2026-03-10T03:01:00.000Z|firing",
        "burn_spike|checkout|availability|page|2026-03-10T03:03:00.000Z|firing",
        "burn_spike|checkout|availability|page|2026-03-10T03:03:00.000Z|resolved",
    ]


def test_a_bad_change_event_line_is_dead_lettered_with_its_reason(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in SCENARIOS["silent-journey"]()[0][:100]))
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"ts": "2026-03-10T00:00:00Z", "service": "shop", "kind": "deploy", "id": "d1"}\n'
                       '{"ts": "2026-03-10T00:00:00Z", "service": "shop", "kind": "rollback", "id": "d2"}\n'
                       'not json\n')
    dead = tmp_path / "dead.jsonl"
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(EXAMPLE), str(log),
                        "--changes", str(changes), "--dead-letters", str(dead)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "truesli: 2 change-event lines are not change events (first: " in r.stderr
    assert "Detection (1 change event)" in r.stdout
    docs = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert [(d["reason"], d["error"], d["source"]["line"]) for d in docs] == [
        ("bad_change_event", "kind must be one of deploy, config, upstream, freeze, unfreeze", 2),
        ("bad_change_event", "not a JSON object", 3),
    ]


def test_anomalies_on_stdout_keep_stdout_pure_json(tmp_path):
    log = tmp_path / "burst.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in SCENARIOS["burst"]()[0]))
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(EXAMPLE), str(log),
                        "--anomalies", "-"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["type"] for d in docs] == ["burn_spike", "burn_spike", "security_suspect", "burn_spike"]
    assert "Detection (0 change events): 3 anomalies fired" in r.stderr
