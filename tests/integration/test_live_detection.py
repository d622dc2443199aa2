"""Live detection against the real broker: the worker's sli.anomalies equal what embedded mode's detectors
find for the same records and change events (ids included), change events arrive through ops.changes (a
bad one is dead-lettered), and /metrics exports the anomalies and the meta-signal gauges."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson
import yaml

from streams.config import load_config
from streams.core.detect import parse_change
from streams.runs.detection import detect, with_review
from streams.runs.embedded import iter_input_batches
from streams.runs.result import RunResult
from streams.tools.scenarios import SCENARIOS
from tests.support.live_harness import Worker, live_config, produce, read_topic

ROOT = Path(__file__).resolve().parents[2]
HOUR_MS = 3_600_000


def _wait_for(bootstrap: str, topic: str, n: int, worker: Worker, timeout_s: float = 150.0) -> list[dict]:
    import time

    deadline = time.monotonic() + timeout_s
    docs: list[dict] = []
    while time.monotonic() < deadline:
        assert worker.proc.poll() is None, worker.tail()
        docs = [orjson.loads(v) for _, v, _ in read_topic(bootstrap, topic, timeout=5)]
        if len({d["id"] for d in docs}) >= n:
            return docs
        time.sleep(1)
    raise AssertionError(f"{len(docs)} anomalies after {timeout_s}s: {[d['id'] for d in docs]}\n{worker.tail()}")


def test_live_anomalies_equal_embedded_detection(kafka_broker, tmp_path):
    bs = kafka_broker.bootstrap
    path = live_config(tmp_path, bs, partitions=1)
    doc = yaml.safe_load(path.read_text())
    example = yaml.safe_load((ROOT / "examples" / "truesli.yaml").read_text())
    doc["journeys"] = example["journeys"]
    doc["windows"] = {"size_s": 60, "allowed_lateness_s": 0, "idle_timeout_s": 2}
    doc["detection"] = {"evaluation_delay_s": 120}
    path.write_text(yaml.safe_dump(doc))
    config = load_config(path)
    topics = config.kafka.topics

    # The burst five minutes after a deploy of `shop`, plus a credential-stuffing burst at 04:20.
    records, changes = SCENARIOS["burst-after-deploy"]()
    attack = [r for r in SCENARIOS["credential-stuffing"]()[0] if r["user_agent"] != records[0]["user_agent"]]
    from streams.core.timeparse import format_rfc3339, parse_rfc3339

    for r in attack:
        r["ts"] = format_rfc3339(parse_rfc3339(r["ts"]) + 4 * HOUR_MS)
    records = sorted(records + attack, key=lambda r: r["ts"])
    lines = [orjson.dumps(r) for r in records]

    # Reference: embedded mode over the same records and changes.
    log = tmp_path / "records.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    from streams.core.merge import CounterBook
    from streams.core.pipeline import Pipeline, Tally
    from streams.runs.detection import AbuseCollector

    pipeline = Pipeline(config)
    ref = RunResult(Tally(), CounterBook(), [str(log)], abuse=AbuseCollector(config))
    for batch, origin in iter_input_batches([str(log)], "auto", pipeline.decoder):
        ref.collect(pipeline.process(batch, None, origin))
    ref.collect(pipeline.flush())
    merged = ref.book.merged()
    # The detectors and the review (postmortems; no user reports here), as `truesli process` runs them.
    expected = with_review(config, merged, detect(config, merged, [parse_change(c) for c in changes],
                                                  ref.abuse.finish()), None)
    want = {a.id: a.to_dict() for a in expected.anomalies}
    assert sorted({d["type"] for d in want.values()}) == ["bot_surge", "burn_spike", "credential_stuffing"]

    # The change event (and one that is not a change event) go to ops.changes before traffic starts.
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic(topics.changes, 1, 1)])[topics.changes].result(30)
    produce(bs, topics.changes, [orjson.dumps(changes[0]), b'{"kind": "deploy"}'])

    w = Worker(path, "det", tmp_path / "det.log").start()
    try:
        # Traffic starts at once: the detectors must wait for the change feed to catch up (the deploy it
        # holds is what turns the page into a burn_spike without a security_suspect).
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 1)
        produce(bs, topics.requests, lines)
        got_docs = _wait_for(bs, topics.anomalies, len(want), w)
        got = {d["id"]: d for d in got_docs}
        assert got == want, w.tail()
        schema = json.loads((ROOT / "schemas" / "anomaly.schema.json").read_text())
        for d in got_docs:
            jsonschema.validate(d, schema)
        dead = [orjson.loads(v) for _, v, _ in read_topic(bs, topics.deadletter)]
        assert [(d["reason"], d["source"]["topic"]) for d in dead] == [("bad_change_event", topics.changes)]
        m = w.wait_metrics(lambda m: m.get('truesli_anomalies_total{state="firing",type="burn_spike"}') == 2)
        assert m['truesli_anomalies_total{state="resolved",type="burn_spike"}'] == 1
        assert m["truesli_abuse_anomalies_total"] == 2
        assert m["truesli_change_dead_letters_total"] == 1
        assert m["truesli_change_feed_ready"] == 1 and m["truesli_change_events_total"] == 1
        assert m["truesli_detection_errors_total"] == 0
        assert m['truesli_slo_burn_rate{journey="checkout",slo="availability",window="5m"}'] == 0.0
        assert m["truesli_slos_active"] == 8
        assert 0 < m['truesli_slo_error_budget_remaining{journey="login",slo="availability"}'] <= 1
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()

    # A restarted worker rebuilds its detectors from the partials table and re-sends the same anomalies
    # (same ids): the topic's distinct anomalies are unchanged, and nothing new is invented.
    before = len(read_topic(bs, topics.anomalies))
    w2 = Worker(path, "det", tmp_path / "det2.log", web_port=w.web_port).start()  # static membership: same URL
    try:
        w2.wait_metrics(lambda m: m.get('truesli_anomalies_total{state="firing",type="burn_spike"}') == 2)
        docs = [orjson.loads(v) for _, v, _ in read_topic(bs, topics.anomalies)]
        assert len(docs) > before
        rebuilt = {d["id"]: d for d in docs}
        diffs = {i: {k: (want[i][k], d[k]) for k in d if d[k] != want[i].get(k)} for i, d in rebuilt.items()
                 if d != want.get(i)}
        assert not diffs, diffs
        assert "detectors rebuilt for partials partitions [0]" in (tmp_path / "det2.log").read_text()
    finally:
        w2.stop()
    assert w2.proc.returncode == 0, w2.tail()
