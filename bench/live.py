#!/usr/bin/env python3
"""Live throughput: truesli's worker against a bare consumer, a per-event faust agent and Quix Streams.

One broker, one topic, one run. The generated mix (streams.tools.gen, 90 % non-users) is produced once, keyed by
client IP, to a topic with --partitions partitions; then each leg reads all of it from the beginning with
a fresh consumer group, one leg after another (never two at once, so each has the machine to itself):

  ceiling      a consume-only confluent-kafka loop (Consumer.consume(10000)), in this process, with the
               settings truesli's consumers start from (kafka/clients.CONSUMER_DEFAULTS)
  truesli      `python -m streams.cli run` (the live worker: Stage A batches + transactions, Stage B
               faust agent) until /metrics shows every record consumed, then until sli.counters holds
               every window (checked against embedded mode on the same records)
  faust        bench/live_faust.py: a per-event faust agent (decode, drop crawlers, count
               good/total per minute in a dict)
  quix         bench/live_quix.py --mode dict: the same job in Quix Streams (filter + update)
  quix_window  bench/live_quix.py --mode window: the idiomatic Quix version (group_by journey
               + 1-minute tumbling window reduce in RocksDB state)

Rate of a leg = records after its first observed record / time from that observation to the last
record, so start-up (faust boot, group join, partition assignment, state restore) is excluded; it is
reported separately. The baselines do much less work than truesli (one filter instead of six, no
per-IP state, no verdict bookkeeping, no exactly-once, no output): the ratios say what the whole
product costs against a framework doing a bare-bones version of the job.

Usage (from the repository root, with the project's venv):
  .venv/bin/python bench/live.py                       # 1,000,000 events, fresh broker
  .venv/bin/python bench/live.py --events 100000 --json out/bench_live.json
  .venv/bin/python bench/live.py --bootstrap 127.0.0.1:9092 --legs ceiling,truesli

The Quix legs run in their own virtualenv (quixstreams 3.x pins confluent-kafka < 2.13 and
pydantic < 2.14; installing it into .venv would downgrade truesli's confluent-kafka): it is created under
.cache/bench-quix-venv on first use (PyPI), or pass --quix-python.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

try:
    import orjson
    import yaml
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as exc:  # pragma: no cover - wrong interpreter
    sys.exit(f"bench_live: {exc}; run it with the project's venv: .venv/bin/python bench/live.py")

ALL_LEGS = ("ceiling", "truesli", "faust", "quix", "quix_window")
DEFAULT_LEGS = ALL_LEGS
QUIX_VENV = ROOT / ".cache" / "bench-quix-venv"
QUIX_REQUIREMENT = "quixstreams>=3,<4"
POLL_S = 0.1


class BenchError(Exception):
    """A leg (or the set-up) failed; the message says why and where the logs are."""


def log(msg: str) -> None:
    print(f"[bench_live {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- child processes -----------------------------------------------------------------------------------------
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here, not in the forked child
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it if this harness dies (even by SIGKILL)."""
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0

    def start(self) -> "Child":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as out:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        _children.append(self)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            raise BenchError(f"{self.name} exited early (code {code}); last log lines:\n{self.tail()}")

    def cpu_seconds(self) -> float | None:
        """CPU of the leg's process and its children (the truesli worker runs Stage A in a child)."""
        if not self.proc:
            return None
        own = proc_cpu_seconds(self.proc.pid)
        return None if own is None else own + sum(proc_cpu_seconds(c) or 0.0 for c in child_pids(self.proc.pid))

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within {timeout:.0f} s of SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait(10)
        with contextlib.suppress(ValueError):
            _children.remove(self)
        return self.proc.returncode

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


_children: list[Child] = []


def kill_all_children() -> None:
    for child in list(_children):
        with contextlib.suppress(Exception):
            child.stop(timeout=15)


def proc_cpu_seconds(pid: int | None) -> float | None:
    """user + system CPU seconds of a process (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        data = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(data[11]) + int(data[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (every thread's), from /proc."""
    out: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out.extend(int(c) for c in children.read_text().split())
    return out


def self_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- set-up: broker, data, topic --------------------------------------------------------------------------------
def generate_lines(events: int, seed: int) -> list[bytes]:
    from streams.tools.gen import generate

    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    lines = buf.getvalue().splitlines()
    if len(lines) != events:
        raise BenchError(f"generator wrote {len(lines)} lines, expected {events}")
    return lines


def create_topic(bootstrap: str, name: str, partitions: int, timeout: float = 30.0) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout)
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(topic=name, timeout=5).topics.get(name)
        if meta is not None and meta.error is None and len(meta.partitions) == partitions and all(
                p.leader >= 0 for p in meta.partitions.values()):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"topic {name} has no leader for every partition after {timeout:.0f} s")
        time.sleep(0.1)


def produce(bootstrap: str, topic: str, lines: list[bytes]) -> float:
    """Keyed by client IP (the request_log contract). Returns seconds taken."""
    from streams.kafka.clients import KafkaUnavailable
    from streams.tools.loaders import produce_request_logs

    t0 = time.monotonic()
    try:
        produce_request_logs({"bootstrap.servers": bootstrap}, topic, lines)
    except KafkaUnavailable as exc:
        raise BenchError(str(exc)) from None
    return time.monotonic() - t0


def topic_size(bootstrap: str, topic: str, partitions: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-size-{uuid.uuid4().hex[:8]}"})
    try:
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions))
    finally:
        c.close()


# -- reference results --------------------------------------------------------------------------------------------
def truesli_reference(config_path: Path, lines: list[bytes]) -> dict[tuple, tuple]:
    """What embedded mode computes for the same records: live sli.counters must end equal to it."""
    from streams.config import load_config
    from streams.runs.embedded import run_records

    return {(c.journey, c.slo, c.window_start_ms): (c.good, c.total, c.raw_good, c.raw_total,
                                                     dict(sorted(c.filtered.items())))
            for c in run_records(load_config(config_path), lines).merged()}


def baseline_reference(lines: list[bytes]) -> dict:
    from bench.live_faust import Job

    job = Job()
    loads = orjson.loads
    for line in lines:
        job.add(loads(line))
    return job.summary()


# -- leg results ----------------------------------------------------------------------------------------------------
@dataclass
class Leg:
    name: str
    events: int
    rate: float | None = None           # events/s over the consumption window
    window_s: float | None = None       # first observed record -> last record
    startup_s: float | None = None      # process start (or subscribe) -> first observed record
    cpu_s: float | None = None          # CPU of the leg's process over the consumption window
    published_s: float | None = None    # truesli: all consumed -> sli.counters complete
    total_s: float | None = None        # process start -> done (truesli: counters complete)
    broker_cpu_s: float | None = None   # broker JVM CPU over the whole leg (only when started here)
    correct: bool | None = None
    error: str | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "details"}
        for k in ("rate",):
            if d[k] is not None:
                d[k] = round(d[k])
        for k in ("window_s", "startup_s", "cpu_s", "published_s", "total_s", "broker_cpu_s"):
            if d[k] is not None:
                d[k] = round(d[k], 3)
        d["cpu_cores"] = round(self.cpu_s / self.window_s, 2) if self.cpu_s and self.window_s else None
        d["details"] = self.details
        return d


def rate_from(first_n: int, t_first: float, n_last: int, t_last: float) -> tuple[float, float]:
    span = t_last - t_first
    if span <= 0:
        raise BenchError("consumption window too short to measure; use more --events")
    return (n_last - first_n) / span, span


# -- leg (a): the ceiling ---------------------------------------------------------------------------------------------
def leg_ceiling(ctx: "Context") -> Leg:
    from streams.cli import COLLECTOR_THRESHOLDS
    from streams.kafka.clients import CONSUMER_DEFAULTS

    leg = Leg("ceiling", ctx.events)
    # The collector thresholds truesli's worker runs with: at CPython's default the loop's 10,000 Message
    # objects per call make it 1.7-3.3x slower (docs/benchmarks.md "Fourth round"), a ceiling below its own.
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    # And the consumer defaults truesli's own consumers have (a stall of a second whenever the queue fills
    # at librdkafka's fetch.queue.backoff.ms: docs/benchmarks.md, seventh round).
    c = Consumer({"bootstrap.servers": ctx.bootstrap, "group.id": f"bench-ceiling-{ctx.tag}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": False,
                  **CONSUMER_DEFAULTS})
    deadline = time.monotonic() + ctx.leg_timeout
    t_sub = time.monotonic()
    c.subscribe([ctx.topic])
    n = first_n = 0
    t_first = cpu_first = 0.0
    nbytes = 0
    try:
        while n < ctx.events:
            if time.monotonic() > deadline:
                raise BenchError(f"ceiling: only {n:,} of {ctx.events:,} records after {ctx.leg_timeout:.0f} s")
            msgs = c.consume(10_000, 1.0)
            for m in msgs:
                if m.error() is None:
                    nbytes += len(m.value())
                    n += 1
            if msgs and not first_n:
                t_first, cpu_first, first_n = time.monotonic(), self_cpu_seconds(), n
        t_last, cpu_last = time.monotonic(), self_cpu_seconds()
    finally:
        c.close()
    leg.rate, leg.window_s = rate_from(first_n, t_first, n, t_last)
    leg.startup_s = t_first - t_sub
    leg.cpu_s = cpu_last - cpu_first
    leg.total_s = t_last - t_sub
    leg.correct = n == ctx.events
    leg.details = {"records": n, "bytes": nbytes, "first_batch": first_n}
    return leg


# -- leg (b): truesli's live worker ------------------------------------------------------------------------------------
def write_truesli_config(ctx: "Context") -> Path:
    tag = f"bench{ctx.tag}"
    topics = {name: f"{tag}.{name}" for name in ("counters", "partials", "anomalies", "deadletter", "changes",
                                                   "state")}
    topics["requests"] = ctx.topic
    doc = {
        "kafka": {"bootstrap_servers": ctx.bootstrap, "group_id": tag, "partitions": ctx.partitions,
                  "topics": topics},
        "windows": {"size_s": 60, "allowed_lateness_s": 0, "idle_timeout_s": 1},
        "worker": {"data_dir": str(ctx.workdir / "truesli-data")},
    }
    path = ctx.workdir / "truesli-bench.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def read_metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class CounterWatcher:
    """Follows sli.counters (read_committed) and keeps the newest value per key."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from streams.core.timeparse import parse_rfc3339

        self._parse = parse_rfc3339
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-watch-{uuid.uuid4().hex[:8]}",
                           "enable.auto.commit": False, "isolation.level": "read_committed",
                           "enable.partition.eof": False})
        parts = self.c.list_topics(topic, timeout=10).topics[topic].partitions
        self.c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        self.latest: dict[tuple, tuple] = {}
        self.messages = 0
        self.last_change = time.monotonic()

    def poll(self, timeout: float = 0.2) -> None:
        for m in self.c.consume(1000, timeout):
            if m.error() is not None:
                if m.error().code() != KafkaError._PARTITION_EOF:
                    log(f"sli.counters read error: {m.error().str()}")
                continue
            d = orjson.loads(m.value())
            key = (d["journey"], d["slo"], self._parse(d["window_start"]))
            val = (d["good"], d["total"], d["raw_good"], d["raw_total"], d["filtered"])
            self.messages += 1
            if self.latest.get(key) != val:
                self.latest[key] = val
                self.last_change = time.monotonic()

    def close(self) -> None:
        self.c.close()


def leg_truesli(ctx: "Context") -> Leg:
    leg = Leg("truesli", ctx.events)
    port = free_port()
    w = Child("truesli worker", [sys.executable, "-m", "streams.cli", "run", "--config", str(ctx.truesli_config),
                                 "--worker-id", "bench", "--web-port", str(port), "--loglevel", "warning"],
              ctx.workdir / "truesli.log").start()
    deadline = w.started + ctx.leg_timeout
    t_web = t_assigned = t1 = tN = None
    c1 = 0
    cpu1 = cpuN = None
    m: dict[str, float] = {}
    try:
        while True:
            w.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"truesli: consumed {m.get('truesli_consumed_total', 0):,.0f} of {ctx.events:,} "
                                 f"records after {ctx.leg_timeout:.0f} s; log tail:\n{w.tail()}")
            try:
                m = read_metrics(port)
            except OSError:
                time.sleep(POLL_S)
                continue
            now = time.monotonic()
            t_web = t_web or now
            if t_assigned is None and m.get("truesli_assigned_partitions", 0) >= ctx.partitions:
                t_assigned = now
            consumed = int(m.get("truesli_consumed_total", 0))
            if t1 is None and consumed > 0:
                t1, c1, cpu1 = now, consumed, w.cpu_seconds()
            if consumed >= ctx.events:
                tN, cpuN = now, w.cpu_seconds()
                break
            time.sleep(POLL_S)
        if consumed != ctx.events:
            raise BenchError(f"truesli consumed {consumed:,} records, the topic holds {ctx.events:,}")
        leg.rate, leg.window_s = rate_from(c1, t1, consumed, tN)
        leg.startup_s = t1 - w.started
        leg.cpu_s = cpuN - cpu1 if cpu1 is not None and cpuN is not None else None
        # Then: until sli.counters holds every window (== embedded mode), or stops changing.
        watcher = CounterWatcher(ctx.bootstrap, ctx.truesli_counters_topic)
        quiet_s = 15.0
        try:
            while True:
                w.check_alive()
                watcher.poll()
                now = time.monotonic()
                if ctx.truesli_expected is not None and watcher.latest == ctx.truesli_expected:
                    t_pub, how = now, "equal to embedded mode"
                    break
                if now - max(watcher.last_change, tN) > quiet_s:
                    t_pub, how = watcher.last_change, f"no change for {quiet_s:.0f} s"
                    break
                if now > deadline:
                    raise BenchError(f"truesli: sli.counters incomplete after {ctx.leg_timeout:.0f} s "
                                     f"({len(watcher.latest)} windows)")
        finally:
            watcher.close()
        leg.published_s = max(0.0, t_pub - tN)
        leg.total_s = t_pub - w.started
        leg.correct = ctx.truesli_expected is None or watcher.latest == ctx.truesli_expected
        m = read_metrics(port)
        leg.details = {
            "faust_web_up_s": round(t_web - w.started, 3) if t_web else None,
            "all_partitions_reporting_s": round(t_assigned - w.started, 3) if t_assigned else None,
            "first_observed_consumed": c1, "poll_interval_s": POLL_S,
            "counters_complete": how, "counter_windows": len(watcher.latest),
            "counter_messages_read": watcher.messages,
            "expected_windows": len(ctx.truesli_expected) if ctx.truesli_expected is not None else None,
            "end_to_end_events_per_s": round(ctx.events / (t_pub - w.started)),
            "metrics": {k: v for k, v in m.items() if k.startswith((
                "truesli_consumed", "truesli_counted", "truesli_filtered", "truesli_excluded", "truesli_unmatched",
                "truesli_dead_lettered", "truesli_batches", "truesli_batch_seconds", "truesli_transactions",
                "truesli_transaction_aborts", "truesli_state_restores", "truesli_producer_replacements",
                "truesli_late", "truesli_broker_errors"))},
        }
        bs = m.get("truesli_batch_seconds_total")
        if bs:
            leg.details["core_only_events_per_s"] = round(ctx.events / bs)
        if not leg.correct:
            missing = set(ctx.truesli_expected) - set(watcher.latest)
            differ = [k for k in ctx.truesli_expected if k in watcher.latest
                      and watcher.latest[k] != ctx.truesli_expected[k]]
            leg.details["mismatch"] = {"missing_windows": len(missing), "differing_windows": len(differ),
                                       "example": str(differ[:1] or sorted(missing)[:1])}
    finally:
        code = w.stop(timeout=40)
        leg.details["exit_code"] = code
    return leg


# -- legs (c), (d): faust and Quix baselines -------------------------------------------------------------------------
def leg_child(ctx: "Context", name: str, argv: list[str], result: Path, exits_when_done: bool = False) -> Leg:
    leg = Leg(name, ctx.events)
    child = Child(name, argv, ctx.workdir / f"{name}.log").start()
    deadline = child.started + ctx.leg_timeout
    try:
        while not result.exists():
            child.check_alive()
            if time.monotonic() > deadline:
                progress = Path(f"{result}.progress")
                done = progress.read_text() if progress.exists() else "0"
                raise BenchError(f"{name}: ~{int(done):,} of {ctx.events:,} records after {ctx.leg_timeout:.0f} s; "
                                 f"log tail:\n{child.tail()}")
            time.sleep(POLL_S)
        doc = json.loads(result.read_text())
        if exits_when_done:  # let it shut down by itself (not timed)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(15)
    finally:
        code = child.stop(timeout=30)
    leg.rate, leg.window_s = rate_from(1, doc["t_first"], doc["processed"], doc["t_last"])
    leg.startup_s = doc["t_first"] - child.started
    leg.cpu_s = doc["cpu_last"] - doc["cpu_first"]
    leg.total_s = doc["t_last"] - child.started
    leg.correct = doc["summary"] == ctx.baseline_expected if ctx.baseline_expected is not None else None
    leg.details = {k: v for k, v in doc.items() if k not in ("t_first", "t_last", "cpu_first", "cpu_last")}
    leg.details["exit_code"] = code
    if leg.correct is False:
        leg.details["expected_summary"] = ctx.baseline_expected
    return leg


def leg_faust(ctx: "Context") -> Leg:
    result = ctx.workdir / "faust-result.json"
    argv = [sys.executable, str(BENCH / "live_faust.py"), "--bootstrap", ctx.bootstrap, "--topic", ctx.topic,
            "--events", str(ctx.events), "--result", str(result), "--app-id", f"bench-faust-{ctx.tag}",
            "--datadir", str(ctx.workdir / "faust-data"), "--partitions", str(ctx.partitions)]
    return leg_child(ctx, "faust", argv, result)


def leg_quix(ctx: "Context", mode: str) -> Leg:
    name = "quix" if mode == "dict" else "quix_window"
    result = ctx.workdir / f"{name}-result.json"
    argv = [ctx.quix_python(), str(BENCH / "live_quix.py"), "--bootstrap", ctx.bootstrap, "--topic",
            ctx.topic, "--events", str(ctx.events), "--result", str(result), "--group", f"bench-{name}-{ctx.tag}",
            "--state-dir", str(ctx.workdir / f"{name}-state"), "--mode", mode]
    return leg_child(ctx, name, argv, result, exits_when_done=True)


def ensure_quix_python(explicit: str | None) -> str:
    """The interpreter of a venv with quixstreams (created under .cache/ on first use)."""
    if explicit:
        return explicit
    from importlib.metadata import version

    py = QUIX_VENV / "bin" / "python"
    reqs = [QUIX_REQUIREMENT, f"orjson=={version('orjson')}", f"crawler-user-agents=={version('crawler-user-agents')}"]
    stamp = QUIX_VENV / ".bench-live-requirements"
    if py.exists() and stamp.exists() and stamp.read_text() == " ".join(reqs):
        return str(py)
    log(f"creating {QUIX_VENV} with {' '.join(reqs)} (once; quixstreams pins an older confluent-kafka)")
    base = getattr(sys, "_base_executable", None) or sys.executable
    try:
        subprocess.run([base, "-m", "venv", str(QUIX_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *reqs], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"cannot set up the Quix venv at {QUIX_VENV}: {exc} (or pass --quix-python)") from None
    stamp.write_text(" ".join(reqs))
    return str(py)


# -- orchestration ----------------------------------------------------------------------------------------------------
@dataclass
class Context:
    bootstrap: str
    topic: str
    events: int
    partitions: int
    tag: str
    workdir: Path
    leg_timeout: float
    quix_python_arg: str | None
    truesli_config: Path | None = None
    truesli_counters_topic: str = ""
    truesli_expected: dict | None = None
    baseline_expected: dict | None = None
    _quix_python: str | None = None

    def quix_python(self) -> str:
        if self._quix_python is None:
            self._quix_python = ensure_quix_python(self.quix_python_arg)
        return self._quix_python


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import confluent_kafka

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "confluent_kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0]}
    for pkg in ("faust-streaming", "aiokafka", "orjson", "crawler-user-agents"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    with contextlib.suppress(OSError):
        out["loadavg_at_start"] = os.getloadavg()
    return out


def fmt_rate(x: float | None) -> str:
    return f"{x:,.0f}" if x else "—"


def fmt_s(x: float | None, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if x is not None else "—"


def render_table(doc: dict) -> str:
    rows = ["| leg | events/s | consume s | start-up s | CPU s (cores) | broker CPU s | counters published s "
            "| check |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, leg in doc["legs"].items():
        if leg.get("error"):
            rows.append(f"| {name} | failed | | | | | | {leg['error'].splitlines()[0][:80]} |")
            continue
        cpu = f"{fmt_s(leg['cpu_s'])} ({fmt_s(leg['cpu_cores'])})" if leg["cpu_s"] is not None else "—"
        check = {True: "ok", False: "MISMATCH", None: "—"}[leg["correct"]]
        rows.append(f"| {name} | {fmt_rate(leg['rate'])} | {fmt_s(leg['window_s'])} | {fmt_s(leg['startup_s'])} | "
                    f"{cpu} | {fmt_s(leg['broker_cpu_s'])} | {fmt_s(leg['published_s'])} | {check} |")
    out = "\n".join(rows) + (
        "\n\nevents/s: records after the first observed one ÷ time from it to the last record (start-up "
        "excluded, shown apart). CPU: the leg's process over that window (cores = CPU s ÷ consume s). Broker CPU: "
        "the broker JVM over the whole leg (only when started here). Counters published: truesli, last record "
        "consumed → sli.counters complete. check: truesli's counters equal embedded mode; the baselines' counts "
        "equal the in-process reference.")
    if doc["ratios"]:
        out += "\n\n| ratio | value |\n|---|---:|\n" + "\n".join(
            f"| {k} | {v:.2f}× |" for k, v in doc["ratios"].items())
    return out


def run(args: argparse.Namespace) -> dict:
    legs = [x.strip() for x in args.legs.split(",") if x.strip()]
    unknown = set(legs) - set(ALL_LEGS)
    if unknown:
        raise BenchError(f"unknown leg(s) {sorted(unknown)}; choose from {', '.join(ALL_LEGS)}")
    t_run = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="truesli-bench-live-"))
    workdir.mkdir(parents=True, exist_ok=True)
    leg_timeout = args.leg_timeout or max(300.0, args.events * 0.0006)
    try:
        return _run(args, legs, t_run, tag, workdir, leg_timeout)
    except BaseException:
        log(f"logs kept in {workdir}")
        raise


def _run(args: argparse.Namespace, legs: list[str], t_run: float, tag: str, workdir: Path,
         leg_timeout: float) -> dict:
    with contextlib.ExitStack() as stack:
        broker = None
        if args.bootstrap:
            bootstrap = args.bootstrap
        else:
            from tests.support import kafka_broker as kb

            log("starting a Kafka broker (tests/support/kafka_broker.py)")
            broker = stack.enter_context(kb.Broker())
            bootstrap = broker.bootstrap
        stack.callback(kill_all_children)
        ctx = Context(bootstrap=bootstrap, topic=f"bench-{tag}.requests", events=args.events,
                      partitions=args.partitions, tag=tag, workdir=workdir, leg_timeout=leg_timeout,
                      quix_python_arg=args.quix_python)
        if any(x.startswith("quix") for x in legs):
            ctx.quix_python()  # set up before any timing, not inside a leg
        log(f"generating {args.events:,} events (seed {args.seed}, 90 % non-users)")
        lines = generate_lines(args.events, args.seed)
        create_topic(bootstrap, ctx.topic, args.partitions)
        log(f"producing to {ctx.topic} ({args.partitions} partitions) on {bootstrap}")
        produce_s = produce(bootstrap, ctx.topic, lines)
        size = topic_size(bootstrap, ctx.topic, args.partitions)
        if size != args.events:
            raise BenchError(f"topic {ctx.topic} holds {size:,} records, expected {args.events:,}")
        if "truesli" in legs:
            ctx.truesli_config = write_truesli_config(ctx)
            ctx.truesli_counters_topic = f"bench{tag}.counters"
            if not args.no_verify:
                log("computing the embedded-mode reference for truesli's counters")
                ctx.truesli_expected = truesli_reference(ctx.truesli_config, lines)
        if not args.no_verify and ({"faust", "quix", "quix_window"} & set(legs)):
            ctx.baseline_expected = baseline_reference(lines)
        del lines
        gc.collect()

        results: dict[str, Leg] = {}
        funcs = {"ceiling": leg_ceiling, "truesli": leg_truesli, "faust": leg_faust,
                 "quix": lambda c: leg_quix(c, "dict"), "quix_window": lambda c: leg_quix(c, "window")}
        for name in legs:
            time.sleep(args.settle)  # let the previous leg's processes and the broker calm down
            log(f"leg {name}: running (timeout {leg_timeout:.0f} s)")
            broker_cpu0 = proc_cpu_seconds(broker.pid) if broker else None
            try:
                leg = funcs[name](ctx)
            except BenchError as exc:
                leg = Leg(name, args.events, error=str(exc))
                log(f"leg {name} FAILED: {exc}")
            if broker_cpu0 is not None:
                cpu1 = proc_cpu_seconds(broker.pid)
                leg.broker_cpu_s = cpu1 - broker_cpu0 if cpu1 is not None else None
            results[name] = leg
            if not leg.error:
                log(f"leg {name}: {leg.rate:,.0f} events/s over {leg.window_s:.2f} s "
                    f"(start-up {leg.startup_s:.2f} s)")
    ratios: dict[str, float] = {}
    t = results.get("truesli")
    if t and t.rate:
        for other in ("ceiling", "quix", "quix_window", "faust"):
            o = results.get(other)
            if o and o.rate:
                ratios[f"truesli/{other}"] = round(t.rate / o.rate, 3)
    doc = {
        "events": args.events, "partitions": args.partitions, "seed": args.seed, "bot_share": 0.9,
        "bootstrap": bootstrap if args.bootstrap else "fresh broker (tests/support/kafka_broker.py)",
        "produce_seconds": round(produce_s, 3), "produce_events_per_s": round(args.events / produce_s),
        "leg_timeout_s": leg_timeout, "versions": versions(),
        "legs": {name: leg.to_dict() for name, leg in results.items()},
        "ratios": ratios,
        "baseline_reference": ctx.baseline_expected,
        "wall_seconds": round(time.monotonic() - t_run, 1),
        "workdir": str(workdir),
    }
    failed = any(leg.error or leg.correct is False for leg in results.values())
    if args.keep or failed:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        doc["workdir"] = None
    doc["failed"] = failed
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--bootstrap", help="use this broker (host:port) instead of starting a fresh one")
    ap.add_argument("--legs", default=",".join(DEFAULT_LEGS), help=f"comma-separated, in order (default: all: "
                                                                   f"{','.join(ALL_LEGS)})")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--leg-timeout", type=float, help="seconds per leg (default: max(300, 0.6 ms × events))")
    ap.add_argument("--settle", type=float, default=3.0, help="pause before each leg, seconds (default 3)")
    ap.add_argument("--quix-python", help="python of a venv with quixstreams (default: .cache/bench-quix-venv, "
                                          "created on first use)")
    ap.add_argument("--no-verify", action="store_true", help="skip the reference computations (faster set-up; "
                                                             "truesli's counters then count as done when quiet)")
    ap.add_argument("--workdir", help="where configs, logs and results go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the workdir (it is always kept when a leg fails)")
    args = ap.parse_args(argv)
    if args.events < 10_000:
        ap.error("--events must be at least 10,000 (shorter runs measure only start-up noise)")

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    try:
        doc = run(args)
    except BenchError as exc:
        print(f"bench_live: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench_live: interrupted; child processes stopped", file=sys.stderr)
        return 130
    finally:
        kill_all_children()
    print(f"\n## Live throughput: {doc['events']:,} events, {doc['partitions']} partitions "
          f"({doc['versions']['cpus']} CPUs, Python {doc['versions']['python']})\n")
    print(render_table(doc))
    print(f"\nproduce: {doc['produce_events_per_s']:,} events/s; whole run {doc['wall_seconds']} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if doc["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
