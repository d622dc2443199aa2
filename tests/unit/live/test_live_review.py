"""The live worker's review (streams/live/review.py) driven as Stage B drives it — counters one window at a
time, the 2-second tick, then the idle tick — gives exactly the anomalies a finite run writes to
``--anomalies`` for the same records and user reports (ids and documents), sends the settled ones while
the stream flows and the rest once it is idle, and never sends an unchanged document twice.

Scenarios of streams/tools/scenarios.py on examples/truesli.yaml (see tests/unit/runs/test_user_pain.py
for why each raises what it raises)."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.core.detect.user_reports import ReportMapper, parse_user_report
from streams.live.detection import LiveDetection
from streams.runs.detection import detect, with_review
from streams.runs.embedded import run_embedded
from streams.tools.scenarios import HOUR, MINUTE, SCENARIOS, START_MS, scenario_reports, steady_traffic

NEW = ("sli_misses_user_pain", "sli_pain_unseen_by_users", "postmortem_required")


def _counters(config, records, tmp_path: Path):
    log = tmp_path / "records.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = run_embedded(config, [str(log)], now_ms=None)
    return result.book.merged(), result.abuse.finish()


def _embedded(config, counters, abuse, reports) -> dict[str, dict]:
    found = with_review(config, counters, detect(config, counters, [], abuse), reports)
    return {a.id: a.to_dict() for a in found.anomalies if a.type in NEW or a.type == "burn_spike"}


def _live(config, counters, reports, *, trailing_empty: int = 0):
    """(sent while flowing, sent at the idle tick), the review's and burn_spike anomalies only. Counters
    arrive window by window with a tick after each, as Stage B merges them; ``trailing_empty`` windows
    without traffic follow (a quiet worker's clock-closed windows)."""
    live = LiveDetection(config)
    live.review.min_interval_s = 0  # every tick reviews (the worker: at most once per window size)
    for r in reports or []:
        live.observe_report(r)
    flowing: list = []
    by_end: dict[int, list] = {}
    for c in counters:
        by_end.setdefault(c.window_end_ms, []).append(c)
    step = config.windows.size_s * 1000
    last = max(by_end)
    for k in range(1, trailing_empty + 1):
        by_end[last + k * step] = [c.__class__(journey=c.journey, slo=c.slo, window_start_ms=last + (k - 1) * step,
                                               window_end_ms=last + k * step, good=0, total=0, raw_good=0,
                                               raw_total=0) for c in by_end[last]]
    for end in sorted(by_end):
        for c in by_end[end]:
            flowing.extend(live.observe(c))
        flowing.extend(live.tick())
    live.last_input -= config.windows.idle_timeout_s + 1
    idle = live.tick()
    idle += live.tick()  # nothing new: nothing sent again
    keep = lambda found: [a for a in found if a.type in NEW or a.type == "burn_spike"]  # noqa: E731
    return keep(flowing), keep(idle), live


def _parse(config, docs):
    mapper = ReportMapper(config)
    return [parse_user_report(d, mapper) for d in docs]


def test_unnoticed_burn_and_unmeasured_pain_live_equal_embedded(example_config, tmp_path):
    # unnoticed-burn's traffic (checkout 2% errors 01:00–03:00) carries unmeasured-pain's too (no 5xx on
    # login); the reports of both: checkout's trickle, login's trickle and its 02:00 complaint spike.
    records, _ = SCENARIOS["unnoticed-burn"]()
    reports = _parse(example_config, scenario_reports("unnoticed-burn") + scenario_reports("unmeasured-pain"))
    counters, abuse = _counters(example_config, records, tmp_path)
    want = _embedded(example_config, counters, abuse, reports)
    assert sorted(i for i in want if not i.startswith("burn_spike")) == [
        "sli_misses_user_pain|login|-|-|2026-03-10T02:00:00.000Z|firing",
        "sli_pain_unseen_by_users|checkout|availability|-|2026-03-10T01:04:00.000Z|firing"]

    flowing, idle, live = _live(example_config, counters, reports, trailing_empty=3)
    sent = flowing + idle
    assert len({a.id for a in sent}) == len(sent)  # each document once
    assert {a.id: a.to_dict() for a in sent} == want
    # The spike 02:00–02:20 settles once every login SLO was judged 1 h past it; the checkout episode never
    # resolves (its 3-day ticket burn stays up), so its verdict waits for the idle tick and ends at the
    # last window with traffic (06:00), not at the trailing empty windows.
    assert [a.id for a in flowing if a.type in NEW] == ["sli_misses_user_pain|login|-|-|2026-03-10T02:00:00.000Z|firing"]
    [unseen] = [a for a in idle if a.type in NEW]
    assert (unseen.type, unseen.evidence["burn_s"]) == ("sli_pain_unseen_by_users", 17_760)
    assert live.fired[("sli_pain_unseen_by_users", "firing")] == 1
    assert live.reports == len(reports) == 16


def _checkout_only(per_minute: int):
    return lambda journey, t0: per_minute if journey == "checkout" else 0


def test_postmortem_of_a_resolved_episode_is_sent_while_the_stream_flows(example_config, tmp_path):
    # test_user_pain's quarter-of-the-budget incident (12:00–12:12, 108 errors of a 432-error budget), and
    # no user-report feed at all: the postmortem trigger does not need one.
    def error(journey, t0):
        return 0.9 if journey == "checkout" and START_MS + 12 * HOUR <= t0 < START_MS + 12 * HOUR + 12 * MINUTE else 0
    counters, abuse = _counters(example_config, list(steady_traffic(1440, rate=_checkout_only(10), error=error)),
                                tmp_path)
    want = _embedded(example_config, counters, abuse, None)
    [pm] = [d for d in want.values() if d["type"] == "postmortem_required"]
    assert pm["evidence"]["budget_share"] == 0.25
    flowing, idle, _ = _live(example_config, counters, None)
    assert [a.type for a in flowing if a.type in NEW] == ["postmortem_required"]
    assert [a.id for a in idle] == []
    assert {a.id: a.to_dict() for a in flowing} == want


def test_an_open_episode_judged_at_idle_is_sent_again_when_it_goes_on(example_config, tmp_path):
    # The history stops at 04:00 (checkout still burning), the worker idles, then 05:00 more arrives:
    # the verdict keeps its id and is re-sent with the longer span (sli.anomalies is keyed by the id).
    records, _ = SCENARIOS["unnoticed-burn"]()
    reports = _parse(example_config, scenario_reports("unnoticed-burn"))
    counters, _ = _counters(example_config, records, tmp_path)
    live = LiveDetection(example_config)
    live.review.min_interval_s = 0
    for r in reports:
        live.observe_report(r)
    sent = []
    for cut in (START_MS + 4 * HOUR, START_MS + 5 * HOUR):
        for c in counters:
            if cut - HOUR < c.window_end_ms <= cut or (cut == START_MS + 4 * HOUR and c.window_end_ms <= cut):
                sent.extend(live.observe(c))
        sent.extend(live.tick())
        live.last_input -= example_config.windows.idle_timeout_s + 1
        sent.extend(live.tick())
    unseen = [a for a in sent if a.type == "sli_pain_unseen_by_users"]
    assert [(a.id, a.evidence["burn_s"]) for a in unseen] == [
        ("sli_pain_unseen_by_users|checkout|availability|-|2026-03-10T01:04:00.000Z|firing", 2 * 3600 + 56 * 60),
        ("sli_pain_unseen_by_users|checkout|availability|-|2026-03-10T01:04:00.000Z|firing", 3 * 3600 + 56 * 60)]


def test_while_flowing_the_review_runs_at_most_once_per_interval_and_always_at_idle(example_config, tmp_path):
    records, _ = SCENARIOS["unnoticed-burn"]()
    counters, _ = _counters(example_config, records[:20_000], tmp_path)
    live = LiveDetection(example_config)
    live.review.min_interval_s = 3600.0
    for c in counters:
        live.observe(c)
        live.tick()
    assert live.review.stats.runs == 1  # the first flowing tick; the rest fall inside the interval
    live.last_input -= example_config.windows.idle_timeout_s + 1
    live.tick()
    live.tick()  # idle and nothing new: not again
    assert live.review.stats.runs == 2
