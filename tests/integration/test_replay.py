"""Replay from a topic by time range recomputes exactly what `truesli process` computes on that slice."""

from __future__ import annotations

import subprocess
import sys
import uuid

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA
from streams.core.timeparse import format_rfc3339, parse_rfc3339
from streams.tools.loaders import produce_request_logs
from tests.support.live_harness import ROOT, live_config, mix, read_topic


def _summary(args: list[str], tmp_path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    r = subprocess.run([sys.executable, "-m", "streams.cli", *args, "--summary-json", str(out)], cwd=ROOT,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    return orjson.loads(out.read_bytes())


def test_replay_time_range_equals_process_on_the_same_slice(kafka_broker, tmp_path):
    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=3)
    topic = f"replay-{uuid.uuid4().hex[:12]}"
    lines = mix(15_000, seed=51)[:-3]  # valid records only: the slice is chosen by their timestamps
    stamps = [parse_rfc3339(orjson.loads(x)["ts"]) for x in lines]
    _create(bs, topic)
    produce_request_logs({"bootstrap.servers": bs}, topic, lines, timestamps=stamps)
    lo, hi = sorted(stamps)[len(stamps) // 4], sorted(stamps)[3 * len(stamps) // 4]
    # The same slice as a file, in the order each partition holds it (per-IP order is what matters).
    slice_file = tmp_path / "slice.jsonl"
    slice_file.write_bytes(b"\n".join(x for x, t in zip(lines, stamps) if lo <= t < hi) + b"\n")
    expected = _summary(["process", "--config", str(cfg_path), str(slice_file), "--anomalies",
                         str(tmp_path / "process-anomalies.jsonl")], tmp_path, "process")
    got = _summary(["replay", "--config", str(cfg_path), "--topic", topic, "--from", format_rfc3339(lo),
                    "--to", format_rfc3339(hi), "--anomalies", str(tmp_path / "replay-anomalies.jsonl")],
                   tmp_path, "replay")
    # The SLO detectors see the same merged counters, so they find the same anomalies, ids included.
    # (Abuse episodes group flags by network across the topic's partitions in arrival order, and top client
    # networks are merged from each partition's top 5 — a heavy-hitter estimate: neither is compared.)
    slo_anomalies = [_slo_anomalies(tmp_path / f"{n}-anomalies.jsonl") for n in ("process", "replay")]
    assert slo_anomalies[0] == slo_anomalies[1] and slo_anomalies[0]
    assert got["consumed"] == expected["consumed"] == sum(1 for t in stamps if lo <= t < hi)
    # `late` describes delivery (per-partition watermarks here, one watermark for the file), not the SLI.
    got.pop("late"), expected.pop("late")
    assert got == expected
    # …and from a Parquet archive of the same slice (the Arrow schema of schemas/request_log.arrow.json).
    rows = [orjson.loads(x) for x, t in zip(lines, stamps) if lo <= t < hi]
    for row in rows:
        row["ts"] = parse_rfc3339(row["ts"])
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), tmp_path / "slice.parquet")
    from_parquet = _summary(["replay", "--config", str(cfg_path), "--parquet", str(tmp_path / "slice.parquet")],
                            tmp_path, "parquet")
    from_parquet.pop("late")
    assert from_parquet == expected


def test_replay_workers_read_partitions_side_by_side_with_the_same_results(kafka_broker, tmp_path):
    """``--workers 3`` (one consumer per partition, each in its own process) gives what one process gives:
    the same totals, counters, dead letters (as a set: partitions interleave differently) and anomalies."""
    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=3)
    topic = f"replay-workers-{uuid.uuid4().hex[:12]}"
    lines = mix(9_000, seed=53)  # with the malformed records: dead letters from every partition
    stamps = [parse_rfc3339(orjson.loads(x)["ts"]) if x.startswith(b'{"ts"') else None for x in lines]
    _create(bs, topic)
    produce_request_logs({"bootstrap.servers": bs}, topic, lines,
                         timestamps=[t if t is not None else stamps[0] for t in stamps])
    got = {}
    for workers in ("1", "3"):
        d = tmp_path / f"w{workers}"
        d.mkdir()
        summary = _summary(["replay", "--config", str(cfg_path), "--topic", topic, "--workers", workers,
                            "--counters", str(d / "c.jsonl"), "--dead-letters", str(d / "d.jsonl"),
                            "--anomalies", str(d / "a.jsonl")], tmp_path, f"w{workers}")
        summary.pop("late")  # delivery: consume calls cut each partition's batches differently
        final = {}  # the newest revision of every window
        for c in map(orjson.loads, (d / "c.jsonl").read_bytes().splitlines()):
            key = (c["partition"], c["journey"], c["slo"], c["window_start"])
            if key not in final or c["revision"] > final[key]["revision"]:
                final[key] = c
        counters = sorted((*k, c["good"], c["total"], c["raw_good"], c["raw_total"], c["filtered"])
                          for k, c in final.items())
        dead = sorted((x["reason"], x["source"]["partition"], x["source"]["offset"])
                      for x in map(orjson.loads, (d / "d.jsonl").read_bytes().splitlines()))
        got[workers] = (summary, counters, dead, _slo_anomalies(d / "a.jsonl"))
    assert got["3"] == got["1"]
    assert got["1"][0]["consumed"] == len(lines)
    assert len(got["1"][2]) == len(lines) - 9_000 > 0


def _slo_anomalies(path) -> list[dict]:
    out = [d for d in map(orjson.loads, path.read_bytes().splitlines()) if d["journey"] is not None]
    for d in out:
        d["evidence"].pop("top_networks", None)
    return out


def _create(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    # Records carry 2026-01-01 event timestamps: without retention.ms=-1 the broker's time-based
    # retention would delete them at its next check, in the middle of a test.
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                  config={"retention.ms": "-1"})])[topic].result(30)


def test_archive_resumes_without_duplicates_and_replays_like_process(kafka_broker, tmp_path):
    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=3)
    topic = f"archive-{uuid.uuid4().hex[:12]}"
    _create(bs, topic)
    lines = mix(9_000, seed=52)  # 9,000 records and three malformed ones at the end
    first, second = lines[:5_000], lines[5_000:]
    out = tmp_path / "archive"
    run = [sys.executable, "-m", "streams.cli", "archive", "--config", str(cfg_path), "--topic", topic,
           "--out", str(out)]
    produce_request_logs({"bootstrap.servers": bs}, topic, first)
    r = subprocess.run(run, cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith("archived 5,000 records (0 undecodable")
    produce_request_logs({"bootstrap.servers": bs}, topic, second)
    r = subprocess.run(run, cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith("archived 4,003 records (3 undecodable")  # only the new ones
    table = pq.read_table(out)
    assert table.num_rows == 9_003
    keys = list(zip(table.column("kafka_partition").to_pylist(), table.column("kafka_offset").to_pylist()))
    assert len(set(keys)) == 9_003  # no duplicates, and (with the count) no gaps
    assert sorted(r for r in table.column("dead_letter_reason").to_pylist() if r) == [
        "invalid_utf8", "malformed_json", "missing_field:client_ip"]
    file_input = tmp_path / "all.jsonl"
    file_input.write_bytes(b"\n".join(lines) + b"\n")
    expected = _summary(["process", "--config", str(cfg_path), str(file_input)], tmp_path, "process")
    got = _summary(["replay", "--config", str(cfg_path), "--parquet", str(out)], tmp_path, "archive")
    got.pop("late"), expected.pop("late")
    assert got == expected


def test_archive_time_range_equals_process_on_the_same_slice(kafka_broker, tmp_path):
    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=3)
    topic = f"archive-{uuid.uuid4().hex[:12]}"
    _create(bs, topic)
    lines = mix(8_000, seed=53)[:-3]
    produce_request_logs({"bootstrap.servers": bs}, topic, lines)
    out = tmp_path / "archive"
    r = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "--config", str(cfg_path), "--topic", topic,
                        "--out", str(out)], cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    stamps = [parse_rfc3339(orjson.loads(x)["ts"]) for x in lines]
    lo, hi = sorted(stamps)[len(stamps) // 3], sorted(stamps)[2 * len(stamps) // 3]
    slice_file = tmp_path / "slice.jsonl"
    slice_file.write_bytes(b"\n".join(x for x, t in zip(lines, stamps) if lo <= t < hi) + b"\n")
    expected = _summary(["process", "--config", str(cfg_path), str(slice_file)], tmp_path, "process")
    got = _summary(["replay", "--config", str(cfg_path), "--parquet", str(out), "--from", format_rfc3339(lo),
                    "--to", format_rfc3339(hi)], tmp_path, "replay")
    got.pop("late"), expected.pop("late")
    assert got["consumed"] == sum(1 for t in stamps if lo <= t < hi)
    assert got == expected


def test_replay_backfills_victoria_metrics_and_a_topic_with_original_timestamps(kafka_broker, victoria_metrics,
                                                                                   tmp_path):
    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=1)
    lines = mix(6_000, seed=54)[:-3]
    rows = [orjson.loads(x) for x in lines]
    for row in rows:
        row["ts"] = parse_rfc3339(row["ts"])
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), tmp_path / "h.parquet")
    out_topic = f"recomputed-{uuid.uuid4().hex[:12]}"
    _create(bs, out_topic)
    summary = _summary(["replay", "--config", str(cfg_path), "--parquet", str(tmp_path / "h.parquet"),
                        "--remote-write", victoria_metrics.write_url, "--to-topic", out_topic], tmp_path, "bf")
    totals = summary["journeys"]["all"]["slos"]["availability"]
    series = victoria_metrics.export('truesli_sli_events_total{journey="all",result="good"}')
    [(labels, samples)] = [(k, v) for k, v in series.items() if dict(k).get("partition") is None]
    first_window_end = (min(r["ts"] for r in rows) // 10_000 + 1) * 10_000  # live_config: 10 s windows
    # event time of 2026-01-01, not the time of the replay; every series starts with a 0 at its first window's
    # start, so increase() over the whole range equals the summary
    assert (samples[0][0], samples[0][1]) == (first_window_end - 10_000, 0)
    assert samples[1][0] == first_window_end
    assert samples[-1][1] == totals["good"]
    published = [orjson.loads(v) for _, v, _ in read_topic(bs, out_topic)]
    assert sum(d["good"] for d in published) == totals["good"]
    assert sum(d["total"] for d in published) == totals["total"]


def test_archive_quarantines_a_poisoned_message_timestamp_and_goes_on(kafka_broker, tmp_path):
    """Issue 18 item 2: ``b"not json"`` stamped 9e15 ms (year 287168) used to stop every archive run with a
    traceback before the checkpoint; now it lands in a quarantine partition and the run checkpoints."""
    from confluent_kafka import Producer

    bs = kafka_broker.bootstrap
    cfg_path = live_config(tmp_path, bs, partitions=3)
    topic = f"archive-{uuid.uuid4().hex[:12]}"
    _create(bs, topic)
    lines = mix(3_000, seed=54)[:-3]
    # First in its partition, so it names the partition's first chunk (as it did in the issue).
    producer = Producer({"bootstrap.servers": bs})
    producer.produce(topic, b"not json", partition=1, timestamp=9_000_000_000_000_000)
    assert producer.flush(30) == 0
    produce_request_logs({"bootstrap.servers": bs}, topic, lines[:1_500])
    producer.produce(topic, b"{also not json", partition=1, timestamp=1)  # 1970: before any event time
    assert producer.flush(30) == 0
    produce_request_logs({"bootstrap.servers": bs}, topic, lines[1_500:])
    out = tmp_path / "archive"
    run = [sys.executable, "-m", "streams.cli", "archive", "--config", str(cfg_path), "--topic", topic,
           "--out", str(out)]
    r = subprocess.run(run, cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    stdout = r.stdout.decode().splitlines()
    assert len(lines) == 3_000
    assert stdout[0].startswith("archived 3,002 records (2 undecodable, kept raw)")
    assert stdout[1] == "quarantined (under quarantine/, kept raw): message_timestamp_out_of_range 2"
    assert r.stderr == b""
    held = sorted((out / "quarantine" / "reason=message_timestamp_out_of_range").glob("*.parquet"))
    assert len(held) == 1 and held[0].name.startswith("p00001-")
    rows = pq.read_table(held[0], columns=["raw", "dead_letter_reason", "kafka_partition"]).to_pylist()
    assert rows == [{"raw": b"not json", "dead_letter_reason": "unparseable_line", "kafka_partition": 1},
                    {"raw": b"{also not json", "dead_letter_reason": "malformed_json", "kafka_partition": 1}]
    checkpoint = orjson.loads((out / "_checkpoint.json").read_bytes())
    assert sum(checkpoint["next_offsets"].values()) == 3_002  # every record, the poisoned ones included
    # The next run resumes after them: nothing new, nothing repeated, no error.
    r = subprocess.run(run, cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith("archived 0 records (0 undecodable")
    # Replay dead-letters them again, exactly as `process` does the same records.
    file_input = tmp_path / "all.jsonl"
    file_input.write_bytes(b"\n".join(lines + [b"not json", b"{also not json"]) + b"\n")
    expected = _summary(["process", "--config", str(cfg_path), str(file_input)], tmp_path, "process")
    got = _summary(["replay", "--config", str(cfg_path), "--parquet", str(out)], tmp_path, "archive")
    got.pop("late"), expected.pop("late")
    assert got == expected
    assert got["dead_letter_reasons"] == {"malformed_json": 1, "unparseable_line": 1}
