"""The SLI checked against user pain (issue 19): the scenarios with user reports of
streams/tools/scenarios.py run through the embedded core, the detectors and the review
(streams/core/detect/review.py), asserting exact agreement values and anomalies; plus the postmortem trigger and
the recommended objective on histories whose numbers are derived by hand below.

examples/truesli.yaml: checkout availability 99.9% (budget 0.1%), search availability 99.5% (0.5%); MWMBR
page 14.4× over 1h and 5m. Agreement defaults: 5-minute buckets, spike ≥ max(3, 3 × median) reports,
matching window 1 h, unseen burn ≥ 30 min.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.core.detect.agreement import spearman
from streams.core.detect.user_reports import ReportMapper, parse_user_report
from streams.runs.detection import detect, with_review
from streams.runs.embedded import run_embedded
from streams.tools.scenarios import DAY, HOUR, MINUTE, SCENARIOS, START_MS, scenario_reports, steady_traffic
from tests.unit.runs.test_detect_scenarios import CA, T


def _review(config, records, reports, tmp_path: Path, name: str):
    log = tmp_path / f"{name}.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = run_embedded(config, [str(log)], now_ms=None)
    counters = result.book.merged()
    mapper = ReportMapper(config)
    parsed = None if reports is None else [parse_user_report(d, mapper) for d in reports]
    plain = detect(config, counters, [], result.abuse.finish())
    before = [a.brief() for a in plain.anomalies]
    found = with_review(config, counters, plain, parsed)
    return found, before


def _scenario(config, name, tmp_path):
    records, _ = SCENARIOS[name]()
    return _review(config, records, scenario_reports(name), tmp_path, name)


def _agreement(found, journey, slo):
    return {a.basis: a for a in found.review.agreements if (a.journey, a.slo) == (journey, slo)}


NEW = ("sli_misses_user_pain", "sli_pain_unseen_by_users", "postmortem_required")


def test_reported_outage_agrees_on_both_sides_and_raises_no_pain_verdict(example_config, tmp_path):
    found, _ = _scenario(example_config, "reported-outage", tmp_path)
    by = _agreement(found, *CA)
    for basis in ("cleaned", "raw"):  # no bots in this scenario: raw = cleaned
        a = by[basis]
        assert (a.burn_episodes, a.report_spikes, a.burns_matched, a.spikes_matched) == (1, 1, 1, 1)
        assert (a.precision, a.recall) == (1.0, 1.0)
    # Buckets 03:00 (40 RUM + 1 ticket) and 03:05 (25 RUM + 5 tickets) ≥ 3: one spike 03:00–03:10.
    assert [a.type for a in found.anomalies if a.type in NEW] == []


def test_bot_diluted_outage_agrees_with_users_when_cleaned_and_not_when_raw(example_config, tmp_path):
    found, _ = _scenario(example_config, "bot-diluted-outage", tmp_path)
    by = _agreement(found, "search", "availability")
    clean, raw = by["cleaned"], by["raw"]
    # Cleaned: 300 real-user errors in an hour of 3,600 requests = 16.7× the 0.5% budget → page; the report
    # spike 03:00–03:10 falls inside that burn episode.
    assert (clean.burn_episodes, clean.report_spikes, clean.precision, clean.recall) == (1, 1, 1.0, 1.0)
    # Raw: those 300 errors (+ ~30 of the crawler) among 39,600 requests an hour are 1.7×: no burn
    # episode at all, so the spike users reported is missed.
    assert (raw.burn_episodes, raw.report_spikes, raw.precision, raw.recall) == (0, 1, None, 0.0)
    # The crawler's own 503s scatter the raw errors over every bucket, reports stay at zero there.
    assert (clean.spearman, clean.lag_buckets) == (0.594068, 0)
    assert (raw.spearman, raw.lag_buckets) == (0.280142, 0)
    assert [a.type for a in found.anomalies if a.type in NEW] == []


def test_unnoticed_burn_raises_sli_pain_unseen_by_users(example_config, tmp_path):
    found, before = _scenario(example_config, "unnoticed-burn", tmp_path)
    # The burn's ticket fired at 01:04 and was still open at the end of the history (06:00): 4 h 56 min of
    # burn; the only reports are the usual one ticket every two hours (below the spike threshold of 3).
    assert [a.brief() for a in found.anomalies if a.type in NEW] == [
        ("sli_pain_unseen_by_users", "firing", *CA, "info", T("10T01:04"), T("10T06:00"))]
    unseen = next(a for a in found.anomalies if a.type == "sli_pain_unseen_by_users")
    assert unseen.evidence == {"burn_s": 17_760, "report_spikes": 0, "matching_window_s": 3600}
    # The detectors' own anomalies are untouched by the review.
    assert [a.brief() for a in found.anomalies if a.type not in NEW] == before
    # Exported for remote-write: defined values only (recall over zero spikes has no sample).
    from streams.sinks.detection_series import gauge_samples

    pain = sorted((labels["__name__"], labels.get("sli"), value) for labels, _, value in gauge_samples(found.gauges)
                  if labels["__name__"].startswith("truesli_slo_user_pain") and labels["slo"] == "availability")
    assert pain == [("truesli_slo_user_pain_precision", "cleaned", 0.0), ("truesli_slo_user_pain_precision", "raw", 0.0),
                    ("truesli_slo_user_pain_spearman", "cleaned", 0.0), ("truesli_slo_user_pain_spearman", "raw", 0.0)]


def test_reported_pain_without_a_burn_raises_sli_misses_user_pain(example_config, tmp_path):
    found, _ = _scenario(example_config, "unmeasured-pain", tmp_path)
    # 2 complaints every 2 minutes 02:00–02:18: buckets 02:00, 02:05, 02:10, 02:15 hold 6, 4, 6, 4 ≥ 3.
    assert [a.brief() for a in found.anomalies if a.type in NEW] == [
        ("sli_misses_user_pain", "firing", "login", None, "ticket", T("10T02:00"), T("10T02:20"))]
    missed = next(a for a in found.anomalies if a.type == "sli_misses_user_pain")
    assert missed.evidence == {"reports": 20, "kinds": {"complaint": 20}, "spike_threshold": 3.0,
                               "matching_window_s": 3600, "burn_episodes": {"availability": 0, "latency": 0}}
    login = _agreement(found, "login", "availability")["cleaned"]
    assert (login.burn_episodes, login.report_spikes, login.precision, login.recall) == (0, 1, None, 0.0)


def _checkout_only(per_minute: int):
    return lambda journey, t0: per_minute if journey == "checkout" else 0


def test_incident_spending_a_quarter_of_the_budget_raises_exactly_one_postmortem(example_config, tmp_path):
    # One day of checkout at 10 requests a minute; 12:00–12:12 fails 90%: 120 × 0.9 = 108 errors.
    # A 30-day period at this traffic holds 10 × 43,200 = 432,000 events: budget 0.1% = 432 errors; 108 = 25%.
    def error(journey, t0):
        return 0.9 if journey == "checkout" and START_MS + 12 * HOUR <= t0 < START_MS + 12 * HOUR + 12 * MINUTE else 0
    records = list(steady_traffic(1440, rate=_checkout_only(10), error=error))
    found, _ = _review(example_config, records, None, tmp_path, "quarter")
    pms = [a for a in found.anomalies if a.type == "postmortem_required"]
    assert len(pms) == 1
    assert (pms[0].journey, pms[0].slo, pms[0].state) == (*CA, "firing")
    assert pms[0].evidence["budget_share"] == 0.25
    assert pms[0].evidence["errors"] == 108
    assert pms[0].evidence["budget_errors"] == 432.0
    assert pms[0].evidence["extrapolated"] is True


def test_recommended_objective_is_one_minus_the_mean_3_day_error_ratio(example_config, tmp_path):
    # Four days of checkout at 10 requests a minute failing exactly 1 in 100 (one error every 10 minutes):
    # every full 3-day window holds 4,320 × 10 = 43,200 requests and 432 errors, so the 3-day burn at
    # objective o is 0.01 / (1 − o), averaging 1× at o = 1 − 432/43,200; the current 99.9% needs
    # 1 − 0.001/0.01 = 90% fewer errors.
    records = list(steady_traffic(4 * 1440, rate=_checkout_only(10),
                                  error=lambda j, t0: 0.01 if j == "checkout" else 0.0))
    found, _ = _review(example_config, records, None, tmp_path, "known-rate")
    rec = next(r for r in found.review.recommendations if (r.journey, r.slo) == CA)
    assert rec.basis == "3d"
    assert rec.recommended == 1 - 432 / 43_200
    assert abs(rec.reduction - (1 - 0.001 / 0.01)) < 1e-12


def test_spearman_matches_the_textbook_formula():
    # No ties: ρ = 1 − 6 Σd² / (n (n² − 1)); d = (−1, 1, −1, 1, 0) → 1 − 24/120 = 0.8.
    assert abs(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - 0.8) < 1e-12
    assert spearman([1, 2, 3], [3, 2, 1]) == -1.0
    assert spearman([1, 2, 3], [0, 0, 0]) is None  # a constant side has no ranks to correlate


def test_composite_ceiling_flags_a_target_above_the_product_of_availabilities():
    from streams.core.detect.recommend import composite_ceiling

    c = composite_ceiling("checkout", "availability", 0.999, ("shop", "auth", "catalog"),
                          {"shop": 0.999, "auth": 0.999, "catalog": 0.999})
    assert c.ceiling == 0.999 * 0.999 * 0.999 and c.above_ceiling is True
    assert composite_ceiling("checkout", "availability", 0.99, ("shop", "pay"), {"shop": 0.999}).ceiling is None
