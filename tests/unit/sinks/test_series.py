"""Merged counters → cumulative Prometheus samples stamped with the window end (event time)."""

from __future__ import annotations

from streams.core.model import WindowCounter
from streams.sinks.series import counter_samples

W = 60_000
T0 = 1_767_225_600_000


def c(journey, slo, i, good, total, raw_good, raw_total, filtered=None):
    return WindowCounter(journey, slo, T0 + i * W, T0 + (i + 1) * W, good, total, raw_good, raw_total,
                         filtered or {})


def test_cumulative_sums_in_window_order_with_event_time_stamps():
    counters = [  # deliberately out of order
        c("checkout", "availability", 1, 0, 0, 5, 6, {"bot_ua": 6}),
        c("checkout", "availability", 0, 9, 10, 19, 20, {"bot_ua": 10}),
        c("checkout", "latency", 0, 8, 10, 18, 20, {"bot_ua": 10}),
    ]
    got = [(s[0]["__name__"], s[0].get("slo"), s[0].get("result") or s[0]["reason"], s[1], s[2])
           for s in counter_samples(counters)]
    assert got == [
        # every series opens with 0 at its first window's start, so increase() over the run is exact
        ("truesli_sli_events_total", "availability", "good", T0, 0),
        ("truesli_sli_events_total", "availability", "good", T0 + W, 9),
        ("truesli_sli_events_total", "availability", "bad", T0, 0),
        ("truesli_sli_events_total", "availability", "bad", T0 + W, 1),
        ("truesli_raw_events_total", "availability", "good", T0, 0),
        ("truesli_raw_events_total", "availability", "good", T0 + W, 19),
        ("truesli_raw_events_total", "availability", "bad", T0, 0),
        ("truesli_raw_events_total", "availability", "bad", T0 + W, 1),
        ("truesli_filtered_events_total", None, "bot_ua", T0, 0),
        ("truesli_filtered_events_total", None, "bot_ua", T0 + W, 10),
        ("truesli_sli_events_total", "latency", "good", T0, 0),
        ("truesli_sli_events_total", "latency", "good", T0 + W, 8),
        ("truesli_sli_events_total", "latency", "bad", T0, 0),
        ("truesli_sli_events_total", "latency", "bad", T0 + W, 2),
        ("truesli_raw_events_total", "latency", "good", T0, 0),
        ("truesli_raw_events_total", "latency", "good", T0 + W, 18),
        ("truesli_raw_events_total", "latency", "bad", T0, 0),
        ("truesli_raw_events_total", "latency", "bad", T0 + W, 2),
        # window 1: no real-user traffic → the cleaned counters repeat (rate 0, never NaN)
        ("truesli_sli_events_total", "availability", "good", T0 + 2 * W, 9),
        ("truesli_sli_events_total", "availability", "bad", T0 + 2 * W, 1),
        ("truesli_raw_events_total", "availability", "good", T0 + 2 * W, 24),
        ("truesli_raw_events_total", "availability", "bad", T0 + 2 * W, 2),
        ("truesli_filtered_events_total", None, "bot_ua", T0 + 2 * W, 16),
    ]


def test_labels_come_only_from_configured_names():
    samples = list(counter_samples([c("login", "availability", 0, 1, 1, 1, 2, {"scanner": 1})]))
    assert {frozenset(s[0]) for s in samples} == {frozenset({"__name__", "journey", "slo", "result"}),
                                                   frozenset({"__name__", "journey", "reason"})}


def test_a_reason_first_seen_later_opens_with_zero_at_that_window_start():
    counters = [c("checkout", "availability", 0, 1, 1, 1, 1),
                c("checkout", "availability", 1, 1, 1, 1, 4, {"scanner": 3})]
    got = [(s[1], s[2]) for s in counter_samples(counters) if s[0]["__name__"] == "truesli_filtered_events_total"]
    assert got == [(T0 + W, 0), (T0 + 2 * W, 3)]
