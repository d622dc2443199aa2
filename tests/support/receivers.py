"""Real remote-write receivers for integration tests: Prometheus 2.42 and VictoriaMetrics 1.79 (Debian's
packages; ``scripts/test`` installs them when missing).

``prometheus`` (session): Prometheus with the remote-write receiver on and a 30-day out-of-order window
(needed for backfill), no scrape jobs. ``victoria_metrics`` (session): single-node VictoriaMetrics with
100-year retention, 1 ms dedup and no query latency offset/cache. Both run on a free 127.0.0.1 port
with their data in a temporary folder, and are stopped at the end of the session. Import the fixtures
into the test module: ``from tests.support.receivers import prometheus, victoria_metrics``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_TIMEOUT_S = 30.0
OUT_OF_ORDER_WINDOW = "30d"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so a killed run leaves no server behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Server:
    """A receiver process; ``base`` is "http://127.0.0.1:PORT"."""

    name: str
    base: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def write_url(self) -> str:
        return self.base + "/api/v1/write"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def query(self, expr: str, at_ms: int) -> dict[tuple, float]:
        """Instant query ``expr`` at ``at_ms``: {sorted labels: value}."""
        doc = self.get_json("/api/v1/query", query=expr, time=f"{at_ms / 1000:.3f}", nocache="1")
        assert doc["status"] == "success" and doc["data"]["resultType"] == "vector", doc
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in doc["data"]["result"]}

    def get_json(self, path: str, **params: str) -> dict:
        status, body = _get(f"{self.base}{path}?{urllib.parse.urlencode(params)}")
        assert status == 200, f"{self.name} {path} {params}: HTTP {status}: {body[:500]!r}"
        return json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Prometheus(Server):
    def query_range_vector(self, selector: str, at_ms: int, window: str = "1h") -> dict[tuple, list[tuple[int, float]]]:
        """Raw samples of ``selector`` in (at - window, at], by label set: {labels: [(ts_ms, value)]}."""
        doc = self.get_json("/api/v1/query", query=f"{selector}[{window}]", time=f"{at_ms / 1000:.3f}")
        assert doc["status"] == "success" and doc["data"]["resultType"] == "matrix", doc
        return {tuple(sorted(r["metric"].items())): [(round(t * 1000), float(v)) for t, v in r["values"]]
                for r in doc["data"]["result"]}


class VictoriaMetrics(Server):
    def export(self, selector: str) -> dict[tuple, list[tuple[int, float]]]:
        """Every stored sample of ``selector`` (after a forced flush), by label set."""
        status, body = _get(self.base + "/internal/force_flush")
        assert status == 200, body
        status, body = _get(f"{self.base}/api/v1/export?{urllib.parse.urlencode({'match[]': selector})}")
        assert status == 200, body
        out: dict[tuple, list[tuple[int, float]]] = {}
        for line in body.splitlines():
            if line.strip():
                doc = json.loads(line)
                key = tuple(sorted(doc["metric"].items()))
                out.setdefault(key, []).extend(zip(doc["timestamps"], map(float, doc["values"])))
        return {k: sorted(v) for k, v in out.items()}


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/test installs it: apt-get install -y prometheus "
                    f"victoria-metrics)", pytrace=False)
    return path


def _start(cls: type[Server], name: str, argv: list[str], port: int, ready_path: str, workdir: Path) -> Server:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                            preexec_fn=_die_with_parent)
    log.close()
    server = cls(name=name, base=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            if _get(server.base + ready_path, timeout=2)[0] == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"{name} not ready after {READY_TIMEOUT_S:.0f} s:\n{server.log_tail()}")
        time.sleep(0.1)


def start_prometheus(work: Path, config_text: str | None = None, extra_args: tuple[str, ...] = ()) -> Prometheus:
    """Prometheus with the remote-write receiver on; ``config_text`` defaults to a 30-day out-of-order
    window and no scrape jobs."""
    binary = _binary("prometheus")
    config = work / "prometheus.yml"
    config.write_text(config_text if config_text is not None else
                      f"global: {{}}\nstorage:\n  tsdb:\n    out_of_order_time_window: {OUT_OF_ORDER_WINDOW}\n")
    port = _free_port()
    return _start(Prometheus, "prometheus",  # type: ignore[return-value]
                  [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver", *extra_args],
                  port, "/-/ready", work)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus (``--web.enable-remote-write-receiver``, out-of-order window 30d, no scrapes)."""
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


def start_victoria_metrics(work: Path, port: int | None = None, retention: str = "100y") -> VictoriaMetrics:
    """Single-node VictoriaMetrics (retention 100y, dedup 1 ms, no latency offset or query cache)."""
    binary = _binary("victoria-metrics")
    port = port or _free_port()
    return _start(VictoriaMetrics, "victoria-metrics",  # type: ignore[return-value]
                  [binary, f"-storageDataPath={work / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
                   f"-retentionPeriod={retention}", "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                   "-search.disableCache"],
                  port, "/health", work)


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = start_victoria_metrics(tmp_path_factory.mktemp("victoria-metrics"))
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()
