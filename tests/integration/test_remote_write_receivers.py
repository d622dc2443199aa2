"""RemoteWriteSink against the real receivers: Prometheus 2.42 and VictoriaMetrics 1.79 (Debian packages).

Backfilled counters (2026-01-01, in the past) are read back exactly. Prometheus runs with a 30-day
out-of-order window: it then accepts out-of-order and >1 h-old samples, rejects the whole batch with 400
for a sample with the timestamp of its series' newest sample and a different value ("duplicate sample for
timestamp"), and answers 500 "too old sample" forever for a sample older than the window. Every
Prometheus timestamp here stays within one hour (the in-order range below the newest sample) except the
deliberately too-old one; none is in the future, which would move the head and make the rest "too old".
"""

from __future__ import annotations

import time

from streams.sinks.remote_write import DeliveryReport, RemoteWriteSink
from tests.support.receivers import Prometheus, VictoriaMetrics

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN = 60_000
DAY = 86_400_000
JOURNEY = {"journey": "checkout", "slo": "availability"}


class Sleeps(list):
    """The real ``time.sleep``, remembering every wait the sink asked for (seconds, rounded to 1 µs): the
    tests assert the waits, never how long a flush took on the wall clock."""

    def __call__(self, s: float) -> None:
        self.append(round(s, 6))
        time.sleep(s)


def fast_sink(url: str, sleeps: Sleeps | None = None, **kw) -> RemoteWriteSink:
    kw.setdefault("max_age_s", 1e9)
    return RemoteWriteSink(url, min_backoff_s=0.001, max_backoff_s=0.004, deadline_s=10.0, timeout_s=5.0,
                           sleep=sleeps if sleeps is not None else time.sleep, **kw)


def key(name: str, **labels: str) -> tuple:
    return tuple(sorted({"__name__": name, **labels}.items()))


def add_counters(sink: RemoteWriteSink, prefix: str, minutes: range) -> dict[tuple, list[tuple[int, float]]]:
    """good/total counters of one journey at T0 + m minutes, added newest first; returns what was added."""
    expected: dict[tuple, list[tuple[int, float]]] = {}
    for m in reversed(minutes):
        for name, value in ((f"{prefix}_good_total", 95.0 * m + 0.5), (f"{prefix}_total", 100.0 * m)):
            sink.add({"__name__": name, **JOURNEY}, T0 + m * MIN, value)
            expected.setdefault(key(name, **JOURNEY), []).append((T0 + m * MIN, value))
    return {k: sorted(v) for k, v in expected.items()}


def test_prometheus_backfilled_counters_exact(prometheus: Prometheus) -> None:
    sink = fast_sink(prometheus.write_url, max_samples_per_request=7)
    expected = add_counters(sink, "rw_prom_backfill", range(10))
    assert sink.flush() == DeliveryReport(requests=3, samples_sent=20)
    got = prometheus.query_range_vector('{__name__=~"rw_prom_backfill_.*"}', T0 + 9 * MIN)
    assert got == expected


def test_victoria_metrics_backfilled_counters_exact(victoria_metrics: VictoriaMetrics) -> None:
    sink = fast_sink(victoria_metrics.write_url)
    late = add_counters(sink, "rw_vm_backfill", range(5, 10))
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=10)
    early = add_counters(sink, "rw_vm_backfill", range(5))  # older than what the receiver already has
    sink.add({"__name__": "rw_vm_backfill_old", **JOURNEY}, T0 - 31 * DAY, 1.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=11)
    expected = {k: sorted(early[k] + late[k]) for k in late}
    expected[key("rw_vm_backfill_old", **JOURNEY)] = [(T0 - 31 * DAY, 1.0)]
    assert victoria_metrics.export('{__name__=~"rw_vm_backfill_.*"}') == expected


def _split_case(sink: RemoteWriteSink) -> dict[tuple, list[tuple[int, float]]]:
    """Four series with 5 samples at T0+10..14 min; series i=2 also gets a second value for T0+15 min,
    where it already has 1.0. Sorted, the batch is 21 samples and the bad one is the 16th."""
    expected: dict[tuple, list[tuple[int, float]]] = {}
    for i in range(4):
        for m in range(10, 15):
            sink.add({"__name__": "rw_split", "i": str(i)}, T0 + m * MIN, float(10 * i + m))
            expected.setdefault(key("rw_split", i=str(i)), []).append((T0 + m * MIN, float(10 * i + m)))
    sink.add({"__name__": "rw_split", "i": "2"}, T0 + 15 * MIN, 2.0)
    return expected


def test_prometheus_bad_sample_isolated_by_splitting(prometheus: Prometheus) -> None:
    sleeps = Sleeps()
    sink = fast_sink(prometheus.write_url, sleeps)
    sink.add({"__name__": "rw_split", "i": "2"}, T0 + 15 * MIN, 1.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=1)
    expected = _split_case(sink)
    report = sink.flush()
    # 21 → 400; 10 ok; 11 → 400; 5 ok; 6 → 400; 3 → 400; the bad one → 400 (dropped); 2 ok; 3 ok.
    assert report == DeliveryReport(requests=9, samples_sent=20, retries=0, dropped={"rejected_4xx": 1},
                                    last_error="HTTP 400: duplicate sample for timestamp")
    assert sleeps == []  # a 400 is split at once, never retried after a backoff
    expected[key("rw_split", i="2")].append((T0 + 15 * MIN, 1.0))  # the first value stays
    assert prometheus.query_range_vector("rw_split", T0 + 15 * MIN) == expected
    assert sink.dropped_total == {"rejected_4xx": 1}


def test_prometheus_rejections_are_logged_once_per_cause(prometheus: Prometheus, caplog) -> None:
    """Issue 18, item 6: three bad samples isolated by splitting are one warning with their count, not three."""
    sink = fast_sink(prometheus.write_url)
    for i in range(3):
        sink.add({"__name__": "rw_dup", "i": str(i)}, T0 + 30 * MIN, 1.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=3)
    for i in range(3):
        sink.add({"__name__": "rw_dup", "i": str(i)}, T0 + 30 * MIN, 2.0)  # a different value: rejected
        for m in (31, 32, 33):
            sink.add({"__name__": "rw_dup", "i": str(i)}, T0 + m * MIN, float(m))
    caplog.set_level("WARNING", logger="truesli.remote_write")
    report = sink.flush()
    assert (report.samples_sent, report.dropped, report.last_error) == (
        9, {"rejected_4xx": 3}, "HTTP 400: duplicate sample for timestamp")
    assert [r.getMessage() for r in caplog.records] == [
        "remote write: 3 samples dropped (rejected_4xx): HTTP 400: duplicate sample for timestamp; "
        f"first: {{'__name__': 'rw_dup', 'i': '0'}} @{T0 + 30 * MIN}"]
    assert prometheus.query_range_vector("rw_dup", T0 + 33 * MIN) == {
        key("rw_dup", i=str(i)): [(T0 + m * MIN, 1.0 if m == 30 else float(m)) for m in (30, 31, 32, 33)]
        for i in range(3)}


def test_victoria_metrics_accepts_the_batch_prometheus_rejects(victoria_metrics: VictoriaMetrics) -> None:
    sink = fast_sink(victoria_metrics.write_url)
    _split_case(sink)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=21)
    assert sum(len(v) for v in victoria_metrics.export("rw_split").values()) == 21


def test_prometheus_too_old_sample_dropped_after_retry_cap(prometheus: Prometheus) -> None:
    sleeps = Sleeps()
    sink = fast_sink(prometheus.write_url, sleeps, max_retries=3)
    sink.add({"__name__": "rw_too_old"}, T0 + 20 * MIN, 1.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=1)
    sink.add({"__name__": "rw_too_old"}, T0 - 31 * DAY, 5.0)  # older than the 30-day window
    assert sink.flush() == DeliveryReport(requests=4, retries=3, dropped={"retries_exhausted": 1},
                                          last_error="HTTP 500: too old sample")
    assert sleeps == [0.001, 0.002, 0.004]  # exponential backoff from min_backoff_s, capped at max_backoff_s
    # A 500 fails the whole batch: good samples sharing a request with a too-old one are dropped too.
    sink.add({"__name__": "rw_too_old"}, T0 + 21 * MIN, 2.0)
    sink.add({"__name__": "rw_too_old_2"}, T0 - 40 * DAY, 5.0)
    assert sink.flush() == DeliveryReport(requests=4, retries=3, dropped={"retries_exhausted": 2},
                                          last_error="HTTP 500: too old sample")
    # The sink is not stuck: the next flush delivers.
    sink.add({"__name__": "rw_too_old"}, T0 + 22 * MIN, 3.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=1)
    assert prometheus.query_range_vector("rw_too_old", T0 + 22 * MIN) == {
        key("rw_too_old"): [(T0 + 20 * MIN, 1.0), (T0 + 22 * MIN, 3.0)]}
    assert sink.dropped_total == {"retries_exhausted": 3}
    assert (sink.requests_total, sink.retries_total, sink.samples_sent_total) == (10, 6, 2)


def test_victoria_metrics_silently_drops_far_future_samples(victoria_metrics: VictoriaMetrics) -> None:
    """Receiver-side loss the sink cannot see: VictoriaMetrics answers 204 for a sample >2 days ahead
    and does not store it. (Never sent to Prometheus: it would accept it and move its head.)"""
    sink = fast_sink(victoria_metrics.write_url)
    sink.add({"__name__": "rw_vm_future"}, int(time.time() * 1000) + 3 * DAY, 1.0)
    sink.add({"__name__": "rw_vm_future"}, T0, 2.0)
    assert sink.flush() == DeliveryReport(requests=1, samples_sent=2)
    assert victoria_metrics.export("rw_vm_future") == {key("rw_vm_future"): [(T0, 2.0)]}
