"""Live export: per-partition cumulative samples, late windows as deltas, state round trip."""

from __future__ import annotations

from streams.core.model import WindowCounter
from streams.sinks.cumulative import CumulativeExporter

W = 60_000
T0 = 1_767_225_600_000


def c(i, good, total, raw_good, raw_total, filtered=None, revision=0):
    return WindowCounter("checkout", "availability", T0 + i * W, T0 + (i + 1) * W, good, total, raw_good,
                         raw_total, filtered or {}, revision=revision, partition=2)


def sli_good(samples):
    return [(ts, v) for labels, ts, v in samples
            if labels["__name__"] == "truesli_sli_events_total" and labels["result"] == "good"]


def test_running_sums_in_event_time_with_partition_label():
    ex = CumulativeExporter(2, retain_ms=3600_000, first_slo={"checkout": "availability"})
    out = ex.observe([c(0, 9, 10, 19, 20, {"bot_ua": 10}), c(1, 5, 5, 6, 6)])
    assert sli_good(out) == [(T0 + W, 9.0), (T0 + 2 * W, 14.0)]
    assert {labels["partition"] for labels, _, _ in out} == {"2"}
    filtered = [(ts, v) for labels, ts, v in out if labels["__name__"] == "truesli_filtered_events_total"]
    assert filtered == [(T0 + W, 10.0)]


def test_late_revision_adds_its_delta_after_the_newest_sample():
    ex = CumulativeExporter(2, retain_ms=3600_000, first_slo={"checkout": "availability"})
    ex.observe([c(0, 9, 10, 19, 20), c(1, 5, 5, 6, 6)])
    out = ex.observe([c(0, 11, 12, 21, 22, revision=1)])  # two late good records for window 0
    assert sli_good(out) == [(T0 + 2 * W + 1, 16.0)]


def test_state_round_trip_continues_identically():
    a = CumulativeExporter(2, retain_ms=3600_000, first_slo={"checkout": "availability"})
    a.observe([c(0, 9, 10, 19, 20)])
    b = CumulativeExporter(2, retain_ms=3600_000, first_slo={"checkout": "availability"})
    b.load(a.state())
    assert b.observe([c(1, 1, 1, 1, 1)]) == a.observe([c(1, 1, 1, 1, 1)])
