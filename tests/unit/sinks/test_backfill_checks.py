"""The pure parts of the backfill checks: where a receiver's query API is, what it keeps, what to warn."""

from __future__ import annotations

from streams.core.detect.anomaly import Anomaly
from streams.sinks.detection_series import anomaly_samples
from streams.sinks.query_api import query_base
from streams.sinks.readback import Expected, ReadbackReport, verify
from streams.sinks.receiver_limits import (
    DAY_MS,
    HOUR_MS,
    ReceiverInfo,
    parse_duration_ms,
    parse_vm_retention_ms,
    warnings,
)

NOW = 1_796_000_000_000


def test_query_base_from_the_write_url():
    assert query_base("http://127.0.0.1:9090/api/v1/write") == "http://127.0.0.1:9090"
    assert query_base("https://vm.example:8428/api/v1/write/") == "https://vm.example:8428"
    assert query_base("http://u:p@mimir/api/v1/push?x=1") == "http://mimir/prometheus"
    assert query_base("http://[::1]:9090/prom/api/v1/write") == "http://[::1]:9090/prom"
    assert query_base("http://vminsert:8480/insert/0/prometheus/api/v1/write") is None  # vmselect is elsewhere
    assert query_base("http://proxy/ingest") is None


def test_durations():
    assert parse_duration_ms("30d") == 30 * DAY_MS
    assert parse_duration_ms("1h30m") == HOUR_MS + 30 * 60_000
    assert parse_duration_ms("0s") == 0
    assert parse_duration_ms("forever") is None
    assert parse_vm_retention_ms("1") == 31 * DAY_MS  # a bare number is months
    assert parse_vm_retention_ms('"100y"') == 100 * 365 * DAY_MS
    assert parse_vm_retention_ms("400d") == 400 * DAY_MS
    assert parse_vm_retention_ms("x") is None


def test_victoria_metrics_retention_warning_names_the_flag():
    info = ReceiverInfo("victoriametrics", 31 * DAY_MS, "-retentionPeriod=1")
    assert warnings(info, NOW - 30 * DAY_MS, NOW, NOW) == []
    [line] = warnings(info, NOW - 365 * DAY_MS, NOW, NOW)
    assert line.startswith("samples from 2025-11-30T00:53:20.000Z") and line.endswith(
        "are older than VictoriaMetrics keeps (-retentionPeriod=1, 31 days): it drops them silently; restart it "
        "with -retentionPeriod=366d or more")
    [future] = warnings(info, NOW, NOW + 3 * DAY_MS, NOW)
    assert "more than 2 days ahead of now" in future


def test_prometheus_warnings_name_the_out_of_order_window_and_promtool():
    empty_head = ReceiverInfo("prometheus", 400 * DAY_MS, "--storage.tsdb.retention.time=400d", 0, None)
    assert warnings(empty_head, NOW - 90 * DAY_MS, NOW, NOW) == []  # an empty head takes anything
    busy = ReceiverInfo("prometheus", 400 * DAY_MS, "--storage.tsdb.retention.time=400d", 0, NOW)
    assert warnings(busy, NOW - 30 * 60_000, NOW, NOW) == []  # within the head's last hour
    [line] = warnings(busy, NOW - 10 * DAY_MS, NOW, NOW)
    assert "are 10 days older than the newest sample Prometheus holds: it refuses them unless " \
           "storage.tsdb.out_of_order_time_window ≥ 11d in its config file (now 0d)" in line
    assert line.endswith("`promtool tsdb create-blocks-from openmetrics`")
    covered = ReceiverInfo("prometheus", 400 * DAY_MS, "x", 30 * DAY_MS, NOW)
    assert warnings(covered, NOW - 10 * DAY_MS, NOW, NOW) == []
    short = ReceiverInfo("prometheus", 15 * DAY_MS, "--storage.tsdb.retention.time=0s", 30 * DAY_MS, NOW)
    [line] = warnings(short, NOW - 20 * DAY_MS, NOW, NOW)
    assert "the next compaction deletes them; raise --storage.tsdb.retention.time" in line
    assert warnings(ReceiverInfo("unknown"), 0, NOW, NOW) == []


def test_expected_keeps_the_newest_sample_per_series():
    e = Expected()
    e.add({"__name__": "m", "a": "1"}, 200, 5.0)
    e.add({"__name__": "m", "a": "1"}, 100, 0.0)
    e.add({"__name__": "m", "a": "2", "empty": ""}, 150, 1.0)
    assert e.newest == {("m", (("a", "1"),)): (200, 5.0), ("m", (("a", "2"),)): (150, 1.0)}
    assert (e.oldest_ms, e.newest_ms) == (100, 200)


def test_no_query_api_is_reported_not_verified():
    e = Expected()
    e.add({"__name__": "m"}, 1, 1.0)
    report = verify(None, e, why_not="unknown layout")
    assert report == ReadbackReport(series=1, skipped="unknown layout") and not report.ok


def test_anomaly_samples_count_per_label_set_and_instant():
    def a(type_, journey, ts, key="", state="firing"):
        return Anomaly(type_, state, journey, "availability" if journey else None, "ticket", ts - 60_000, ts, ts,
                       ts, key)
    got = anomaly_samples([a("scanner", None, 2000, "1.2.3.0/24"), a("scanner", None, 2000, "5.6.7.0/24"),
                           a("burn_spike", "checkout", 1000), a("burn_spike", "checkout", 3000, state="resolved")])
    assert got == [
        ({"__name__": "truesli_anomaly", "type": "burn_spike", "journey": "checkout", "slo": "availability",
          "severity": "ticket", "state": "firing"}, 1000, 1.0),
        ({"__name__": "truesli_anomaly", "type": "scanner", "severity": "ticket", "state": "firing"}, 2000, 2.0),
        ({"__name__": "truesli_anomaly", "type": "burn_spike", "journey": "checkout", "slo": "availability",
          "severity": "ticket", "state": "resolved"}, 3000, 1.0),
    ]


def test_malformed_durations_are_none():
    assert parse_duration_ms("") is None and parse_duration_ms("5") is None and parse_duration_ms("5q") is None
    assert parse_duration_ms("100ms") == 100 and parse_duration_ms("2w") == 14 * DAY_MS
    assert parse_vm_retention_ms("") is None and parse_vm_retention_ms("nan") is None
    assert parse_vm_retention_ms("24h") == DAY_MS
