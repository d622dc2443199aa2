"""Event-time tumbling windows: watermark, flush, empty windows, lateness, idle close, partition merge."""

from __future__ import annotations

from streams.core.merge import CounterBook
from streams.core.pipeline import Pipeline
from streams.core.model import WindowCounter
from tests.unit.helpers import GOOGLEBOT, T0_MS, at, cfg, req, run, why

AVAIL = {"name": "availability", "kind": "availability", "objective": 0.999}
LATENCY = {"name": "latency", "kind": "latency", "objective": 0.99, "threshold_ms": 200}


def W(s: int) -> int:
    """Start (epoch ms) of the 60 s window ``s`` seconds after T0."""
    return T0_MS + s * 1000


def wc(journey: str, slo: str, start_s: int, **kw) -> WindowCounter:
    return WindowCounter(journey, slo, W(start_s), W(start_s + 60), **kw)


def config(journeys=None, **windows):
    data = {"exclusions": [], "windows": {"size_s": 60, **windows}}
    data["journeys"] = journeys or [{"name": "all", "slos": [AVAIL]}]
    return cfg(**data)


def two_journeys(**windows):
    return config([{"name": "api", "match": {"path_prefixes": ["/api/"]}, "slos": [AVAIL]},
                   {"name": "web", "slos": [AVAIL]}], **windows)


def summary(counters) -> list[tuple]:
    return [((c.window_start_ms - T0_MS) // 1000, c.journey, c.slo, c.good, c.total, c.late, c.revision)
            for c in counters]


# -- counting ---------------------------------------------------------------------------------------------

def test_counters_per_journey_slo_and_window():
    cfg_ = config([{"name": "all", "slos": [AVAIL, LATENCY]}], allowed_lateness_s=0)
    batch = [
        req(ts=at(1), status=200, duration_ms=50),
        req(ts=at(2), status=500, duration_ms=50),
        req(ts=at(3), status=200, duration_ms=250),
        req(ts=at(4), status=200, duration_ms=50, ua=GOOGLEBOT),
        req(ts=at(5), status=500, duration_ms=50, ua=GOOGLEBOT),
        req(ts=at(6), status=200, duration_ms=50, synthetic=True),
        req(ts=at(59.999), status=200, duration_ms=10),
        req(ts=at(60), status=200, duration_ms=10),
    ]
    p, out = run(cfg_, batch)
    assert out.tally.counted == 5
    assert out.tally.filtered == {"crawler": 2, "synthetic": 1}
    assert out.counters == [
        wc("all", "availability", 0, good=3, total=4, raw_good=5, raw_total=7,
           filtered={"crawler": 2, "synthetic": 1}, networks={"11.0.0.0/24": 5}),
        wc("all", "latency", 0, good=3, total=4, raw_good=6, raw_total=7,
           filtered={"crawler": 2, "synthetic": 1}, networks={"11.0.0.0/24": 5}),
    ]
    assert p.flush().counters == [wc("all", "availability", 60, good=1, total=1, raw_good=1, raw_total=1),
                                  wc("all", "latency", 60, good=1, total=1, raw_good=1, raw_total=1)]


def test_window_boundaries_are_half_open():
    p, _ = run(config(), [req(ts=at(0)), req(ts=at(60) - 1), req(ts=at(60)), req(ts=at(120) - 1)])
    assert summary(p.flush().counters) == [(0, "all", "availability", 2, 2, 0, 0),
                                           (60, "all", "availability", 2, 2, 0, 0)]


def test_rfc3339_and_epoch_timestamps_land_in_the_same_window():
    p, _ = run(config(), [req(ts="2026-01-01T00:00:30Z"), req(ts=at(45)), req(ts="2026-01-01T00:01:00.000Z")])
    assert summary(p.flush().counters) == [(0, "all", "availability", 2, 2, 0, 0),
                                           (60, "all", "availability", 1, 1, 0, 0)]


# -- watermark --------------------------------------------------------------------------------------------

def test_window_is_not_emitted_until_the_watermark_passes_its_end():
    p = Pipeline(config(allowed_lateness_s=120))
    assert p.process([req(ts=at(10))]).counters == []
    assert p.process([req(ts=at(180) - 1)]).counters == []   # watermark 59.999 s: window [0, 60) still open
    out = p.process([req(ts=at(180))])                      # watermark 60 s: closes [0, 60)
    assert summary(out.counters) == [(0, "all", "availability", 1, 1, 0, 0)]
    out = p.process([req(ts=at(240))])                      # watermark 120 s: closes [60, 120), empty
    assert out.counters == [wc("all", "availability", 60)]
    assert summary(p.flush().counters) == [(120, "all", "availability", 1, 1, 0, 0),
                                           (180, "all", "availability", 1, 1, 0, 0),
                                           (240, "all", "availability", 1, 1, 0, 0)]
    assert p.flush().counters == []


def test_watermark_is_driven_by_the_max_timestamp_not_the_last():
    p = Pipeline(config(allowed_lateness_s=0))
    out = p.process([req(ts=at(130)), req(ts=at(10))])  # out of order inside one batch
    assert summary(out.counters) == [(0, "all", "availability", 1, 1, 0, 0),
                                     (60, "all", "availability", 0, 0, 0, 0)]
    assert out.tally.late == 0


# -- empty windows (never NaN) ------------------------------------------------------------------------------

def test_emit_empty_gives_total_zero_for_a_quiet_journey_between_busy_windows():
    batch = [req(ts=at(10), path="/"), req(ts=at(20), path="/api/x"),
             req(ts=at(70), path="/"),
             req(ts=at(130), path="/"), req(ts=at(140), path="/api/y", status=503)]
    p, out = run(two_journeys(allowed_lateness_s=0), batch)
    counters = out.counters + p.flush().counters
    assert summary(counters) == [
        (0, "api", "availability", 1, 1, 0, 0), (0, "web", "availability", 1, 1, 0, 0),
        (60, "api", "availability", 0, 0, 0, 0), (60, "web", "availability", 1, 1, 0, 0),
        (120, "api", "availability", 0, 1, 0, 0), (120, "web", "availability", 1, 1, 0, 0),
    ]
    quiet = counters[2]
    assert quiet == wc("api", "availability", 60)
    assert (quiet.raw_total, quiet.filtered, quiet.skipped) == (0, {}, {})


def test_emit_empty_fills_a_gap_with_no_traffic_at_all():
    p, out = run(two_journeys(allowed_lateness_s=0), [req(ts=at(10)), req(ts=at(190))])
    assert summary(out.counters) == [
        (0, "api", "availability", 0, 0, 0, 0), (0, "web", "availability", 1, 1, 0, 0),
        (60, "api", "availability", 0, 0, 0, 0), (60, "web", "availability", 0, 0, 0, 0),
        (120, "api", "availability", 0, 0, 0, 0), (120, "web", "availability", 0, 0, 0, 0),
    ]


def test_without_emit_empty_only_windows_with_data_are_emitted():
    batch = [req(ts=at(10), path="/"), req(ts=at(20), path="/api/x"), req(ts=at(70), path="/"),
             req(ts=at(250), path="/api/z")]
    p, out = run(two_journeys(allowed_lateness_s=0, emit_empty=False), batch)
    counters = out.counters + p.flush().counters
    assert summary(counters) == [
        (0, "api", "availability", 1, 1, 0, 0), (0, "web", "availability", 1, 1, 0, 0),
        (60, "web", "availability", 1, 1, 0, 0),
        (240, "api", "availability", 1, 1, 0, 0),
    ]


def test_a_window_of_only_filtered_traffic_has_total_zero_and_raw_counts():
    p, _ = run(config(allowed_lateness_s=0), [req(ts=at(1), ua=GOOGLEBOT), req(ts=at(2), ua=GOOGLEBOT, status=500)])
    assert p.flush().counters == [wc("all", "availability", 0, good=0, total=0, raw_good=1, raw_total=2,
                                     filtered={"crawler": 2}, networks={"11.0.0.0/24": 2})]


# -- lateness -----------------------------------------------------------------------------------------------

def test_late_record_reemits_its_window_with_the_next_revision():
    p = Pipeline(config(allowed_lateness_s=0, retain_closed_s=3600), collect_verdicts=True)
    first = p.process([req(ts=at(10)), req(ts=at(70))])
    (rev0,) = first.counters
    assert rev0 == wc("all", "availability", 0, good=1, total=1, raw_good=1, raw_total=1)
    late = p.process([req(ts=at(20), status=500)])
    assert why(late) == [("counted", None, "journeys[0]")]
    assert late.tally.late == 1
    assert late.counters == [wc("all", "availability", 0, good=1, total=2, raw_good=1, raw_total=2,
                                late=1, revision=1, networks={"11.0.0.0/24": 1})]
    assert (rev0.total, rev0.revision) == (1, 0)  # an emitted counter is not mutated afterwards
    again = p.process([req(ts=at(30), ua=GOOGLEBOT)])
    assert again.counters == [wc("all", "availability", 0, good=1, total=2, raw_good=2, raw_total=3,
                                 filtered={"crawler": 1}, late=2, revision=2, networks={"11.0.0.0/24": 2})]
    assert p.tally.late == 2
    book = CounterBook()
    book.add(first.counters + late.counters + again.counters + p.flush().counters)
    assert summary(book.merged()) == [(0, "all", "availability", 1, 2, 2, 2),
                                      (60, "all", "availability", 1, 1, 0, 0)]


def test_late_records_into_several_closed_windows_reemit_each_once():
    p = Pipeline(config(allowed_lateness_s=0))
    p.process([req(ts=at(10)), req(ts=at(70)), req(ts=at(200))])
    out = p.process([req(ts=at(75)), req(ts=at(15)), req(ts=at(16))])
    assert summary(out.counters) == [(0, "all", "availability", 3, 3, 2, 1),
                                     (60, "all", "availability", 2, 2, 1, 1)]
    assert out.tally.late == 3


def test_record_older_than_retained_windows_is_dead_lettered_too_late():
    p = Pipeline(config(allowed_lateness_s=0, retain_closed_s=60), collect_verdicts=True)
    first = p.process([req(ts=at(10)), req(ts=at(200))])
    assert [c.window_start_ms for c in first.counters] == [W(0), W(60), W(120)]
    out = p.process([req(ts=at(120) - 1), req(ts=at(120)), req(ts=at(5))])
    assert why(out) == [("dead_letter", "too_late", None), ("counted", None, "journeys[0]"),
                        ("dead_letter", "too_late", None)]
    assert [(d.reason, d.offset, d.ts_ms) for d in out.dead_letters] == [("too_late", 1, at(120) - 1),
                                                                        ("too_late", 3, at(5))]
    assert out.tally.dead_lettered == {"too_late": 2}
    assert (out.tally.consumed, out.tally.counted, out.tally.late) == (3, 1, 1)
    out.tally.check_conservation()
    assert out.counters == [wc("all", "availability", 120, good=1, total=1, raw_good=1, raw_total=1,
                               late=1, revision=1)]
    p.tally.check_conservation()
    assert p.tally.consumed == 5


def test_late_record_at_the_retention_edge_is_not_lost_when_retention_is_not_a_window_multiple():
    """retain_closed_s=90 with 60 s windows: closed through 180 s, a record at 100 s is 80 s old — within
    retention, so it is accepted as late. It must then add to window [60, 120) (revision 1, total 2), not
    restart that window from zero as a second revision 0 that replaces the first in the counter book."""
    p = Pipeline(config(allowed_lateness_s=0, retain_closed_s=90), collect_verdicts=True)
    first = p.process([req(ts=at(70)), req(ts=at(200))])
    assert summary(first.counters) == [(60, "all", "availability", 1, 1, 0, 0),
                                       (120, "all", "availability", 0, 0, 0, 0)]
    late = p.process([req(ts=at(100))])
    assert why(late) == [("counted", None, "journeys[0]")]
    assert summary(late.counters) == [(60, "all", "availability", 2, 2, 1, 1)]
    book = CounterBook()
    book.add(first.counters + late.counters + p.flush().counters)
    assert sum(m.total for m in book.merged()) == p.tally.counted == 3


# -- idle close ---------------------------------------------------------------------------------------------

def test_idle_stream_closes_windows_by_the_injected_clock():
    p = Pipeline(config(allowed_lateness_s=0, idle_timeout_s=30))
    assert p.process([req(ts=at(55))], now_ms=at(55)).counters == []
    assert p.process([], now_ms=at(65)).counters == []     # 10 s quiet: not idle yet, watermark stays
    out = p.process([], now_ms=at(86))                     # 31 s quiet: watermark moves to 86 s
    assert summary(out.counters) == [(0, "all", "availability", 1, 1, 0, 0)]
    assert p.process([], now_ms=at(90)).counters == []
    out = p.process([], now_ms=at(150))                    # watermark 150 s: [60, 120) closes empty
    assert out.counters == [wc("all", "availability", 60)]


def test_idle_advance_keeps_the_allowed_lateness():
    p = Pipeline(config(allowed_lateness_s=120, idle_timeout_s=30))
    p.process([req(ts=at(55))], now_ms=at(55))
    assert p.process([], now_ms=at(55 + 124)).counters == []   # watermark 55 + 124 − 120 = 59 s
    out = p.process([], now_ms=at(55 + 125))                   # watermark 60 s
    assert summary(out.counters) == [(0, "all", "availability", 1, 1, 0, 0)]


def test_next_close_is_when_the_idle_rule_emits_the_oldest_open_window():
    p = Pipeline(config(allowed_lateness_s=120, idle_timeout_s=30))
    w = p.windows
    assert w.next_close_ms(at(0)) is None                        # nothing open
    p.process([req(ts=at(55))], now_ms=at(55))
    assert w.next_close_ms(at(55)) == at(180)                    # 55 + max(30, 60 − 55 + 120)
    assert w.next_close_ms(at(100)) == at(180)                   # the clock reading does not move it
    assert p.process([], now_ms=at(179)).counters == []
    assert summary(p.process([], now_ms=at(180)).counters) == [(0, "all", "availability", 1, 1, 0, 0)]
    assert w.next_close_ms(at(181)) is None
    q = Pipeline(config(allowed_lateness_s=0, idle_timeout_s=30))
    q.process([req(ts=at(5))], now_ms=at(5))
    q.process([req(ts=at(50))], now_ms=at(50))
    assert q.windows.next_close_ms(at(51)) == at(80)             # lateness 0, 10 s to the end: idle 30 s decides
    assert q.process([], now_ms=at(79)).counters == []
    assert summary(q.process([], now_ms=at(80)).counters) == [(0, "all", "availability", 2, 2, 0, 0)]


def test_new_records_end_the_idle_period():
    p = Pipeline(config(allowed_lateness_s=0, idle_timeout_s=30))
    p.process([req(ts=at(55))], now_ms=at(55))
    p.process([req(ts=at(56))], now_ms=at(80))                 # a record 25 s later restarts the idle clock
    assert p.process([], now_ms=at(100)).counters == []        # 20 s since the last record
    out = p.process([], now_ms=at(110))                         # 30 s: watermark 56 + 30 = 86 s
    assert summary(out.counters) == [(0, "all", "availability", 2, 2, 0, 0)]


def test_no_clock_no_idle_close():
    p = Pipeline(config(allowed_lateness_s=0, idle_timeout_s=30))
    p.process([req(ts=at(55))])
    assert p.process([]).counters == []
    assert p.process([], now_ms=at(10_000)).counters == []


def test_idle_clock_on_an_empty_pipeline_emits_nothing():
    p = Pipeline(config(allowed_lateness_s=0, idle_timeout_s=30))
    assert p.process([], now_ms=at(0)).counters == []
    assert p.process([], now_ms=at(1000)).counters == []
    assert p.flush().counters == []


# -- partitions and the counter book -------------------------------------------------------------------------

def test_counter_book_merges_partitions_and_keeps_the_latest_revision():
    c = config([{"name": "all", "slos": [AVAIL, LATENCY]}], allowed_lateness_s=0)
    p0, p1 = Pipeline(c, partition=0), Pipeline(c, partition=1)
    a = p0.process([req(ts=at(1), ip="11.0.0.1", duration_ms=100), req(ts=at(2), ip="11.0.0.1", status=500),
                    req(ts=at(3), ip="11.0.0.1", ua=GOOGLEBOT), req(ts=at(61), ip="11.0.0.1")])
    b = p1.process([req(ts=at(4), ip="11.0.0.2", duration_ms=900), req(ts=at(5), ip="11.0.0.2", duration_ms=None),
                    req(ts=at(62), ip="11.0.0.2")])
    late = p0.process([req(ts=at(6), ip="11.0.0.1", status=503)])
    assert [c.key for c in a.counters] == [f"all|availability|{W(0)}|0", f"all|latency|{W(0)}|0"]
    assert [c.partition for c in b.counters] == [1, 1]
    assert [c.revision for c in late.counters] == [1, 1]

    book = CounterBook()
    # Delivery order must not matter: the newer revision arrives first here.
    book.add(late.counters)
    book.add(a.counters)
    book.add(b.counters)
    book.add(p0.flush().counters + p1.flush().counters)
    assert len(book) == 8
    # Merged revision = Σ (partial revision + 1) − 1 (core/merge.py): p0 at revision 1 + p1 at 0 → 2.
    assert book.merged() == [
        WindowCounter("all", "availability", W(0), W(60), good=3, total=5, raw_good=4, raw_total=6,
                      filtered={"crawler": 1}, late=1, revision=2, networks={"11.0.0.0/24": 4}),
        WindowCounter("all", "latency", W(0), W(60), good=3, total=4, raw_good=4, raw_total=5,
                      filtered={"crawler": 1}, skipped={"no_duration": 1}, late=1, revision=2,
                      networks={"11.0.0.0/24": 4}),  # the 500, the 503, the 900 ms one, the bot
        WindowCounter("all", "availability", W(60), W(120), good=2, total=2, raw_good=2, raw_total=2, revision=1),
        WindowCounter("all", "latency", W(60), W(120), good=2, total=2, raw_good=2, raw_total=2, revision=1),
    ]
    totals = book.totals()
    assert {k: (t.good, t.total, t.raw_good, t.raw_total, t.windows, t.filtered) for k, t in totals.items()} == {
        ("all", "availability"): (5, 7, 6, 8, 2, {"crawler": 1}),
        ("all", "latency"): (5, 6, 6, 7, 2, {"crawler": 1}),
    }


def test_counter_book_replaces_rather_than_adds_a_reemitted_key():
    book = CounterBook()
    book.add([wc("all", "availability", 0, good=1, total=1, revision=0)])
    book.add([wc("all", "availability", 0, good=1, total=2, late=1, revision=1)])
    book.add([wc("all", "availability", 0, good=1, total=1, revision=0)])  # a stale duplicate
    assert book.merged() == [wc("all", "availability", 0, good=1, total=2, late=1, revision=1)]


def test_partition_and_single_pipeline_give_the_same_merged_sli():
    batch = [req(ts=at(i * 7), ip=f"11.0.0.{i % 4}", status=500 if i % 5 == 0 else 200) for i in range(40)]
    c = config(allowed_lateness_s=0)
    whole = Pipeline(c)
    single = CounterBook()
    single.add(whole.process(batch).counters + whole.flush().counters)
    parts = [Pipeline(c, partition=k) for k in (0, 1)]
    split = CounterBook()
    for k, p in enumerate(parts):
        mine = [line for i, line in enumerate(batch) if (i % 4) % 2 == k]
        split.add(p.process(mine).counters + p.flush().counters)
    assert [m.sli_fields() for m in split.merged()] == [m.sli_fields() for m in single.merged()]
    assert sum(m.total for m in single.merged()) == 40
