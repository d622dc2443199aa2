"""The live worker against a real broker: same counters as embedded mode, dead letters, several workers,
SIGKILLs and a broker restart without losing or double-counting anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import jsonschema
import orjson
import pytest

from streams.kafka.clients import QuietLogger

from tests.support.live_harness import (MALFORMED, ROOT, Worker, live_case, live_config, produce, read_topic,
                                            wait_for_counters)


RESTORE_STARTS = "from the state changelog"  # "restoring partitions [0, 1, 2] from the state changelog"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = orjson.loads((ROOT / "schemas" / f"{name}.schema.json").read_bytes())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _consumed(m: dict) -> float:
    return m.get("truesli_consumed_total", 0.0)


def test_live_counters_equal_embedded_and_dead_letters_are_published(kafka_broker, tmp_path):
    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=3, events=20_000, seed=21)
    bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
    w = Worker(case.config_path, "solo", tmp_path / "solo.log").start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 3)
        produce(bs, cfg.kafka.topics.requests, lines)
        got = wait_for_counters(bs, cfg.kafka.topics.counters, expected)
        assert got == expected, w.tail()
        m = w.wait_metrics(lambda m: _consumed(m) == len(lines))
        accounted = (m["truesli_counted_total"] + m["truesli_unmatched_total"]
                     + sum(v for k, v in m.items() if k.startswith(("truesli_filtered_total{",
                                                                       "truesli_excluded_total{",
                                                                       "truesli_dead_lettered_total{"))))
        assert accounted == len(lines)
        dead = [orjson.loads(v) for _, v, _ in read_topic(bs, cfg.kafka.topics.deadletter)]
        assert len(dead) == len(MALFORMED) == sum(v for k, v in m.items()
                                                  if k.startswith("truesli_dead_lettered_total{"))
        assert Counter(d["reason"] for d in dead) == Counter(
            {"malformed_json": 1, "missing_field:client_ip": 1, "invalid_utf8": 1})
        assert all(d["source"]["topic"] == cfg.kafka.topics.requests and d["source"]["offset"] >= 0
                   and d["source"]["partition"] in (0, 1, 2) for d in dead)
        # Every message truesli published matches its schema.
        for topic, schema in ((cfg.kafka.topics.deadletter, "dead_letter"), (cfg.kafka.topics.counters, "sli_counter"),
                              (cfg.kafka.topics.partials, "sli_counter")):
            validator = _validator(schema)
            messages = read_topic(bs, topic)
            assert messages
            for _, value, _ in messages:
                validator.validate(orjson.loads(value))
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()


def test_two_workers_give_the_same_sums_as_one(kafka_broker, tmp_path):
    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=4, events=16_000, seed=22)
    bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
    workers = [Worker(case.config_path, f"w{i}", tmp_path / f"w{i}.log").start() for i in range(2)]
    try:
        for w in workers:
            w.wait_metrics(lambda m: m.get("truesli_assigned_partitions", 0) >= 1)
        workers[0].wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        workers[1].wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        produce(bs, cfg.kafka.topics.requests, lines)
        got = wait_for_counters(bs, cfg.kafka.topics.counters, expected)
        assert got == expected, workers[0].tail() + workers[1].tail()
        consumed = [_consumed(w.wait_metrics(lambda m: _consumed(m) > 0)) for w in workers]
        assert sum(consumed) == len(lines)
    finally:
        for w in workers:
            w.stop()


def test_sigkill_at_three_points_loses_and_duplicates_nothing(kafka_broker, tmp_path):
    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=3, events=24_000, seed=23)
    bs, cfg, lines, expected, cfg_path = case.bootstrap, case.config, case.lines, case.expected, case.config_path
    chunks = [lines[: len(lines) // 4], lines[len(lines) // 4: len(lines) // 2],
              lines[len(lines) // 2: 3 * len(lines) // 4], lines[3 * len(lines) // 4:]]
    log = tmp_path / "killed.log"
    w = Worker(cfg_path, "phoenix", log).start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 3)
        produce(bs, cfg.kafka.topics.requests, chunks[0])
        # 1: mid-stream, right after records start flowing (an open transaction is likely)
        w.wait_metrics(lambda m: _consumed(m) > 0)
        w.kill()
        w = Worker(cfg_path, "phoenix", log, web_port=w.web_port).start()
        produce(bs, cfg.kafka.topics.requests, chunks[1])
        # 2: after some transactions committed and windows were emitted
        w.wait_metrics(lambda m: m.get("truesli_transactions_total", 0) >= 3 and _consumed(m) > len(chunks[0]))
        w.kill()
        restoring = w.log_count(RESTORE_STARTS)
        w = Worker(cfg_path, "phoenix", log, web_port=w.web_port).start()
        produce(bs, cfg.kafka.topics.requests, chunks[2])
        # 3: the moment the restore starts (its log line), while the changelog is being read
        w.wait_log(RESTORE_STARTS, restoring + 1)
        w.kill()
        w = Worker(cfg_path, "phoenix", log, web_port=w.web_port).start()
        produce(bs, cfg.kafka.topics.requests, chunks[3])
        got = wait_for_counters(bs, cfg.kafka.topics.counters, expected, timeout=180)
        assert got == expected, w.tail()
        m = w.wait_metrics(lambda m: _consumed(m) == len(lines))
        assert m["truesli_state_restores_total"] == 3
        dead = read_topic(bs, cfg.kafka.topics.deadletter)
        assert len(dead) == len(MALFORMED)  # dead letters are exactly-once too
    finally:
        w.stop()


def test_broker_restart_mid_run(tmp_path):
    """Uses a broker of its own, so restarting it disturbs no other test."""
    from tests.support import kafka_broker as kb

    with kb.Broker() as broker:
        case = live_case(tmp_path, broker.bootstrap, partitions=2, events=12_000, seed=24)
        bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
        w = Worker(case.config_path, "steady", tmp_path / "steady.log").start()
        try:
            w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
            produce(bs, cfg.kafka.topics.requests, lines[:6_000])
            w.wait_metrics(lambda m: _consumed(m) > 0)
            broker.restart()
            produce(bs, cfg.kafka.topics.requests, lines[6_000:])
            got = wait_for_counters(bs, cfg.kafka.topics.counters, expected, timeout=180)
            assert got == expected, w.tail()
            assert w.proc.poll() is None, w.tail()
        finally:
            w.stop()


def test_broker_down_for_a_minute_is_survived_and_reported(tmp_path):
    """The broker disappears for 60 s while the worker runs, then comes back on the same ports and data;
    records keep arriving after it returns. The worker stays up and reconnects by itself, the counters
    equal embedded mode's (nothing lost, nothing counted twice), /metrics shows the outage while it lasts
    and after, and the log says "lost" once and "back" once instead of thousands of retry lines."""
    from tests.support import kafka_broker as kb

    with kb.Broker() as broker:
        case = live_case(tmp_path, broker.bootstrap, partitions=2, events=8_000, seed=26)
        bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
        log = tmp_path / "outage.log"
        w = Worker(case.config_path, "outage", log).start()
        try:
            w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
            produce(bs, cfg.kafka.topics.requests, lines[:4_000])
            m = w.wait_metrics(lambda m: _consumed(m) == 4_000)
            assert (m["truesli_broker_up"], m["truesli_broker_outages_total"]) == (1, 0)
            lines_before = len(log.read_text(errors="replace").splitlines())
            # The outage metric is checked against the events the test saw, on the same monotonic clock as
            # the worker's: the outage starts at the worker's first failed probe, after the halt and before
            # the test sees broker_up == 0; it ends after the resume and before the test sees broker_up == 1.
            # The halt is dated when it is asked for: a JVM shutting down stops answering before it exits, so
            # the first probe can fail before halt() returns (seen in CI: 0.28 s before).
            t_halt = time.monotonic()
            broker.halt()
            during = w.wait_metrics(lambda m: m["truesli_broker_up"] == 0, timeout=30)
            t_seen_down = time.monotonic()
            assert during["truesli_broker_outages_total"] == 1
            time.sleep(max(0.0, 60 - (time.monotonic() - t_halt)))  # the scenario: a one-minute outage
            t_ask = time.monotonic()
            during = w.metrics()
            t_answer = time.monotonic()
            assert during["truesli_broker_up"] == 0
            assert t_ask - t_seen_down <= during["truesli_broker_outage_seconds_total"] <= t_answer - t_halt
            assert w.proc.poll() is None, w.tail()
            t_resume = time.monotonic()
            broker.resume()
            m = w.wait_metrics(lambda m: m["truesli_broker_up"] == 1)
            t_seen_up = time.monotonic()
            assert m["truesli_broker_outages_total"] == 1
            assert t_resume - t_seen_down <= m["truesli_broker_outage_seconds_total"] <= t_seen_up - t_halt
            produce(bs, cfg.kafka.topics.requests, lines[4_000:])
            got = wait_for_counters(bs, cfg.kafka.topics.counters, expected, timeout=180)
            assert got == expected, w.tail()
            assert w.metrics()["truesli_broker_outages_total"] == 1
            assert w.proc.poll() is None, w.tail()
        finally:
            w.stop()
    text = log.read_text(errors="replace").splitlines()
    assert sum("Kafka broker lost" in line for line in text) == 1, w.tail(200)
    assert sum("Kafka broker is back after" in line for line in text) == 1, w.tail(200)
    # Every client retries several times a second while the broker is gone (7,000+ lines a minute before
    # rate limiting); what remains is a line per kind of failure.
    assert len(text) - lines_before < 150, w.tail(200)


def test_fenced_consumer_is_replaced_and_nothing_is_lost(kafka_broker, tmp_path):
    """After an outage longer than the session timeout librdkafka can be fenced by its own static
    membership (seen in the 60 s outage runs: "Static consumer fenced by other consumer with same
    group.instance.id", a fatal consumer error). Provoked here on purpose by a second consumer with the
    worker's group.instance.id: the worker replaces its consumer, restores, and counts everything once."""
    from confluent_kafka import Consumer

    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=2, events=6_000, seed=27)
    bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
    w = Worker(case.config_path, "fenced", tmp_path / "fenced.log").start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        produce(bs, cfg.kafka.topics.requests, lines[:3_000])
        w.wait_metrics(lambda m: _consumed(m) == 3_000)
        intruder = Consumer({"bootstrap.servers": bs, "group.id": cfg.kafka.group_id,
                             "group.instance.id": f"{cfg.kafka.group_id}-stage-a-fenced",
                             "session.timeout.ms": 10_000, "enable.auto.commit": False,
                             "logger": QuietLogger()})
        intruder.subscribe([cfg.kafka.topics.requests])
        deadline = time.monotonic() + 30
        while not intruder.assignment() and time.monotonic() < deadline:
            intruder.poll(0.2)
        intruder.close()
        w.wait_metrics(lambda m: m["truesli_consumer_rebuilds_total"] == 1, timeout=60)
        produce(bs, cfg.kafka.topics.requests, lines[3_000:])
        got = wait_for_counters(bs, cfg.kafka.topics.counters, expected, timeout=120)
        assert got == expected, w.tail()
        m = w.wait_metrics(lambda m: _consumed(m) == len(lines))
        assert m["truesli_consumer_rebuilds_total"] == 1
        assert w.proc.poll() is None
    finally:
        w.stop()
    assert sum("Kafka consumer failed" in line for line in w.tail(10_000).splitlines()) == 1


def _stage_a_child(worker_pid: int) -> int:
    """The pid of the worker's Stage A process (a multiprocessing spawn child; its resource tracker, the
    other child, is not it)."""
    from pathlib import Path

    found = []
    for children in Path(f"/proc/{worker_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(pid))
    assert len(found) == 1, found
    return found[0]


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan nobody reaped yet has ended)."""
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stage_a_process_dies_with_the_worker_and_its_failure_stops_the_worker(kafka_broker, tmp_path):
    """Stage A runs in a child process (streams/live/stage_a_process.py). A SIGKILLed worker leaves no
    Stage A behind holding its partitions; a Stage A that dies makes the worker exit non-zero with the
    reason; and across both, every record is still counted exactly once."""
    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=2, events=6_000, seed=28)
    bs, cfg, lines, expected = case.bootstrap, case.config, case.lines, case.expected
    log = tmp_path / "parent.log"
    w = Worker(case.config_path, "parent", log).start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        produce(bs, cfg.kafka.topics.requests, lines[:3_000])
        w.wait_metrics(lambda m: _consumed(m) > 0)
        child = _stage_a_child(w.proc.pid)
        w.kill()
        deadline = time.monotonic() + 5
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child), "Stage A outlived its SIGKILLed worker"

        w = Worker(case.config_path, "parent", log, web_port=w.web_port).start()
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        child = _stage_a_child(w.proc.pid)
        os.kill(child, signal.SIGKILL)
        assert w.proc.wait(60) != 0
        assert w.log_count("Stage A stopped: its process exited unexpectedly (exit code -9)") == 1, w.tail()

        w = Worker(case.config_path, "parent", log, web_port=w.web_port).start()
        produce(bs, cfg.kafka.topics.requests, lines[3_000:])
        got = wait_for_counters(bs, cfg.kafka.topics.counters, expected, timeout=120)
        assert got == expected, w.tail()
        m = w.wait_metrics(lambda m: _consumed(m) == len(lines))
        assert m["truesli_state_restores_total"] == 2
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()


def test_unreachable_broker_is_one_clear_error(tmp_path):
    cfg_path = live_config(tmp_path, "127.0.0.1:1", partitions=1)
    r = subprocess.run([sys.executable, "-m", "streams.cli", "run", "--config", str(cfg_path)], cwd=ROOT,
                       capture_output=True, timeout=60)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.startswith("truesli: error: cannot reach Kafka at 127.0.0.1:1:")
    assert "check kafka.bootstrap_servers and that the broker is running" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_docker_compose_file_is_valid():
    """No engine runs here, but the compose client validates the file (scripts/test installs it)."""
    for compose in (["docker", "compose"], ["docker-compose"]):
        if subprocess.run([*compose, "version"], capture_output=True).returncode == 0:
            break
    else:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (scripts/test installs it)")
    r = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    rendered = r.stdout.decode()
    for service in ("kafka:", "prometheus:", "truesli:"):
        assert service in rendered
    assert "--web.enable-remote-write-receiver" in rendered
