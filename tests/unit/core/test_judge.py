"""good/bad per SLO: availability by status set, latency by an inclusive threshold."""

from __future__ import annotations

from streams.config import SLOConfig
from streams.core.judge import BAD, GOOD, SKIP, build_judge
from streams.core.model import WindowCounter
from tests.unit.helpers import T0_MS, at, cfg, req, run

START = T0_MS
END = T0_MS + 60_000


def slo(**kw) -> SLOConfig:
    base = {"name": "s", "kind": "availability", "objective": 0.99}
    base.update(kw)
    return SLOConfig(**base)


def one_journey(*slos: dict, **sections) -> object:
    return cfg(journeys=[{"name": "shop", "slos": list(slos)}], exclusions=[],
               windows={"allowed_lateness_s": 0}, **sections)


AVAIL = {"name": "availability", "kind": "availability", "objective": 0.999}
LATENCY = {"name": "latency", "kind": "latency", "objective": 0.99, "threshold_ms": 300}


# -- the judge itself -------------------------------------------------------------------------------------

def test_availability_default_bad_is_5xx():
    j = build_judge(slo())
    assert [j.judge(s, 10.0) for s in (200, 204, 301, 404, 429, 499, 500, 503, 599, 600, 0)] == \
        [GOOD, GOOD, GOOD, GOOD, GOOD, GOOD, BAD, BAD, BAD, GOOD, GOOD]


def test_availability_ignores_duration():
    j = build_judge(slo())
    assert (j.judge(200, None), j.judge(500, None), j.judge(200, 1e9)) == (GOOD, BAD, GOOD)


def test_custom_bad_statuses_class_plus_code():
    j = build_judge(slo(bad_statuses=["5xx", 429]))
    assert [j.judge(s, None) for s in (200, 404, 428, 429, 430, 500, 599)] == \
        [GOOD, GOOD, GOOD, BAD, GOOD, BAD, BAD]


def test_custom_bad_statuses_range():
    j = build_judge(slo(bad_statuses=["500-503"]))
    assert [j.judge(s, None) for s in (499, 500, 501, 502, 503, 504, 599)] == \
        [GOOD, BAD, BAD, BAD, BAD, GOOD, GOOD]


def test_custom_bad_statuses_as_strings():
    j = build_judge(slo(bad_statuses=["502", "504"]))
    assert [j.judge(s, None) for s in (500, 502, 503, 504)] == [GOOD, BAD, GOOD, BAD]


def test_latency_threshold_is_inclusive_and_no_duration_is_skipped():
    j = build_judge(slo(kind="latency", threshold_ms=300))
    assert [j.judge(200, d) for d in (0.0, 299.999, 300.0, 300.001, 5000.0)] == [GOOD, GOOD, GOOD, BAD, BAD]
    assert j.judge(200, None) == SKIP
    assert j.judge(500, 10.0) == GOOD  # latency judges time only; availability judges status


# -- through the pipeline ---------------------------------------------------------------------------------

def test_availability_and_latency_counters_of_one_journey():
    batch = [
        req(ts=at(1), status=200, duration_ms=100),
        req(ts=at(2), status=200, duration_ms=300),     # exactly the threshold: good
        req(ts=at(3), status=200, duration_ms=301),
        req(ts=at(4), status=500, duration_ms=50),
        req(ts=at(5), status=200, duration_ms=None),    # cannot be judged for latency
        req(ts=at(6), status=503, duration_ms=None),
    ]
    p, out = run(one_journey(AVAIL, LATENCY), batch)
    assert out.tally.counted == 6
    assert p.flush().counters == [
        # networks: requests bad on any SLO (the 301 ms, the 500 and the 503) by client /24
        WindowCounter("shop", "availability", START, END, good=4, total=6, raw_good=4, raw_total=6,
                      networks={"11.0.0.0/24": 3}),
        WindowCounter("shop", "latency", START, END, good=3, total=4, raw_good=3, raw_total=4,
                      skipped={"no_duration": 2}, networks={"11.0.0.0/24": 3}),
    ]


def test_custom_bad_statuses_through_the_pipeline():
    config = one_journey({"name": "availability", "kind": "availability", "objective": 0.99,
                          "bad_statuses": ["5xx", 429]},
                         {"name": "core", "kind": "availability", "objective": 0.99,
                          "bad_statuses": ["500-503"]},
                         filters={"rate_limited": {"status_429": False}})
    batch = [req(ts=at(i + 1), status=s) for i, s in enumerate((200, 429, 500, 503, 504, 404))]
    p, _ = run(config, batch)
    assert [(c.slo, c.good, c.total) for c in p.flush().counters] == [("availability", 2, 6), ("core", 4, 6)]


def test_a_429_dropped_by_the_rate_limited_filter_is_not_in_the_cleaned_total():
    config = one_journey({"name": "availability", "kind": "availability", "objective": 0.99,
                          "bad_statuses": ["5xx", 429]})
    p, out = run(config, [req(ts=at(1), status=429), req(ts=at(2), status=200)])
    assert out.tally.filtered == {"rate_limited": 1}
    assert p.flush().counters == [
        WindowCounter("shop", "availability", START, END, good=1, total=1, raw_good=1, raw_total=2,
                      filtered={"rate_limited": 1}, networks={"11.0.0.0/24": 1})]


def test_only_no_duration_records_give_latency_total_zero():
    p, _ = run(one_journey(AVAIL, LATENCY), [req(ts=at(1), duration_ms=None), req(ts=at(2), duration_ms=None)])
    avail, lat = p.flush().counters
    assert (avail.good, avail.total, avail.skipped) == (2, 2, {})
    assert (lat.good, lat.total, lat.raw_total, lat.skipped) == (0, 0, 0, {"no_duration": 2})


def test_duration_in_seconds_is_converted_before_judging():
    config = one_journey(LATENCY, input={"duration_unit": "s"})
    p, _ = run(config, [req(ts=at(1), duration_ms=0.3), req(ts=at(2), duration_ms=0.31)])
    (lat,) = p.flush().counters
    assert (lat.good, lat.total) == (1, 2)
