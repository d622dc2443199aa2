#!/usr/bin/env python3
"""Fetch and run a real single-node KRaft Apache Kafka broker for tests and local use.

There is no Docker and no apache.org download here, but Maven Central is reachable, so the
broker's jars are resolved with Maven into an ignored cache folder and the broker is run as a plain
``java -cp 'lib/*' kafka.Kafka`` process in KRaft combined mode (broker + controller, static
quorum).

Library use (the integration tests' fixtures and the benchmarks)::

    from tests.support import kafka_broker
    with kafka_broker.Broker() as broker:
        produce_to(broker.bootstrap)          # "127.0.0.1:PORT"
        broker.restart()                      # same ports, same data dir

CLI (see ``main``)::

    python tests/support/kafka_broker.py fetch | start [--state-file F] | stop [--state-file F] | status

Only the standard library is needed, plus ``confluent_kafka`` for the readiness probe.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

# Newest 3.9 line release that Maven Central serves here. 3.9 still accepts every old protocol
# version (4.x dropped some, KIP-896), which keeps older clients testable.
KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
# kafka_2.13's published POM has no logging backend in 3.9; without one the broker is silent.
LOGGING_DEPENDENCIES: tuple[tuple[str, str, str], ...] = (
    ("ch.qos.reload4j", "reload4j", "1.2.25"),
    ("org.slf4j", "slf4j-reload4j", "1.7.36"),
)
# Maven 3.8's default dependency plugin is too old for a reliable copy-dependencies run.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "TRUESLI_KAFKA_CACHE"
DEFAULT_STATE_FILE = REPO_ROOT / ".cache" / "kafka" / "broker.json"

HOST = "127.0.0.1"  # not "localhost": librdkafka may try ::1 first
NODE_ID = 1
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
# Fresh ports are picked again this many times when the kernel hands out a port that is taken by
# the time the JVM binds it.
PORT_ATTEMPTS = 3
JVM_OPTIONS: tuple[str, ...] = (
    "-Xms512m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
)


class KafkaSetupError(RuntimeError):
    """The jars could not be fetched, or the broker could not be formatted or started."""


class PortInUseError(KafkaSetupError):
    """The broker exited at startup because one of its ports was taken."""


# --------------------------------------------------------------------------------------------
# Jars
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Root of the jar cache: ``$TRUESLI_KAFKA_CACHE`` if set, else ``<repo>/.cache/kafka``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser().resolve() if override else REPO_ROOT / ".cache" / "kafka"


def _pom_xml(version: str) -> str:
    deps = [("org.apache.kafka", f"kafka_{SCALA_VERSION}", version), *LOGGING_DEPENDENCIES]
    dep_xml = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.truesli</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
</project>
"""


def _jars_complete(lib: Path, version: str) -> bool:
    return (lib / f"kafka_{SCALA_VERSION}-{version}.jar").is_file() and (
        lib / "reload4j-1.2.25.jar"
    ).is_file()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise fetches from concurrent processes (e.g. parallel test workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars(cache_dir: Path | None = None, version: str = KAFKA_VERSION) -> Path:
    """Make sure the broker's jars are cached and return the ``lib`` folder holding them.

    The jars live in ``<cache_dir>/<version>/lib``; ``cache_dir`` defaults to
    :func:`default_cache_dir`. When they are absent they are resolved from Maven Central with
    ``mvn`` (runtime scope of ``kafka_2.13:<version>`` plus a reload4j logging backend). The
    download goes into a temporary sibling folder that is renamed into place only once Maven has
    succeeded, so an interrupted fetch never looks like a complete cache.

    Raises :class:`KafkaSetupError` (naming the fix) if ``mvn`` is missing or the fetch fails.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / version
    lib = final / "lib"
    if _jars_complete(lib, version):
        return lib

    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError(
            "Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka broker jars. "
            "Install it (e.g. `apt-get install -y maven`, which needs a JDK 17+) and retry "
            "`scripts/kafka fetch`."
        )

    with _file_lock(root / ".fetch.lock"):
        if _jars_complete(lib, version):  # another process finished the fetch meanwhile
            return lib
        # Holding the lock, any staging dir is the remains of a killed fetch.
        for stale in root.glob(f".fetch-{version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".fetch-{version}-", dir=root))
        try:
            (staging / "pom.xml").write_text(_pom_xml(version))
            cmd = [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DoutputDirectory=lib",
                "-DincludeScope=runtime",
            ]
            print(f"kafka_broker: fetching Kafka {version} jars with Maven ...", file=sys.stderr)
            started = time.monotonic()
            result = subprocess.run(
                cmd, cwd=staging, stdin=subprocess.DEVNULL, capture_output=True, text=True
            )
            if result.returncode != 0 or not _jars_complete(staging / "lib", version):
                output = (result.stdout + result.stderr).strip()
                raise KafkaSetupError(
                    f"fetching Kafka {version} jars failed (mvn exit {result.returncode}).\n"
                    f"Command: {' '.join(cmd)} (in {staging})\n"
                    f"{_tail_text(output, 40)}\n"
                    "Fix: check that Maven Central is reachable (proxy settings in "
                    "~/.m2/settings.xml) and that the version exists there, then rerun "
                    "`scripts/kafka fetch`."
                )
            if final.exists():  # a leftover without complete jars: replace it
                shutil.rmtree(final)
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users
            os.rename(staging, final)
            print(
                f"kafka_broker: fetched into {lib} in {time.monotonic() - started:.0f}s",
                file=sys.stderr,
            )
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return lib


def find_java() -> str:
    """Path of the ``java`` to use: ``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaSetupError(
            "no 'java' on PATH and no JAVA_HOME: the Kafka broker needs a JDK/JRE 17+ "
            "(e.g. `apt-get install -y openjdk-17-jre-headless`)."
        )
    return java


# --------------------------------------------------------------------------------------------
# Broker
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenerSpec:
    """An extra broker listener, e.g. ``ListenerSpec("SASL_PLAINTEXT", "SASL_PLAINTEXT")``.

    ``name`` is the listener name used in ``listeners=`` and in per-listener properties
    (``listener.name.<name lower-case>.…``, passed via ``extra_properties``); ``protocol`` is its
    security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). A free port is picked at start.
    """

    name: str
    protocol: str


def _free_ports(count: int) -> list[int]:
    """Distinct ports that were free on 127.0.0.1 a moment ago (the caller retries on a race)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _new_cluster_id() -> str:
    """A Kafka-style cluster id: a random UUID, URL-safe base64 without padding."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):  # Kafka avoids these: they look like CLI options
            return cid


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _read_text(path: Path, start: int = 0) -> str:
    """Text of ``path`` from byte offset ``start`` on; empty if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail_file(path: Path, lines: int, start: int = 0) -> str:
    return _tail_text(_read_text(path, start), lines) or f"(empty or missing: {path.name})"


def _first_errors(log: str, entries: int = 3, context: int = 4) -> str:
    """The first ``entries`` ERROR/FATAL log4j entries, each with ``context`` following lines."""
    lines = log.splitlines()
    picked: list[str] = []
    found = 0
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            picked.extend(lines[i : i + 1 + context])
            found += 1
            if found == entries:
                break
    return "\n".join(picked) or "(none)"


def _set_parent_death_signal() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed test run leaves no JVM behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: best effort only
        pass


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a reparented child may stay unreaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _terminate_pid(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds, then SIGKILL (for non-child processes)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)


class Broker:
    """One single-node KRaft Kafka broker (combined broker + controller) on 127.0.0.1.

    Contract:
      * ``start()`` picks free ports, creates a fresh work dir (``workdir``: config, ``data/``,
        ``logs/``), formats the storage, launches the JVM and returns once a client can list
        topics. On failure it raises :class:`KafkaSetupError` quoting the first errors and the
        tail of the broker log, and leaves no process behind.
      * ``bootstrap`` is ``"127.0.0.1:PORT"`` of the PLAINTEXT listener; ``listener_address(name)``
        gives that of any listener, including ``extra_listeners``.
      * ``restart()`` stops the JVM and starts it again on the same ports and data dir: topics,
        messages and committed offsets survive. ``halt()`` and ``resume()`` are its two halves, for
        an outage of any length (``halt(); sleep(60); resume()``).
      * ``stop()`` sends SIGTERM, waits up to 20 s, then SIGKILL, and removes the work dir unless
        ``keep`` is true. It is idempotent. The object is also a context manager.
      * With ``detached=False`` (default) the JVM gets SIGTERM if the thread that started it
        dies, so an interrupted test run does not leak brokers; start and stop from the same
        long-lived thread. ``detached=True`` (used by the CLI) lets the JVM outlive this process.

    ``extra_properties`` override or extend the generated ``server.properties`` (e.g. SASL/SSL
    settings for ``extra_listeners``); ``format_args`` are appended to the StorageTool ``format``
    command (e.g. ``["--add-scram", "SCRAM-SHA-256=[name=alice,password=secret]"]``).
    """

    def __init__(
        self,
        *,
        extra_properties: Mapping[str, str] | None = None,
        extra_listeners: Sequence[ListenerSpec] = (),
        format_args: Sequence[str] = (),
        lib_dir: Path | None = None,
        keep: bool = False,
        detached: bool = False,
        ready_timeout: float = READY_TIMEOUT_S,
        jvm_options: Sequence[str] = JVM_OPTIONS,
    ) -> None:
        names = [spec.name.upper() for spec in extra_listeners]
        if {"PLAINTEXT", "CONTROLLER"} & set(names) or len(set(names)) != len(names):
            raise ValueError(f"extra listener names must be unique and not built-in: {names}")
        self.extra_properties: dict[str, str] = dict(extra_properties or {})
        self.extra_listeners: tuple[ListenerSpec, ...] = tuple(extra_listeners)
        self.format_args: tuple[str, ...] = tuple(format_args)
        self.lib_dir = lib_dir
        self.keep = keep
        self.detached = detached
        self.ready_timeout = ready_timeout
        self.jvm_options: tuple[str, ...] = tuple(jvm_options)
        self.workdir: Path | None = None
        self.ports: dict[str, int] = {}  # listener name -> port, CONTROLLER included
        self.cluster_id: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # Where this launch's output begins: restart() appends to the same log files.
        self._log_start = 0
        self._console_start = 0

    # -- public attributes -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` of the PLAINTEXT listener (valid after ``start()``)."""
        return self.listener_address("PLAINTEXT")

    def listener_address(self, name: str) -> str:
        """``"127.0.0.1:PORT"`` of listener ``name`` (valid after ``start()``)."""
        try:
            return f"{HOST}:{self.ports[name.upper()]}"
        except KeyError:
            raise KafkaSetupError(f"no listener {name!r}; has the broker been started?") from None

    @property
    def data_dir(self) -> Path:
        """The broker's ``log.dirs`` (also holds the KRaft metadata log)."""
        return self._require_workdir() / "data"

    @property
    def log_path(self) -> Path:
        """The broker's log4j log file."""
        return self._require_workdir() / "logs" / "server.log"

    @property
    def console_path(self) -> Path:
        """The JVM's stdout/stderr (JVM-level errors that happen before log4j is up)."""
        return self._require_workdir() / "logs" / "console.log"

    @property
    def pid(self) -> int | None:
        """Process id of the running JVM, or None."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """True while the JVM process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Broker:
        """Start a fresh broker (new ports, new work dir) and wait until it serves metadata."""
        if self._proc is not None:
            raise KafkaSetupError("broker already started; use restart() or stop() first")
        if self.lib_dir is None:
            self.lib_dir = ensure_jars()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._prepare_workdir()
            try:
                self._launch_and_wait()
                return self
            except PortInUseError:
                # Another process took a port between picking and binding it: pick new ones.
                self._discard_workdir(force=attempt < PORT_ATTEMPTS)
                if attempt == PORT_ATTEMPTS:
                    raise
            except BaseException:
                self._discard_workdir()
                raise
        raise AssertionError("unreachable")

    def restart(self) -> Broker:
        """Stop the JVM and start it again on the same ports and the same data dir."""
        self.halt()
        return self.resume()

    def halt(self) -> None:
        """Stop the JVM but keep ports and data dir: the broker is gone until :meth:`resume`."""
        self._require_workdir()
        self._stop_process()

    def resume(self) -> Broker:
        """Start the JVM halted by :meth:`halt` again, on the same ports and data dir."""
        self._require_workdir()
        if self.is_running():
            raise KafkaSetupError("broker is running; halt() it first")
        # A port can be briefly unbindable right after the old JVM closed it.
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._launch_and_wait()
                return self
            except PortInUseError:
                if attempt == PORT_ATTEMPTS:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the JVM (SIGTERM, ≤20 s, SIGKILL) and remove the work dir unless ``keep``."""
        self._stop_process()
        self._discard_workdir()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{HOST}:{self.ports.get('PLAINTEXT')}" if self.ports else "not started"
        return f"<Broker {where} pid={self.pid} workdir={self.workdir}>"

    # -- internals -------------------------------------------------------------------------

    def _require_workdir(self) -> Path:
        if self.workdir is None:
            raise KafkaSetupError("broker has not been started")
        return self.workdir

    def _listener_protocols(self) -> dict[str, str]:
        protocols = {"PLAINTEXT": "PLAINTEXT", "CONTROLLER": "PLAINTEXT"}
        protocols.update({s.name.upper(): s.protocol.upper() for s in self.extra_listeners})
        return protocols

    def _prepare_workdir(self) -> None:
        """Fresh work dir with new ports, server.properties, log4j.properties, formatted data."""
        protocols = self._listener_protocols()
        self.ports = dict(zip(protocols, _free_ports(len(protocols)), strict=True))
        self.cluster_id = _new_cluster_id()
        workdir = Path(tempfile.mkdtemp(prefix="truesli-kafka-"))
        self.workdir = workdir
        (workdir / "logs").mkdir()
        (workdir / "data").mkdir()
        (workdir / "server.properties").write_text(self._server_properties())
        (workdir / "log4j.properties").write_text(self._log4j_properties())
        self._format_storage()

    def _server_properties(self) -> str:
        protocols = self._listener_protocols()
        listeners = ",".join(f"{name}://{HOST}:{port}" for name, port in self.ports.items())
        advertised = ",".join(
            f"{name}://{HOST}:{port}" for name, port in self.ports.items() if name != "CONTROLLER"
        )
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{HOST}:{self.ports['CONTROLLER']}",
            "listeners": listeners,
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(f"{n}:{p}" for n, p in protocols.items()),
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            # Small box: the cleaner's default 128 MiB dedupe buffer is allocated on the heap.
            "log.cleaner.dedupe.buffer.size": "33554432",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.check.interval.ms": "300000",
        }
        props.update(self.extra_properties)
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _log4j_properties(self) -> str:
        log = self.log_path
        return f"""log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
"""

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        workdir = self._require_workdir()
        assert self.lib_dir is not None
        return [
            find_java(),
            *self.jvm_options,
            f"-Dlog4j.configuration=file:{workdir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={workdir / 'logs'}",
            "-cp",
            f"{self.lib_dir}/*",  # expanded by the JVM, not a shell
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        workdir = self._require_workdir()
        assert self.cluster_id is not None
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(workdir / "server.properties"),
            *self.format_args,
        )
        # The formatter needs little memory; the broker's fixed 512 MiB heap would only slow it.
        cmd = [c for c in cmd if not c.startswith(("-Xms", "-Xmx"))]
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            output = _tail_text((result.stdout + result.stderr).strip(), 40)
            self._discard_workdir(force=True)
            raise KafkaSetupError(f"formatting Kafka storage failed:\n{output}")

    def _launch_and_wait(self) -> None:
        workdir = self._require_workdir()
        cmd = self._java_cmd("kafka.Kafka", str(workdir / "server.properties"))
        self._log_start = _size(self.log_path)
        self._console_start = _size(self.console_path)
        with open(self.console_path, "ab") as console:
            self._proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=self.detached,
                preexec_fn=None if self.detached else _set_parent_death_signal,
            )
        try:
            self._wait_ready()
        except BaseException:
            self._stop_process(timeout=5)
            raise

    def _wait_ready(self) -> None:
        """Poll metadata until the broker lists itself; fail fast if the JVM exits."""
        from confluent_kafka.admin import AdminClient  # only the readiness probe needs it

        assert self._proc is not None
        admin = AdminClient(_quiet_client_config(self.bootstrap))
        deadline = time.monotonic() + self.ready_timeout
        last_error = "no answer yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                error = PortInUseError if self._port_was_taken() else KafkaSetupError
                raise error(
                    f"Kafka broker exited with code {code} during startup.\n"
                    f"{self._failure_report()}"
                )
            if time.monotonic() >= deadline:
                raise KafkaSetupError(
                    f"Kafka broker not ready after {self.ready_timeout:.0f}s "
                    f"(last probe: {last_error}).\n{self._failure_report()}"
                )
            try:
                metadata = admin.list_topics(timeout=2)
                if metadata.brokers:
                    return
                last_error = "metadata lists no broker yet"
            except Exception as err:  # KafkaException while the listener is not up yet
                last_error = str(err)
            time.sleep(0.25)

    def _port_was_taken(self) -> bool:
        return "Address already in use" in (
            _read_text(self.log_path, self._log_start)
            + _read_text(self.console_path, self._console_start)
        )

    def _failure_report(self) -> str:
        """This launch's first ERROR/FATAL log entries (the cause: a failed startup is followed
        by hundreds of shutdown lines) and the tails of the log and the JVM console."""
        log, console = self.log_path, self.console_path
        first_errors = _first_errors(_read_text(log, self._log_start))
        return (
            f"--- first errors in {log} ---\n{first_errors}\n"
            f"--- tail of {log} ---\n{_tail_file(log, 30, self._log_start)}\n"
            f"--- tail of {console} ---\n{_tail_file(console, 30, self._console_start)}"
        )

    def _stop_process(self, timeout: float = STOP_TIMEOUT_S) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _discard_workdir(self, force: bool = False) -> None:
        if self.workdir is not None and (force or not self.keep):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _quiet_client_config(bootstrap: str) -> dict[str, Any]:
    """Client config for probes: fast reconnects, and librdkafka's connection-refused noise
    (expected while the broker boots) goes to a silent logger instead of stderr."""
    import logging

    silent = logging.getLogger("kafka_broker.probe")
    silent.addHandler(logging.NullHandler())
    silent.propagate = False
    return {
        "bootstrap.servers": bootstrap,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 500,
        "logger": silent,
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _read_state(state_file: Path) -> dict[str, object] | None:
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise KafkaSetupError(f"unreadable state file {state_file}: {err}") from None
    if not isinstance(state, dict) or not {"pid", "workdir", "bootstrap"} <= state.keys():
        raise KafkaSetupError(f"state file {state_file} is not a broker state; delete it")
    return state


def _state_pid_alive(state: Mapping[str, object]) -> bool:
    """True if the state's pid is alive *and* is still our JVM (pids get reused)."""
    pid = int(str(state["pid"]))
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True  # no /proc: trust the pid
    return "kafka.Kafka" in cmdline and str(state["workdir"]) in cmdline


def _cmd_fetch(_: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    state_file: Path = args.state_file
    state = _read_state(state_file)
    if state is not None and _state_pid_alive(state):
        print(f"kafka_broker: already running (pid {state['pid']})", file=sys.stderr)
        print(state["bootstrap"])
        return 0
    broker = Broker(detached=True)
    started = time.monotonic()
    broker.start()
    state = {
        "pid": broker.pid,
        "bootstrap": broker.bootstrap,
        "workdir": str(broker.workdir),
        "data_dir": str(broker.data_dir),
        "log_path": str(broker.log_path),
        "version": KAFKA_VERSION,
        "ports": broker.ports,
    }
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_file)
    print(
        f"kafka_broker: Kafka {KAFKA_VERSION} ready in {time.monotonic() - started:.1f}s "
        f"(pid {broker.pid}, log {broker.log_path}); stop with `scripts/kafka stop`",
        file=sys.stderr,
    )
    print(broker.bootstrap)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    state_file: Path = args.state_file
    state = _read_state(state_file)
    if state is None:
        print(f"kafka_broker: no state file {state_file}; nothing to stop", file=sys.stderr)
        return 0
    if _state_pid_alive(state):
        _terminate_pid(int(str(state["pid"])))
    shutil.rmtree(str(state["workdir"]), ignore_errors=True)
    state_file.unlink(missing_ok=True)
    print(f"kafka_broker: stopped broker at {state['bootstrap']}", file=sys.stderr)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = _read_state(args.state_file)
    if state is None or not _state_pid_alive(state):
        print("stopped")
        return 1
    print(f"running {state['bootstrap']} pid={state['pid']} log={state['log_path']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="kafka_broker", description=f"Fetch and run a local Kafka {KAFKA_VERSION} broker."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the broker jars into the cache; print the lib dir")
    for name, help_text in (
        ("start", "start a detached broker; print its bootstrap address"),
        ("stop", "stop the broker started by `start`"),
        ("status", "print whether the broker is running (exit 0) or not (exit 1)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    args = parser.parse_args(argv)
    handlers = {"fetch": _cmd_fetch, "start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}
    try:
        return handlers[args.command](args)
    except KafkaSetupError as err:
        print(f"kafka_broker: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
