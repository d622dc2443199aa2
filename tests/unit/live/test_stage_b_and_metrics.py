"""Stage B's merge (pure) and the worker's /metrics exposition (bounded labels, conservation)."""

from __future__ import annotations

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.core.pipeline import Tally
from streams.core.timeparse import parse_rfc3339
from streams.live.metrics import render
from streams.live.stage_a import StageAStats
from streams.live.stage_b import StageB, merge_partials, merged_key
from streams.sinks.serialize import counter_to_dict


def partial(partition, good, total, raw_good, raw_total, filtered, revision=0, late=0):
    return {"journey": "checkout", "slo": "availability", "window_start": "2026-01-01T00:00:00.000Z",
            "window_end": "2026-01-01T00:01:00.000Z", "good": good, "total": total, "raw_good": raw_good,
            "raw_total": raw_total, "filtered": filtered, "skipped": {}, "late": late,
            "networks": {"203.0.113.0/24": 3, f"198.51.{partition}.0/24": 1},
            "emitted_at": "2026-01-01T00:02:00.000Z", "revision": revision, "partition": partition}


def test_merge_sums_partials_of_every_partition():
    a = partial(0, 9, 10, 19, 20, {"bot_ua": 10})
    b = partial(1, 4, 5, 6, 8, {"bot_ua": 1, "scanner": 2}, revision=2, late=1)
    assert merged_key(a) == merged_key(b) == "checkout|availability|2026-01-01T00:00:00.000Z"
    emitted_at = parse_rfc3339("2026-01-01T00:05:00.000Z")
    assert counter_to_dict(merge_partials([a, b]), emitted_at) == {
        "journey": "checkout", "slo": "availability", "window_start": "2026-01-01T00:00:00.000Z",
        "window_end": "2026-01-01T00:01:00.000Z", "good": 13, "total": 15, "raw_good": 25, "raw_total": 28,
        "filtered": {"bot_ua": 11, "scanner": 2}, "skipped": {}, "late": 1,
        "networks": {"203.0.113.0/24": 6, "198.51.0.0/24": 1, "198.51.1.0/24": 1},
        "emitted_at": "2026-01-01T00:05:00.000Z", "revision": 3}


def test_merge_is_order_independent():
    parts = [partial(p, p, p + 1, p + 2, p + 3, {"bot_ua": p}) for p in range(4)]
    assert merge_partials(parts) == merge_partials(list(reversed(parts)))


def _stage_b(table: dict) -> StageB:
    from collections import defaultdict

    from streams.config import Config

    config = Config.model_validate({"detection": {"enabled": False}})
    return StageB(config, defaultdict(dict, table), partials_partitions=1, assignment=lambda: {0})


def test_a_run_of_partials_ends_where_one_at_a_time_ends_once_per_key():
    """accept_many: per merged key touched, the merged counter and the table entry that accepting the
    messages one by one ends with (later revisions of a partition replace earlier ones), in order of
    first touch; a malformed message is skipped and counted."""
    other = dict(partial(0, 1, 1, 1, 1, {}), window_start="2026-01-01T00:01:00.000Z",
                 window_end="2026-01-01T00:02:00.000Z")
    msgs = [orjson.dumps(m) for m in (partial(0, 9, 10, 19, 20, {"bot_ua": 10}), other,
                                     partial(1, 4, 5, 6, 8, {"scanner": 2})) ]
    msgs += [b"{not json", orjson.dumps(partial(0, 10, 11, 20, 21, {"bot_ua": 10}, revision=1))]
    one = _stage_b({})
    singles = [one.accept(m) for m in msgs]
    assert singles[3] is None and one.stats.skipped == 1
    run = _stage_b({})
    got = run.accept_many(msgs)
    assert [k for k, _ in got] == ["checkout|availability|2026-01-01T00:00:00.000Z",
                                   "checkout|availability|2026-01-01T00:01:00.000Z"]
    assert got[0][1] == singles[4][1] and got[1][1] == singles[1][1]
    assert (got[0][1].good, got[0][1].total, got[0][1].revision) == (14, 16, 2)
    assert dict(run.table) == dict(one.table) and run.stats.skipped == 1


def test_metrics_expose_tallies_with_only_configured_reason_labels():
    stats = StageAStats()
    stats.tallies = {0: Tally(10, 4, {"bot_ua": 3}, {"health": 1}, 1, {"malformed_json": 1}, 0),
                     1: Tally(5, 2, {"bot_ua": 1, "scanner": 1}, {}, 0, {"oversized": 1}, 1)}
    stats.lag = {0: 7, 1: 0}
    stats.remote_write_dropped = {"rejected_4xx": 2}
    families = {f.name: f for f in text_string_to_metric_families(render(stats).decode())}
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert value[("truesli_consumed_total", ())] == 15
    assert value[("truesli_counted_total", ())] == 6
    assert value[("truesli_filtered_total", (("reason", "bot_ua"),))] == 4
    assert value[("truesli_filtered_total", (("reason", "scanner"),))] == 1
    assert value[("truesli_excluded_total", (("reason", "health"),))] == 1
    assert value[("truesli_dead_lettered_total", (("reason", "malformed_json"),))] == 1
    assert value[("truesli_consumer_lag", (("partition", "0"),))] == 7
    assert value[("truesli_remote_write_dropped_total", (("reason", "rejected_4xx"),))] == 2
    consumed = value[("truesli_consumed_total", ())]
    accounted = sum(v for (name, _), v in value.items()
                    if name in ("truesli_counted_total", "truesli_unmatched_total", "truesli_filtered_total",
                                "truesli_excluded_total", "truesli_dead_lettered_total"))
    assert consumed == accounted
    label_names = {k for (_, labels) in value for k, _ in labels}
    assert label_names == {"reason", "partition"}
