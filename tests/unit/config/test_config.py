"""Config: one validated, frozen model; every error names the YAML path and the fix."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from streams.config import Config, ConfigError, config_from_dict, expand_statuses, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "truesli.yaml"


def _error(data) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, "t.yaml")
    return str(exc.value)


def test_default_config_is_complete():
    c = load_config(None)
    assert [j.name for j in c.journeys] == ["all"]
    assert [(s.name, s.kind, s.objective) for s in c.journeys[0].slos] == [("availability", "availability", 0.999)]
    f = c.filters
    assert all(x.enabled for x in (f.synthetic, f.ip_deny, f.bot_ua, f.rate_limited, f.scanner,
                                   f.credential_stuffing))
    assert [r.reason for r in c.exclusions] == ["health", "health", "metrics", "internal"]


def test_example_config_loads_and_equals_its_documented_defaults_where_unchanged():
    c = load_config(EXAMPLE)
    assert [j.name for j in c.journeys] == ["checkout", "login", "search", "browse"]
    assert c.filters.rate_limited == Config().filters.rate_limited
    assert c.windows == Config().windows
    assert c.state == Config().state
    assert c.exclusions == Config().exclusions
    assert (c.kafka, c.worker, c.remote_write) == (Config().kafka, Config().worker, Config().remote_write)


def test_example_latency_thresholds_match_the_generator_truth():
    from streams.tools.gen import TRUTH_LATENCY_THRESHOLDS_MS

    c = load_config(EXAMPLE)
    got = {j.name: next(s.threshold_ms for s in j.slos if s.kind == "latency") for j in c.journeys}
    assert got == {k: float(v) for k, v in TRUTH_LATENCY_THRESHOLDS_MS.items()}


def test_config_is_frozen():
    c = Config()
    with pytest.raises(pydantic.ValidationError):
        c.windows.size_s = 5  # type: ignore[misc]


def test_errors_name_the_yaml_path_and_all_problems_at_once():
    msg = _error({
        "journeys": [{"name": "Checkout", "slos": [{"name": "lat", "kind": "latency", "objective": 0.99}]}],
        "filters": {"bot_ua": {"patterns": ["(a)\\1"]}, "ip_deny": {"deny": ["10.0.0.300/8"]}},
        "windowz": {},
    })
    assert msg.startswith("t.yaml: invalid configuration:")
    assert "journeys[0].name: must be lowercase letters" in msg
    assert "journeys[0].slos[0]: a latency SLO needs threshold_ms (e.g. threshold_ms: 300)" in msg
    assert "filters.bot_ua.patterns: not a valid RE2 pattern" in msg and "rewrite the pattern" in msg
    assert "filters.ip_deny.deny: '10.0.0.300/8' is not an IP address or CIDR block" in msg
    assert "windowz: unknown key — check the spelling against docs/configuration.md" in msg
    assert "Traceback" not in msg


@pytest.mark.parametrize("data, expected", [
    ({"journeys": [{"name": "a", "slos": [{"name": "x", "kind": "availability", "objective": 1.0}]}]},
     "journeys[0].slos[0].objective: Input should be less than 1"),
    ({"journeys": [{"name": "a", "slos": []}]}, "journeys[0].slos: Tuple should have at least 1 item"),
    ({"journeys": []}, "journeys: Tuple should have at least 1 item"),
    ({"journeys": [{"name": "a", "slos": [{"name": "x", "kind": "availability", "objective": 0.9}]},
                   {"name": "a", "slos": [{"name": "x", "kind": "availability", "objective": 0.9}]}]},
     "journey names must be unique; repeated: ['a']"),
    ({"journeys": [{"name": "a", "slos": [{"name": "x", "kind": "availability", "objective": 0.9,
                                           "bad_statuses": ["6xx"]}]}]},
     "'6xx' is not a status spec: use 503, 500-504 or 5xx"),
    ({"exclusions": [{"reason": "health"}]}, "an exclusion rule with no condition would exclude every request"),
    ({"input": {"fields": {"timestamp": "time"}}}, "input.fields: unknown request field(s) ['timestamp']"),
    ({"input": {"preset": "apache"}}, "input.preset: Input should be 'truesli', 'nginx', 'envoy' or 'alb'"),
    ({"windows": {"size_s": 0}}, "windows.size_s: Input should be greater than or equal to 1"),
    ([1, 2], "t.yaml: the top level must be a mapping of sections"),
    ({"state": {"ip_ttl_s": 60}}, "state.ip_ttl_s (60) must be at least 1200"),
])
def test_specific_errors(data, expected):
    assert expected in _error(data)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope.yaml \(pass an existing file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("journeys:\n  - name: a\n   slos: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line \d+, column \d+"):
        load_config(bad)


def test_empty_file_means_defaults(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_config(p) == Config()


def test_expand_statuses():
    assert expand_statuses(("5xx",)) == frozenset(range(500, 600))
    assert expand_statuses(("500-502", 429, "404")) == frozenset({500, 501, 502, 429, 404})
