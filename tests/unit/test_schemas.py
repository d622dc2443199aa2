"""Messages — samples and what the code actually produces — validate against schemas/."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import orjson
import pytest

from streams.sources.archive_schema import ARCHIVE_ARROW_SCHEMA, REQUEST_LOG_ARROW_SCHEMA, schema_as_json
from streams.config import Config
from streams.core.pipeline import Pipeline
from streams.tools.gen import generate
from streams.core.model import DeadLetter, RecordVerdict
from streams.sinks.serialize import counter_to_dict, dead_letter_to_dict, record_location
from tests.unit.conftest import FIXED_NOW_MS

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_schema_is_valid_2020_12():
    names = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
    assert names == ["anomaly.schema.json", "change_event.schema.json", "dead_letter.schema.json",
                     "request_log.schema.json", "sli_counter.schema.json", "user_report.schema.json"]
    for p in SCHEMAS.glob("*.schema.json"):
        assert json.loads(p.read_text())["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        _validator(p.name.removesuffix(".schema.json"))


def test_generated_requests_match_request_log_schema():
    buf = io.BytesIO()
    generate(buf, events=2_000, seed=3, bot_share=0.9)
    v = _validator("request_log")
    for line in buf.getvalue().splitlines():
        v.validate(orjson.loads(line))


def test_request_log_schema_rejects_what_decode_rejects():
    v = _validator("request_log")
    with pytest.raises(jsonschema.ValidationError):
        v.validate({"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/"})
    with pytest.raises(jsonschema.ValidationError):
        v.validate({"ts": "2026-01-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "GET", "path": "/",
                    "status": "two hundred"})


def test_produced_counters_and_dead_letters_match_their_schemas():
    buf = io.BytesIO()
    generate(buf, events=3_000, seed=4, bot_share=0.5)
    lines = buf.getvalue().splitlines() + [b"{not json", b'{"ts": 1}', b"\xff\xfe"]
    p = Pipeline(Config())
    out = p.process(lines, now_ms=FIXED_NOW_MS)
    counters = out.counters + p.flush().counters
    assert len(counters) > 0
    assert len(out.dead_letters) == 3
    cv, dv = _validator("sli_counter"), _validator("dead_letter")
    for c in counters:
        cv.validate(counter_to_dict(c, FIXED_NOW_MS))
    for d in out.dead_letters:
        dv.validate(dead_letter_to_dict(d, FIXED_NOW_MS))


def test_one_location_vocabulary_for_dead_letters_and_verdicts_old_form_still_read():
    """A file record is {file, line} in dead letters and verdicts alike; a Kafka record {topic, partition,
    offset}; a dead letter written before (a file as {topic, partition: null, offset}) still validates and
    reads back to the same location."""
    dv = _validator("dead_letter")
    from_file = dead_letter_to_dict(DeadLetter("malformed_json", "e", "{", "logs/a.jsonl", None, 7), FIXED_NOW_MS)
    from_kafka = dead_letter_to_dict(DeadLetter("malformed_json", "e", "{", "requests.raw", 2, 9), FIXED_NOW_MS)
    verdict = RecordVerdict("logs/a.jsonl", 7, None, "dead_letter", "malformed_json", None).to_dict()
    assert from_file["source"] == verdict["source"] == {"file": "logs/a.jsonl", "line": 7}
    assert from_kafka["source"] == {"topic": "requests.raw", "partition": 2, "offset": 9}
    old = from_file | {"source": {"topic": "logs/a.jsonl", "partition": None, "offset": 7}}
    for doc in (from_file, from_kafka, old):
        dv.validate(doc)
    assert [record_location(d["source"]) for d in (from_file, old, from_kafka, verdict)] == [
        ("logs/a.jsonl", None, 7), ("logs/a.jsonl", None, 7), ("requests.raw", 2, 9), ("logs/a.jsonl", None, 7)]
    with pytest.raises(jsonschema.ValidationError):
        dv.validate(from_file | {"source": {"file": "logs/a.jsonl", "offset": 7}})


def test_partial_counter_carries_partition_and_validates():
    p = Pipeline(Config(), partition=3)
    p.process([b'{"ts":"2026-01-01T00:00:01Z","client_ip":"11.0.0.1","method":"GET","path":"/","status":200}'],
              now_ms=FIXED_NOW_MS)
    [c] = p.flush().counters
    doc = counter_to_dict(c, FIXED_NOW_MS)
    assert doc["partition"] == 3
    assert c.key == f"all|availability|{c.window_start_ms}|3"
    _validator("sli_counter").validate(doc)


def test_sample_anomaly_and_change_event_validate():
    _validator("anomaly").validate({
        "id": "burn_spike:checkout:availability:2026-01-01T03:00:00.000Z", "type": "burn_spike",
        "state": "firing", "journey": "checkout", "slo": "availability", "severity": "page",
        "window": {"start": "2026-01-01T03:00:00.000Z", "end": "2026-01-01T03:05:00.000Z"},
        "burn_rates": {"5m": 20.0, "1h": 15.1}, "evidence": {}, "correlated_changes": [],
        "ts": "2026-01-01T03:05:00.000Z"})
    _validator("change_event").validate({"ts": "2026-01-01T02:55:00Z", "service": "shop", "kind": "deploy",
                                         "id": "deploy-42"})
    with pytest.raises(jsonschema.ValidationError):
        _validator("change_event").validate({"ts": 1, "service": "shop", "kind": "reboot", "id": "x"})


def test_arrow_schema_files_mirror_the_code():
    doc = json.loads((SCHEMAS / "request_log.arrow.json").read_text())
    assert doc["fields"] == schema_as_json()
    archive = json.loads((SCHEMAS / "archive.arrow.json").read_text())
    assert archive["fields"] == schema_as_json(ARCHIVE_ARROW_SCHEMA)
    assert [f["name"] for f in archive["fields"]][-4:] == ["raw", "dead_letter_reason", "kafka_partition",
                                                          "kafka_offset"]
    assert REQUEST_LOG_ARROW_SCHEMA.field("ts").type.unit == "ms"


def test_scenario_user_reports_validate_and_parse(example_config):
    from streams.core.detect.user_reports import ReportMapper, UserReport, parse_user_report
    from streams.tools.scenarios import SCENARIOS, scenario_reports

    v = _validator("user_report")
    mapper = ReportMapper(example_config)
    seen = 0
    for name in SCENARIOS:
        for doc in scenario_reports(name):
            v.validate(doc)
            rep = parse_user_report(doc, mapper)
            assert isinstance(rep, UserReport), (name, doc, rep)
            v.validate(rep.to_dict())
            seen += 1
    # trickle 3 (00:37, 02:37, 04:37) + outage 9 (2 RUM counts, 6 tickets, 1 status page) twice, trickle 3
    # (unnoticed-burn), trickle 3 + 10 complaints (unmeasured-pain)
    assert seen == 40


@pytest.mark.parametrize("doc", [
    {"ts": "2026-03-10T03:00:00Z", "kind": "tweet", "journey": "checkout"},
    {"ts": "2026-03-10T03:00:00Z", "kind": "complaint"},
    {"ts": "2026-03-10T03:00:00Z", "kind": "complaint", "service": "shop"},
    {"ts": "2026-03-10T03:00:00Z", "kind": "complaint", "journey": "checkout", "count": 0},
    {"ts": "2026-03-10T03:00:00Z", "kind": "complaint", "journey": "checkout", "count": 1.5},
    {"ts": True, "kind": "complaint", "journey": "checkout"},
])
def test_user_report_schema_rejects_what_the_parser_rejects(doc, example_config):
    from streams.core.detect.user_reports import ReportMapper, parse_user_report

    with pytest.raises(jsonschema.ValidationError):
        _validator("user_report").validate(doc)
    assert isinstance(parse_user_report(doc, ReportMapper(example_config)), str)


def test_review_anomalies_and_bad_user_report_dead_letters_validate(example_config, tmp_path):
    from streams.core.detect.user_reports import ReportMapper, parse_user_report
    from streams.runs.detection import detect, with_review
    from streams.runs.embedded import run_embedded
    from streams.sources.user_reports import read_user_reports
    from streams.tools.scenarios import SCENARIOS, scenario_reports

    types = set()
    for name in ("unnoticed-burn", "unmeasured-pain"):
        records, _ = SCENARIOS[name]()
        log = tmp_path / f"{name}.jsonl"
        log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        result = run_embedded(example_config, [str(log)], now_ms=None)
        counters = result.book.merged()
        reports = [parse_user_report(d, ReportMapper(example_config)) for d in scenario_reports(name)]
        found = with_review(example_config, counters, detect(example_config, counters, []), reports)
        for a in found.review.anomalies:
            _validator("anomaly").validate(a.to_dict())
            types.add(a.type)
    assert types == {"sli_pain_unseen_by_users", "sli_misses_user_pain"}
    bad = tmp_path / "reports.jsonl"
    bad.write_text('{"ts": "2026-03-10T03:00:00Z", "kind": "tweet", "journey": "checkout"}\nnot json\n')
    got = read_user_reports(example_config, [str(bad)], strict=False)
    assert [d.error for d in got.dead_letters] == ["kind must be one of support_ticket, complaint, rum_error, "
                                                   "status_page, other", "not a JSON object"]
    for d in got.dead_letters:
        _validator("dead_letter").validate(dead_letter_to_dict(d, FIXED_NOW_MS))


def test_live_user_report_feed_dead_letters_and_live_review_anomalies_validate(example_config, tmp_path):
    """What the live worker publishes for issue 19: a record of ops.user_reports that is not a user report
    (sli.deadletter) and the review's anomalies — all three types — as LiveDetection sends them."""
    from streams.core.detect.user_reports import UserReport
    from streams.live.detection import LiveDetection, UserReportFeed
    from streams.runs.embedded import run_embedded
    from streams.tools.scenarios import HOUR, MINUTE, START_MS, steady_traffic

    feed = UserReportFeed(example_config)
    ok = feed.item(b'{"ts": "2026-03-10T02:00:00Z", "kind": "complaint", "service": "auth", "route": "POST /login"}',
                   0, 4)
    assert ok == UserReport(1773108000000, "login", "complaint")
    bad = [feed.item(raw, 0, n) for n, raw in enumerate((b"\xff not json", b'{"kind": "tweet"}'))]
    assert [(d.reason, d.error, d.source, d.offset) for d in bad] == [
        ("bad_user_report", "not a JSON object", "ops.user_reports", 0),
        ("bad_user_report", "kind must be one of support_ticket, complaint, rum_error, status_page, other",
         "ops.user_reports", 1)]
    for d in bad:
        doc = dead_letter_to_dict(d, FIXED_NOW_MS)
        assert doc["source"] == {"topic": "ops.user_reports", "partition": 0, "offset": d.offset}
        _validator("dead_letter").validate(doc)

    # Checkout fails 2% 01:00–03:00 and 90% 04:00–04:12 (a costly episode), login's users complain at 05:00.
    def error(journey, t0):
        if journey != "checkout":
            return 0.0
        m = (t0 - START_MS) // MINUTE
        return 0.02 if 60 <= m < 180 else 0.9 if 240 <= m < 252 else 0.0
    log = tmp_path / "r.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in steady_traffic(420, error=error)))
    counters = run_embedded(example_config, [str(log)], now_ms=None).book.merged()
    live = LiveDetection(example_config)
    for k in range(6):
        live.observe_report(UserReport(START_MS + 5 * HOUR + k * MINUTE, "login", "complaint", 2))
    live.observe_report(UserReport(START_MS + 30 * MINUTE, "checkout", "support_ticket"))
    sent = []
    for c in sorted(counters, key=lambda c: c.window_end_ms):
        sent.extend(live.observe(c))
    live.last_input -= example_config.windows.idle_timeout_s + 1
    sent.extend(live.tick())
    review = [a for a in sent if a.type in ("postmortem_required", "sli_misses_user_pain", "sli_pain_unseen_by_users")]
    assert sorted({a.type for a in review}) == ["postmortem_required", "sli_misses_user_pain",
                                                "sli_pain_unseen_by_users"]
    for a in review:
        _validator("anomaly").validate(orjson.loads(orjson.dumps(a.to_dict())))
