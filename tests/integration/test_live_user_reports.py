"""User reports in the live worker against the real broker: the same requests and reports given to
``truesli process --user-reports FILE --anomalies OUT`` and to a worker (requests on the input topic, reports
on ops.user_reports) give the same anomalies — ids and documents — including the user-pain verdicts of the
unnoticed-burn and unmeasured-pain scenarios; reports given as service + route map to the same journey;
a record that is not a user report is dead-lettered as ``bad_user_report`` with the file run's reason."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import orjson
import yaml
from confluent_kafka.admin import AdminClient, NewTopic

from streams.config import load_config
from streams.tools.scenarios import SCENARIOS, scenario_reports
from tests.support.live_harness import ROOT, Worker, live_config, produce, read_topic

BAD_REPORT = b'{"ts": "2026-03-10T02:30:00Z", "kind": "tweet", "journey": "login"}'


def _schema(name: str) -> jsonschema.Draft202012Validator:
    doc = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(doc, format_checker=jsonschema.FormatChecker())


def _latest(bootstrap: str, topic: str) -> dict[str, dict]:
    """The topic's anomalies, the latest document per id (the topic is keyed by the id)."""
    out: dict[str, dict] = {}
    for _, value, _ in read_topic(bootstrap, topic, timeout=5):
        d = orjson.loads(value)
        out[d["id"]] = d
    return out


def test_live_user_pain_anomalies_equal_process_and_bad_report_is_dead_lettered(kafka_broker, tmp_path):
    bs = kafka_broker.bootstrap
    path = live_config(tmp_path, bs, partitions=1)
    doc = yaml.safe_load(path.read_text())
    doc["journeys"] = yaml.safe_load((ROOT / "examples" / "truesli.yaml").read_text())["journeys"]
    doc["windows"] = {"size_s": 60, "allowed_lateness_s": 0, "idle_timeout_s": 2}
    doc["detection"] = {"evaluation_delay_s": 120}
    path.write_text(yaml.safe_dump(doc))
    topics = load_config(path).kafka.topics

    # unnoticed-burn's traffic (checkout fails 2% 01:00–03:00) also is unmeasured-pain's (no 5xx on login):
    # one run, both scenarios' reports. Half of login's complaint spike comes as service + route.
    records, _ = SCENARIOS["unnoticed-burn"]()
    reports = scenario_reports("unnoticed-burn") + scenario_reports("unmeasured-pain")
    for r in reports:
        if r["kind"] == "complaint" and int(r["id"].removeprefix("C-")) % 2:
            del r["journey"]
            r["service"], r["route"] = "auth", "POST /login"
    report_lines = [orjson.dumps(r) for r in sorted(reports, key=lambda r: r["ts"])] + [BAD_REPORT]
    lines = [orjson.dumps(r) for r in records]

    # (a) the finite run
    log, rep, anomalies, dead = (tmp_path / n for n in ("requests.jsonl", "reports.jsonl", "anomalies.jsonl",
                                                        "dead.jsonl"))
    log.write_bytes(b"\n".join(lines) + b"\n")
    rep.write_bytes(b"\n".join(report_lines) + b"\n")
    done = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(path), str(log),
                           "--user-reports", str(rep), "--anomalies", str(anomalies), "--dead-letters", str(dead)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    want = {d["id"]: d for d in map(orjson.loads, anomalies.read_bytes().splitlines())}
    assert sorted(i for i in want if i.startswith("sli_")) == [
        "sli_misses_user_pain|login|-|-|2026-03-10T02:00:00.000Z|firing",
        "sli_pain_unseen_by_users|checkout|availability|-|2026-03-10T01:04:00.000Z|firing"]
    assert want["sli_misses_user_pain|login|-|-|2026-03-10T02:00:00.000Z|firing"]["evidence"]["reports"] == 20
    [file_dead] = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert (file_dead["reason"], file_dead["error"]) == (
        "bad_user_report", "kind must be one of support_ticket, complaint, rum_error, status_page, other")

    # (b) the live worker: reports (and the bad one) on ops.user_reports before traffic starts.
    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic(topics.user_reports, 1, 1)])[topics.user_reports].result(30)
    produce(bs, topics.user_reports, report_lines)
    w = Worker(path, "pain", tmp_path / "pain.log").start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 1)
        produce(bs, topics.requests, lines)
        deadline = time.monotonic() + 90
        got = _latest(bs, topics.anomalies)
        while got != want and time.monotonic() < deadline:
            assert w.proc.poll() is None, w.tail()
            time.sleep(1)
            got = _latest(bs, topics.anomalies)
        assert got == want, ({i: d for i, d in got.items() if d != want.get(i)}, sorted(set(want) - set(got)),
                             w.tail())
        av = _schema("anomaly")
        for d in got.values():
            av.validate(d)
        [live_dead] = [orjson.loads(v) for _, v, _ in read_topic(bs, topics.deadletter)]
        _schema("dead_letter").validate(live_dead)
        assert (live_dead["reason"], live_dead["error"], live_dead["raw"]) == (
            file_dead["reason"], file_dead["error"], file_dead["raw"])
        assert live_dead["source"] == {"topic": topics.user_reports, "partition": 0,
                                       "offset": len(report_lines) - 1}
        m = w.metrics()
        assert m["truesli_user_reports_total"] == len(report_lines) - 1 == 16
        assert m["truesli_user_report_dead_letters_total"] == 1
        assert m["truesli_change_dead_letters_total"] == 0
        assert m["truesli_change_feed_ready"] == 1
        # Every document sent is counted; an open episode judged at an idle moment may be sent again with
        # a longer span (same id) when its last window lands after that moment.
        sent = [orjson.loads(v)["type"] for _, v, _ in read_topic(bs, topics.anomalies)]
        for kind in ("sli_misses_user_pain", "sli_pain_unseen_by_users"):
            assert m[f'truesli_anomalies_total{{state="firing",type="{kind}"}}'] == sent.count(kind) >= 1
        assert m["truesli_detection_errors_total"] == 0
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()
