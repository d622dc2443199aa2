"""Stage A in its own process: the worker's web server, faust and Stage B no longer share its GIL.

Measured (docs/benchmarks.md, "Eighth round"): Stage A alone in a process consumed 1.30× what the worker
did with Stage A on a thread beside faust's loop, Stage B and the web server. So ``truesli run`` spawns
one child process that runs :class:`streams.live.stage_a.StageA` unchanged — consumer, pipelines,
transactional producer, exactly-once commits all stay in the child — and keeps in the parent only what
the parent serves:

- **Stats.** The child sends a snapshot of its :class:`StageAStats` (everything but ``broker``) at most
  every :data:`REPORT_INTERVAL_S` and when it stops; the parent's :attr:`StageAProcess.stats` mirrors it
  for /metrics and /health. ``last_ok_monotonic`` needs no conversion: ``time.monotonic`` is
  CLOCK_MONOTONIC, one clock for every process on the machine.
- **The broker probe** (``broker``: up/down, outages, outage seconds) runs in the parent, so outage
  seconds advance live even while the child is blocked in a call to a broker that is away.
- **Logs.** The child's log records come over the same pipe and are handled by the parent's loggers:
  one format, one level, one rate limit and one secrets filter for the whole worker.

Every message is JSON (``[kind, payload]``); nothing truesli sends is pickled. Only the child's start
arguments (the config) travel the way multiprocessing's spawn sends them — pickled by the parent to its
own child; no outside input is ever unpickled.

Lifecycle contract: the parent starts the child when faust's services start and stops it with SIGTERM
(the child finishes its batch, commits and exits 0; SIGINT from a terminal is left to the parent). The
child gets SIGKILL if the parent dies (``PR_SET_PDEATHSIG``): a killed worker leaves no Stage A running
on with its partitions, and its open transaction is rolled back exactly as when one process died. A
child that fails or exits unasked is reported through ``on_exit`` with the reason; the worker then stops
with an error.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import orjson

from streams.config import Config
from streams.kafka.clients import client_conf
from streams.kafka.health import BrokerProbe
from streams.kafka.security import redact_client_logs
from streams.core.pipeline import Tally
from streams.live.stage_a import StageA, StageAStats

log = logging.getLogger("truesli.app")

REPORT_INTERVAL_S = 0.25
"""How often (at most) the child sends its stats: /metrics is at most this much behind the child."""

_MIRRORED = tuple(f.name for f in dataclasses.fields(StageAStats) if f.name != "broker")
_BY_PARTITION = ("lag", "tallies", "state_ips", "next_close_ms")  # keyed by input partition (JSON: strings)
_PR_SET_PDEATHSIG = 1
_RECORD_ATTRS = ("created", "msecs", "relativeCreated", "thread", "threadName", "process", "processName",
                 "exc_text", "stack_info")
"""What a child's log record keeps besides name, level, place and its formatted message: its own time,
thread and process (a line from Stage A shows the child's pid)."""


class StageAProcess:
    """The parent's handle on the Stage A child process. ``stats`` is what the web server reads.

    ``on_exit(reason)``, set before :meth:`start`, is called once, from the reader thread, when the child
    ends without being asked to (``reason`` names why: its error, or its exit code); not after :meth:`stop`.
    """

    def __init__(self, config: Config, *, worker_id: str, transactional_id: str, partials_partitions: int) -> None:
        self.config = config
        self.stats = StageAStats()
        self.on_exit: Callable[[str], None] | None = None
        self._args = (config, worker_id, transactional_id, partials_partitions)
        self._stopping = False
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._probe: BrokerProbe | None = None
        self._reaping = threading.Lock()

    def start(self) -> None:
        """Spawn the child (from the thread that lives as long as the process: the death signal follows
        the thread that forked) and start the probe and the reader thread."""
        k = self.config.kafka
        self._probe = BrokerProbe(client_conf(k), self.stats.broker, topic=k.topics.requests).start()
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or locks of faust forked
        receive, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=child_main, name="truesli-stage-a", daemon=True,
                                 args=(*self._args, send, logging.getLogger().getEffectiveLevel(), os.getpid()))
        self._proc.start()
        send.close()  # the child holds the write end: EOF here means the child is gone
        self._reader = threading.Thread(target=self._read, args=(receive,), name="truesli-stage-a-reader",
                                        daemon=True)
        self._reader.start()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM the child, wait up to ``timeout_s`` for it to commit and exit, then SIGKILL. Returns its
        exit code (None if it never started)."""
        self._stopping = True
        proc = self._proc
        if proc is None:
            return None
        with self._reaping:  # one thread waits for the child at a time: two would race to reap it
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout_s)
            if proc.is_alive():
                log.warning("Stage A did not stop within %.0f s; killing it (its open transaction is rolled back)",
                            timeout_s)
                proc.kill()
                proc.join(10)
        if self._reader is not None:
            self._reader.join(5)
        if self._probe is not None:
            self._probe.stop()
        return proc.exitcode

    def _read(self, conn: Connection) -> None:
        error = ""
        try:
            while True:
                try:
                    message = conn.recv_bytes()
                except (EOFError, OSError):
                    break
                try:
                    error = self.dispatch(message) or error
                except Exception:  # noqa: BLE001 - this thread must live as long as the child to report its end
                    log.exception("could not apply a message from Stage A's process")
        finally:
            conn.close()
        assert self._proc is not None
        with self._reaping:
            self._proc.join(10)
        if not self._stopping and self.on_exit is not None:
            code = self._proc.exitcode
            self.on_exit(error or f"its process exited unexpectedly (exit code {code})")

    def dispatch(self, message: bytes) -> str | None:
        """Apply one message from the child (JSON ``[kind, payload]``): stats to the mirror, a log record
        to the parent's logger of the same name. Returns the reason of an ``error`` message, else None."""
        kind, payload = orjson.loads(message)
        if kind == "stats":
            # Whole values replaced, never mutated in place: the web thread reads one consistent value.
            for name, value in payload.items():
                if name in _BY_PARTITION:
                    value = {int(p): Tally(**v) if name == "tallies" else v for p, v in value.items()}
                setattr(self.stats, name, value)
        elif kind == "log":
            record = logging.LogRecord(payload["name"], payload["levelno"], payload["pathname"],
                                       payload["lineno"], payload["msg"], (), None, payload["funcName"])
            for attr in _RECORD_ATTRS:
                setattr(record, attr, payload[attr])
            logger = logging.getLogger(record.name)
            if not logger.disabled:
                logger.handle(record)  # the logger's filters (secrets) and the root's handlers (rate limit)
        elif kind == "error":
            return str(payload)
        return None


def snapshot(stats: StageAStats) -> bytes:
    """The ``stats`` message of the mirrored fields, serialised now (the Stage A loop mutates them right
    after)."""
    return orjson.dumps(["stats", {name: getattr(stats, name) for name in _MIRRORED}],
                        option=orjson.OPT_NON_STR_KEYS)


class _PipeHandler(logging.Handler):
    """In the child: every record to the parent as JSON, its message formatted here (args may be any object)."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            d = {attr: getattr(record, attr) for attr in _RECORD_ATTRS}
            d.update(name=record.name, levelno=record.levelno, pathname=record.pathname, lineno=record.lineno,
                     funcName=record.funcName, msg=record.getMessage())
            if record.exc_info:
                d["exc_text"] = logging.Formatter().formatException(record.exc_info)
            self._send(orjson.dumps(["log", d]))
        except Exception:  # noqa: BLE001 - a log line must never take Stage A down
            self.handleError(record)


def _die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the next send into the closed pipe stops the child
        pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def child_main(config: Config, worker_id: str, transactional_id: str, partials_partitions: int,
               conn: Connection, loglevel: int, parent_pid: int) -> None:
    """The child process: run Stage A until SIGTERM; report stats, logs and a failure over ``conn``."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    lock = threading.Lock()

    def send(message: bytes) -> None:
        with lock:
            try:
                conn.send_bytes(message)
            except (BrokenPipeError, OSError):
                os._exit(1)  # the parent is gone: nobody serves this worker's metrics or owns its exit

    root = logging.getLogger()
    root.handlers[:] = [_PipeHandler(send)]
    root.setLevel(loglevel)
    redact_client_logs(config.kafka.security)
    try:
        stage_a = StageA(config, worker_id=worker_id, transactional_id=transactional_id,
                         partials_partitions=partials_partitions)
        signal.signal(signal.SIGTERM, lambda *_: stage_a.stop())
        last = 0.0

        def report() -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= REPORT_INTERVAL_S:
                last = now
                send(snapshot(stage_a.stats))

        try:
            stage_a.run(on_tick=report)
        finally:
            send(snapshot(stage_a.stats))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the worker with it
        logging.getLogger("truesli.stage_a").debug("Stage A failed", exc_info=True)
        send(orjson.dumps(["error", str(exc) or type(exc).__name__]))
        conn.close()
        sys.exit(1)
    conn.close()
