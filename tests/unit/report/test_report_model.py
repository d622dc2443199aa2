"""streams.report: inputs, the pure view model (downsampling, never NaN), verdicts and the HTML page."""

from __future__ import annotations

import re

import orjson
import pytest

from streams.config import config_from_dict
from streams.core.model import WindowCounter
from streams.tools.history import DAY_MS, HISTORY_CONFIG, history_changes, history_config, iter_history
from streams.core.detect import Anomaly, ChangeEvent
from streams.report.inputs import read_anomalies, read_counters
from streams.sources.change_files import read_changes
from streams.report.view_model import REAL_USERS, ReportInputError, build_model, choose_bucketing
from streams.report.render import render_html
from streams.report.verdict import verdict_from_anomalies
from streams.sinks.serialize import counter_to_dict
from streams.sources.files import InputError

MIN = 60_000
T0 = 1_785_542_400_000  # 2026-08-01T00:00:00Z
ONE = config_from_dict({"journeys": [{"name": "shop", "service": "web", "slos": [
    {"name": "availability", "kind": "availability", "objective": 0.99}]}]})



def message(id: str, type: str, journey: str | None, slo: str | None, severity: str, state: str, ts_ms: int,
            window_start_ms: int, window_end_ms: int) -> Anomaly:
    """An ``anomaly`` message as read_anomalies builds it: the published id kept, the window start as
    episode."""
    return Anomaly(type, state, journey, slo, severity, window_start_ms, window_end_ms, ts_ms, window_start_ms,
                   message_id=id)


def read_strict(path: str) -> list[ChangeEvent]:
    """Change events as the report reads them: strictly, in time order."""
    return read_changes([path], strict=True).in_time_order()

def wc(minute: int, good: int, total: int, filtered: dict | None = None, journey: str = "shop",
       slo: str = "availability") -> WindowCounter:
    f = filtered or {}
    return WindowCounter(journey, slo, T0 + minute * MIN, T0 + (minute + 1) * MIN, good=good, total=total,
                         raw_good=good + sum(f.values()), raw_total=total + sum(f.values()), filtered=dict(f))


def test_bucketing_picks_readable_buckets_under_the_point_budget():
    b = choose_bucketing(T0, T0 + 90 * DAY_MS, MIN, 600)
    assert (b.bucket_ms, b.n, b.windows) == (240 * MIN, 540, 129_600)
    assert b.note() == "downsampled for display: 1 point = 4 h (240 windows of 1 min; 129,600 windows)"
    b = choose_bucketing(T0, T0 + 3 * DAY_MS, MIN, 600)
    assert (b.bucket_ms, b.n) == (10 * MIN, 432)
    b = choose_bucketing(T0, T0 + 10 * MIN, MIN, 600)
    assert (b.bucket_ms, b.n, b.downsampled) == (MIN, 10, False)
    assert b.note() == "1 point = 1 window of 1 min (not downsampled)"
    # A span that does not start on a bucket boundary still stays within the budget.
    b = choose_bucketing(T0 + MIN, T0 + 11 * MIN, MIN, 5)
    assert (b.start_ms, b.bucket_ms, b.n) == (T0, 3 * MIN, 4)


def test_downsampling_reaggregates_counts_and_keeps_the_burn_maximum():
    rows = [wc(0, 90, 100, {"bot_ua": 300}), wc(1, 100, 100, {"bot_ua": 100, "scanner": 20}),
            wc(2, 50, 50), wc(3, 150, 150, {"scanner": 10})]
    m = build_model(ONE, rows, max_points=2)
    v = m.slos[0]
    assert (m.bucketing.bucket_ms, m.bucketing.n) == (2 * MIN, 2)
    assert v.error_real == [10 / 200, 0.0]
    assert v.error_raw == [10 / 620, 0.0]
    assert v.traffic == {REAL_USERS: [100.0, 100.0], "bot_ua": [200.0, 0.0], "scanner": [10.0, 5.0]}
    assert v.nonuser_share == [420 / 620, 10 / 210]
    # 1h burn at minute 0 is 0.1/0.01 = 10× (the bucket maximum), then it decays; 3d equals 1h here.
    assert v.burn["1h"] == [pytest.approx(10.0), pytest.approx(10 / 250 / 0.01)]
    assert v.burn["3d"] == v.burn["1h"]
    assert v.budget == [pytest.approx(1 - 10 / (0.01 * 200)), pytest.approx(1 - 10 / (0.01 * 400))]
    assert (v.good, v.total, v.filtered) == (390, 400, {"bot_ua": 400, "scanner": 30})
    assert v.burn_1h_now == pytest.approx(2.5) and v.budget_now == pytest.approx(-1.5)


def test_zero_traffic_windows_are_gaps_never_nan():
    rows = [wc(0, 99, 100), wc(1, 0, 0), wc(2, 0, 0), wc(3, 100, 100)]
    v = build_model(ONE, rows, max_points=600).slos[0]
    assert v.error_real == [0.01, None, None, 0.0]
    assert v.error_raw == [0.01, None, None, 0.0]
    assert v.nonuser_share == [0.0, None, None, 0.0]
    assert v.traffic[REAL_USERS] == [100.0, 0.0, 0.0, 100.0]
    html = render_html(build_model(ONE, rows, max_points=600), "test")
    assert not re.search(r"\bnan\b|\binf", html, re.IGNORECASE)
    cleaned = re.search(r'data-series="cleaned" data-points="(\d+)" d="([^"]*)"', html)
    assert cleaned.group(1) == "2" and cleaned.group(2).count("M") == 2  # two pieces: a gap in between
    # An SLO with no traffic at all: every ratio is absent, the verdict (the detectors' no_traffic, after
    # 15 silent minutes) says so, the page still renders.
    silent = build_model(ONE, [wc(m, 0, 0) for m in range(20)])
    v = silent.slos[0]
    assert v.error_real == [None] * 20 and v.burn["1h"] == [None] * 20 and v.budget == [None] * 20
    assert v.verdict.code == "no_traffic" and v.burn_1h_now is None and v.budget_now is None
    assert "NaN" not in render_html(silent, "test")


def test_counters_of_an_unconfigured_slo_are_an_error_not_dropped():
    with pytest.raises(ReportInputError, match="other/availability, which the config does not define"):
        build_model(ONE, [wc(0, 1, 1, journey="other")])


def test_configured_slo_without_counters_gets_an_empty_section():
    cfg = config_from_dict({"journeys": [{"name": "shop", "slos": [
        {"name": "availability", "kind": "availability", "objective": 0.99},
        {"name": "latency", "kind": "latency", "objective": 0.9, "threshold_ms": 100}]}]})
    m = build_model(cfg, [wc(0, 1, 1)])
    # one minute of history is no basis for a calibration verdict; an SLO without any counter has no traffic
    assert [(v.slo, v.windows, v.verdict.code) for v in m.slos] == [("availability", 1, "calibrated"),
                                                                     ("latency", 0, "no_traffic")]
    assert "no counters for this SLO" in render_html(m, "t")


def _anomaly(kind: str, ts_min: int, state: str = "firing", journey: str | None = "shop",
             slo: str | None = "availability") -> Anomaly:
    t = T0 + ts_min * MIN
    return message(f"{kind}-{ts_min}", kind, journey, slo, "ticket", state, t, t - MIN, t)


def test_anomaly_verdict_is_the_most_urgent_firing_meta_signal():
    v = lambda items: verdict_from_anomalies(items, "shop", "availability").code  # noqa: E731
    assert v([]) == "calibrated"
    assert v([_anomaly("burn_spike", 5)]) == "calibrated"  # not a meta-signal
    assert v([_anomaly("burn_too_loose", 1), _anomaly("burn_too_tight", 2)]) == "too_tight"
    assert v([_anomaly("burn_too_tight", 1), _anomaly("policy_not_enforced", 2),
              _anomaly("no_traffic", 3)]) == "no_traffic"
    assert v([_anomaly("burn_too_tight", 1), _anomaly("burn_too_tight", 2, "resolved"),
              _anomaly("burn_too_loose", 3)]) == "too_loose"
    assert v([_anomaly("burn_too_tight", 1), _anomaly("burn_too_loose", 2),
              _anomaly("burn_too_loose", 3, "resolved")]) == "too_tight"
    assert v([_anomaly("policy_not_enforced", 1, slo=None)]) == "policy_not_enforced"
    assert v([_anomaly("no_traffic", 1, journey="other")]) == "calibrated"
    assert v([_anomaly("no_traffic", 1, slo="latency")]) == "calibrated"
    m = build_model(ONE, [wc(0, 1, 1)], anomalies=[_anomaly("burn_too_tight", 0)])
    assert m.slos[0].verdict.code == "too_tight" and m.slos[0].verdict.source == "anomalies"
    assert len(m.slos[0].anomalies) == 1


def test_read_counters_keeps_newest_revision_and_sums_partials(tmp_path):
    docs = [counter_to_dict(wc(0, 5, 10), 0), counter_to_dict(wc(0, 5, 10), 0)]
    docs[1].update(good=9, revision=1)
    p0 = counter_to_dict(wc(1, 2, 2), 0) | {"partition": 0}
    p1 = counter_to_dict(wc(1, 3, 4), 0) | {"partition": 1}
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in [*docs, p0, p1]) + b"\n\n")
    got = read_counters(str(path))
    assert [(c.window_start_ms, c.good, c.total) for c in got] == [(T0, 9, 10), (T0 + MIN, 5, 6)]


@pytest.mark.parametrize("line, message", [
    (b"{not json", "c.jsonl:2: not JSON"),
    (b"[1]", "c.jsonl:2: expected a JSON object per line, got list"),
    (b'{"journey": "shop"}', "c.jsonl:2: not an sli_counter"),
    (b'{"journey":"shop","slo":"a","window_start":"yesterday","window_end":"x"}', "c.jsonl:2: window_start 'yesterday'"),
    (b'{"journey":"shop","slo":"a","window_start":"2026-08-01T00:00:00Z","window_end":"2026-08-01T00:01:00Z",'
     b'"good":-1}', "c.jsonl:2: good must be a non-negative integer, got -1"),
])
def test_bad_counter_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "c.jsonl"
    path.write_bytes(orjson.dumps(counter_to_dict(wc(0, 1, 1), 0)) + b"\n" + line + b"\n")
    with pytest.raises(InputError, match=re.escape(message)):
        read_counters(str(path))


def test_read_changes_and_anomalies(tmp_path):
    changes = tmp_path / "ch.jsonl"
    changes.write_bytes(b'{"ts": 1785542460, "service": "web", "kind": "freeze", "id": "f1"}\n'
                        b'{"ts": "2026-08-01T00:00:00Z", "service": "web", "kind": "deploy", "id": "d1"}\n')
    assert read_strict(str(changes)) == [ChangeEvent(T0, "web", "deploy", "d1"), ChangeEvent(T0 + MIN, "web", "freeze", "f1")]
    changes.write_bytes(b'{"ts": 1, "service": "web", "kind": "rollback", "id": "x"}\n')
    with pytest.raises(InputError, match="ch.jsonl:1: kind must be one of deploy, config, upstream, freeze, unfreeze"):
        read_strict(str(changes))
    anomalies = tmp_path / "a.jsonl"
    anomalies.write_bytes(orjson.dumps({"id": "a", "type": "burn_too_loose", "journey": "shop", "slo": None,
                                        "severity": "info", "window": {"start": "2026-08-01T00:00:00Z",
                                                                       "end": "2026-08-01T00:01:00Z"},
                                        "ts": "2026-08-01T00:01:00Z"}) + b"\n")
    assert read_anomalies(str(anomalies)) == [message("a", "burn_too_loose", "shop", None, "info", "firing",
                                                      T0 + MIN, T0, T0 + MIN)]
    with pytest.raises(InputError, match="anomalies file not found"):
        read_anomalies(str(tmp_path / "missing.jsonl"))


def test_freeze_makes_an_exhausted_budget_enforced_and_shows_when():
    # judge the budget at once (no minimum history, no grace) so two hours of 10% errors exhaust it
    cfg = config_from_dict({"journeys": [{"name": "shop", "service": "web", "slos": [
        {"name": "availability", "kind": "availability", "objective": 0.99}]}],
        "detection": {"policy_min_history_s": 0, "policy_grace_s": 0}})
    rows = [wc(m, 90, 100) for m in range(120)]
    freeze = ChangeEvent(T0 + 30 * MIN, "web", "freeze", "f")
    other = ChangeEvent(T0 + 31 * MIN, "elsewhere", "freeze", "g")
    assert build_model(cfg, rows).slos[0].verdict.code == "policy_not_enforced"
    v = build_model(cfg, rows, changes=[freeze, other]).slos[0]
    assert v.verdict.code == "calibrated" and v.last_freeze_ms == T0 + 30 * MIN and v.changes == [freeze]
    m = build_model(cfg, rows, changes=[freeze])
    assert "<td>1 h 30 min ago</td>" in render_html(m, "t")
    assert "<td>no --changes</td>" in render_html(build_model(cfg, rows), "t")


def test_generated_history_tells_its_story():
    days = 12
    counters = list(iter_history(days, seed=1))
    assert len(counters) == days * 1440 * 6
    outage = [c for c in counters if c.journey == "search" and T0 + 180 * MIN <= c.window_start_ms < T0 + 225 * MIN]
    assert len(outage) == 90 and all(c.total == 0 and c.raw_total == 0 for c in outage)
    changes = [ChangeEvent(c.ts_ms, c.service, c.kind, c.id) for c in
               read_changes_from_docs(history_changes(days))]
    m = build_model(history_config(), counters, changes=changes)
    assert [(v.journey, v.slo, v.verdict.code) for v in m.slos] == [
        # the 8% burst left checkout's 30-day budget exhausted: after the unfreeze the policy is broken again
        ("checkout", "availability", "policy_not_enforced"), ("checkout", "latency", "calibrated"),
        ("login", "availability", "policy_not_enforced"), ("login", "latency", "calibrated"),
        ("search", "availability", "too_loose"), ("search", "latency", "too_loose")]
    checkout = m.slos[0]
    assert checkout.alerts["page"]  # the 8% burst after the deploy pages
    assert [c.kind for c in checkout.changes].count("freeze") == 1
    assert (m.summary.slos, m.summary.active) == (6, 6)
    assert m.bucketing.note() == "downsampled for display: 1 point = 30 min (30 windows of 1 min; 17,280 windows)"


def read_changes_from_docs(docs: list[dict]) -> list[ChangeEvent]:
    from streams.core.timeparse import parse_rfc3339

    return [ChangeEvent(parse_rfc3339(d["ts"]), d["service"], d["kind"], d["id"]) for d in docs]


def test_page_is_self_contained_deterministic_and_complete():
    counters = list(iter_history(2, seed=3))
    m = build_model(history_config(), counters, changes=read_changes_from_docs(history_changes(2)))
    html = render_html(m, "counters x")
    assert html == render_html(m, "counters x")
    for forbidden in ("<script", "http:", "https:", "src=", "href=", "url(", "@import"):
        assert forbidden not in html
    sections = re.findall(r'<section class="slo" id="([a-z_]+-[a-z_]+)"', html)
    assert sections == [f"{j['name']}-{s['name']}" for j in HISTORY_CONFIG["journeys"] for s in j["slos"]]
    assert html.count('<svg class="chart"') == 4 * 6
    # The configured thresholds (the workbook defaults, written out): each factor is drawn once per SLO.
    for factor in ("14.4", "6", "3", "1"):
        assert html.count(f">{factor}× ") == 6


# -- review fixes ---------------------------------------------------------------------------------------------
def test_read_changes_is_the_change_event_contract(tmp_path):
    """One parser for change_event: the detectors' parse_change (id required, description a string ≤ 500)."""
    path = tmp_path / "ch.jsonl"
    path.write_bytes(b'{"ts": "2026-08-01T00:00:00Z", "service": "web", "kind": "deploy", "id": "d1", '
                     b'"description": null}\n'
                     + orjson.dumps({"ts": "2026-08-01T00:01:00Z", "service": "web", "kind": "config", "id": "c1",
                                     "description": "x" * 600}) + b"\n")
    assert read_strict(str(path)) == [ChangeEvent(T0, "web", "deploy", "d1", ""),
                                       ChangeEvent(T0 + MIN, "web", "config", "c1", "x" * 500)]
    for line, reason in [(b'{"ts": 1785542460, "service": "web", "kind": "deploy"}', "id must be a non-empty string"),
                         (b'{"ts": 1785542460, "service": "web", "kind": "deploy", "id": ""}', "id must be a non-empty string"),
                         (b'{"ts": 1785542460, "service": "web", "kind": "deploy", "id": 7}', "id must be a non-empty string"),
                         (b'{"ts": true, "service": "web", "kind": "deploy", "id": "x"}',
                          "ts must be an RFC 3339 string or epoch seconds/milliseconds")]:
        path.write_bytes(b'{"ts": 1785542460, "service": "web", "kind": "freeze", "id": "ok"}\n' + line + b"\n")
        with pytest.raises(InputError) as err:
            read_strict(str(path))
        assert str(err.value) == f"{path}:2: {reason}"


def test_read_counters_is_the_sli_counter_parser_networks_included(tmp_path):
    c = wc(0, 5, 10, {"bot_ua": 3})
    c.networks = {"203.0.113.0/24": 3, "other": 2}
    p0 = counter_to_dict(wc(1, 2, 2), 0) | {"partition": 0, "networks": {"198.51.100.0/24": 1}}
    p1 = counter_to_dict(wc(1, 3, 4), 0) | {"partition": 1, "networks": {"198.51.100.0/24": 2}}
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in [counter_to_dict(c, 0), p0, p1]) + b"\n")
    got = read_counters(str(path))
    assert [c.networks for c in got] == [{"203.0.113.0/24": 3, "other": 2}, {"198.51.100.0/24": 3}]
    assert got[0] == c
    path.write_bytes(orjson.dumps(counter_to_dict(wc(0, 1, 1), 0) | {"networks": {"x": -1}}) + b"\n")
    with pytest.raises(InputError, match=re.escape("c.jsonl:1: networks: x must be a non-negative integer, got -1")):
        read_counters(str(path))


def test_verdict_says_when_the_anomaly_fired_not_its_window_start():
    fired = T0 + 5 * DAY_MS
    tight = message("burn_too_tight|shop|availability|-|2026-08-04T00:00:00Z|firing", "burn_too_tight", "shop",
                    "availability", "ticket", "firing", fired, T0 + 4 * DAY_MS - 3 * DAY_MS, fired)
    v = verdict_from_anomalies([tight], "shop", "availability")
    assert v.reason == "detector anomaly burn_too_tight is firing since 2026-08-06T00:00:00.000Z"


def test_period_days_drives_the_verdict_and_the_chart_alike():
    # Two hours at 50% errors, then a day and a half of clean traffic: over 30 days the budget is spent
    # (policy not enforced); over 1 day it is untouched, and the verdict must agree with the chart.
    cfg = config_from_dict({"journeys": [{"name": "shop", "service": "web", "slos": [
        {"name": "availability", "kind": "availability", "objective": 0.99}]}],
        "detection": {"policy_min_history_s": 0, "policy_grace_s": 0}})
    rows = [wc(m, 50, 100) for m in range(120)] + [wc(m, 100, 100) for m in range(120, 120 + 2160)]
    v30 = build_model(cfg, rows).slos[0]
    assert v30.verdict.code == "policy_not_enforced" and v30.budget_now < 0
    m1 = build_model(cfg, rows, period_days=1)
    v1 = m1.slos[0]
    assert m1.period_days == 1 and v1.budget_now == 1.0 and v1.budget[-1] == 1.0
    assert v1.verdict.code == "calibrated"
    for bad in (0, 401, 1.5):
        with pytest.raises(ReportInputError, match="the SLO period must be a whole number of days from 1 to 400"):
            build_model(cfg, rows, period_days=bad)


def _spike(severity: str, state: str, fired_min: int, at_min: int, slo: str = "availability") -> Anomaly:
    fired = T0 + fired_min * MIN
    return message(f"burn_spike|shop|{slo}|{severity}|{fired}|{state}", "burn_spike", "shop", slo, severity, state,
                   T0 + at_min * MIN, fired - 60 * MIN, T0 + at_min * MIN)


def test_alert_spans_are_the_burn_spike_episodes():
    rows = [wc(m, 100, 100) for m in range(10)]  # no condition holds in these counters: the anomalies decide
    anomalies = [_spike("page", "firing", 2, 2), _spike("page", "resolved", 2, 5),
                 _spike("page", "firing", 2, 2),  # a duplicate message (at-least-once delivery) changes nothing
                 _spike("ticket", "firing", 7, 7),  # still open at the end: drawn to the last window end
                 _spike("page", "firing", 1, 1, slo="latency"),  # another SLO
                 _anomaly("burn_too_tight", 3)]
    v = build_model(ONE, rows, anomalies=anomalies).slos[0]
    assert v.alerts == {"page": [(T0 + 2 * MIN, T0 + 5 * MIN)], "ticket": [(T0 + 7 * MIN, T0 + 10 * MIN)]}
    html = render_html(build_model(ONE, rows, anomalies=anomalies), "t")
    assert re.findall(r'class="alert-span"[^>]*><title>([^<]*)</title>', html) == [
        "page alert 2026-08-01T00:02:00.000Z → 2026-08-01T00:05:00.000Z",
        "ticket alert 2026-08-01T00:07:00.000Z → 2026-08-01T00:10:00.000Z"]
    # Without an anomalies file the spans are those of the detectors run over the counters: a 10-minute
    # 50% burst opens a ticket (still open at the end) and a page that resolves; bars and ▼ markers agree.
    rows = [wc(m, 100, 100) for m in range(60)] + [wc(m, 50, 100) for m in range(60, 70)] + \
           [wc(m, 100, 100) for m in range(70, 120)]
    v = build_model(ONE, rows).slos[0]
    assert [(a.severity, a.state, (a.ts_ms - T0) // MIN) for a in v.anomalies if a.type == "burn_spike"] == [
        ("ticket", "firing", 62), ("page", "firing", 69), ("page", "resolved", 84)]
    assert v.alerts == {"page": [(T0 + 69 * MIN, T0 + 84 * MIN)], "ticket": [(T0 + 62 * MIN, T0 + 120 * MIN)]}


def test_active_slos_are_the_detectors_events_in_the_slo_period():
    from streams.runs.detection import detect

    cfg = config_from_dict({"journeys": [{"name": "shop", "slos": [
        {"name": "availability", "kind": "availability", "objective": 0.99},
        {"name": "latency", "kind": "latency", "objective": 0.9, "threshold_ms": 100}]}]})
    # availability had traffic two hours ago and none since; latency has traffic throughout.
    rows = [wc(m, 100 if m < 10 else 0, 100 if m < 10 else 0) for m in range(180)] + \
           [wc(m, 10, 10, slo="latency") for m in range(180)]
    m = build_model(cfg, rows)
    assert (m.summary.slos, m.summary.active) == (2, 2)
    assert m.summary.active == detect(cfg, rows, []).gauges["active_slos"]
    html = render_html(m, "t")
    assert "<caption>Active SLOs: real-user events in the last 30 days (the SLO period, as the detectors' " \
           "truesli_slos_active); burning: 1-hour burn rate above 1×.</caption>" in html
