"""Helpers for live-worker tests: configs with private topics, worker processes, reading results back."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import yaml
from confluent_kafka import Consumer, KafkaError

from streams.config import Config, load_config
from streams.runs.embedded import run_records
from streams.tools.loaders import produce_request_logs
from streams.core.timeparse import parse_rfc3339
from streams.tools.gen import generate

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = [b'{"truncated": ', b'{"ts": "2026-01-01T00:00:05Z", "method": "GET"}', b"\xff\xfe\x00garbage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_config(tmp_path: Path, bootstrap: str, partitions: int = 3) -> Path:
    """A config whose topics and group are private to one test. Small windows so they close quickly."""
    tag = uuid.uuid4().hex[:8]
    doc = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"t{tag}", "partitions": partitions,
                  "commit_interval_ms": 300, "batch_max_messages": 2000, "connect_timeout_s": 10,
                  "transaction_timeout_ms": 6000,
                  "topics": {name: f"t{tag}.{name}" for name in
                             ("requests", "counters", "partials", "anomalies", "deadletter", "changes", "user_reports",
                              "state")}},
        "windows": {"size_s": 10, "allowed_lateness_s": 0, "idle_timeout_s": 1},
        "worker": {"data_dir": str(tmp_path / "data")},
    }
    path = tmp_path / f"live-{tag}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def mix(events: int, seed: int) -> list[bytes]:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    return buf.getvalue().splitlines() + MALFORMED


def produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    produce_request_logs({"bootstrap.servers": bootstrap}, topic, lines)


def with_traffic(counters: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """The windows that saw requests (raw or filtered). Live equals embedded over these: a live worker that
    has gone idle keeps closing windows by the clock and emits them empty (``emit_empty``) — the no-traffic
    signal, which an embedded run over the same records never reaches (docs/operations.md)."""
    return {k: v for k, v in counters.items() if v[3] > 0 or any(v[4].values())}


def expected_counters(config: Config, lines: list[bytes]) -> dict[tuple, tuple]:
    """What embedded mode computes for the same records, over the windows with traffic: the reference for
    live results."""
    return with_traffic({(c.journey, c.slo, c.window_start_ms): (c.good, c.total, c.raw_good, c.raw_total,
                                                                  dict(sorted(c.filtered.items())))
                         for c in run_records(config, lines).merged()})


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0) -> list[tuple[bytes | None, bytes | None, int]]:
    """Every committed message (key, value, partition) from the beginning to the current end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                  "enable.partition.eof": True, "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    eof: set[int] = set()
    assigned: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for m in c.consume(1000, 0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    continue
                eof.discard(m.partition())
                out.append((m.key(), m.value(), m.partition()))
            assigned = {tp.partition for tp in c.assignment()}
            if assigned and eof >= assigned:
                break
    finally:
        c.close()
    return out


def live_counters(bootstrap: str, topic: str) -> dict[tuple, tuple]:
    """The live worker's counters (latest message per key), over the windows with traffic."""
    got = {}
    for _, value, _ in read_topic(bootstrap, topic):
        d = orjson.loads(value)
        got[(d["journey"], d["slo"], parse_rfc3339(d["window_start"]))] = (
            d["good"], d["total"], d["raw_good"], d["raw_total"], d["filtered"])
    return with_traffic(got)


def wait_for_counters(bootstrap: str, topic: str, expected: dict, timeout: float = 120.0) -> dict:
    """Poll sli.counters until it equals ``expected`` or the time is up; returns the last reading."""
    deadline = time.monotonic() + timeout
    got: dict = {}
    while time.monotonic() < deadline:
        got = live_counters(bootstrap, topic)
        if got == expected:
            return got
        time.sleep(2)
    return got


@dataclass
class Worker:
    """A ``truesli run`` process."""

    config_path: Path
    worker_id: str
    log_path: Path
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run", "--config", str(self.config_path),
             "--worker-id", self.worker_id, "--web-port", str(self.web_port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def metrics(self) -> dict[str, float]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def wait_metrics(self, predicate, timeout: float = 90.0) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        last: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                last = self.metrics()
                if predicate(last):
                    return last
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"metrics condition not met; last={last}\n{self.tail()}")

    def log_count(self, text: str) -> int:
        """Lines of this worker's log file (every incarnation that shares it) containing ``text``."""
        return sum(text in line for line in self.log_path.read_text(errors="replace").splitlines())

    def wait_log(self, text: str, count: int, timeout: float = 90.0) -> None:
        """Until the log file holds ``count`` lines containing ``text`` (an event, not a time)."""
        deadline = time.monotonic() + timeout
        while self.log_count(text) < count:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            if time.monotonic() > deadline:
                raise AssertionError(f"log line {text!r} seen {self.log_count(text)}× of {count}\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def load(path: Path) -> Config:
    return load_config(path)


@dataclass
class LiveCase:
    """One live test's private topics, its input records and what embedded mode computes for them."""

    bootstrap: str
    config_path: Path
    config: Config
    lines: list[bytes]
    expected: dict

    @property
    def topics(self):
        return self.config.kafka.topics


def live_case(tmp_path: Path, bootstrap: str, *, partitions: int, events: int, seed: int) -> LiveCase:
    config_path = live_config(tmp_path, bootstrap, partitions=partitions)
    config = load(config_path)
    lines = mix(events, seed=seed)
    return LiveCase(bootstrap, config_path, config, lines, expected_counters(config, lines))
