"""`truesli run`'s first screen: a handful of truesli's own lines (no faust banners, no librdkafka
internals) naming the broker, topics, group, assigned partitions and the /metrics and /health URLs, then
"ready"; /health says when the next window with data is published if input stops."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import datetime, timezone

import yaml

from tests.support.live_harness import Worker, live_config, produce

PREFIX = re.compile(r"^\[[\d\- :,]+\] \[\d+\] \[(\w+)\] (.*?) ?$")


def _screen(worker: Worker, until: str, timeout_s: float = 90.0) -> list[tuple[str, str]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.proc is not None and worker.proc.poll() is None, worker.tail()
        lines = worker.log_path.read_text(errors="replace").splitlines()
        parsed = [(m.group(1), m.group(2)) if (m := PREFIX.match(x)) else ("?", x) for x in lines]
        if any(msg == until for _, msg in parsed):
            return parsed
        time.sleep(0.5)
    raise AssertionError(f"no {until!r} line\n{worker.tail()}")


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return json.loads(r.read())


def test_first_screen_names_where_it_listens_and_says_ready(kafka_broker, tmp_path):
    path = live_config(tmp_path, kafka_broker.bootstrap, partitions=2)
    doc = yaml.safe_load(path.read_text())
    # An idle timeout far away: a window with data stays open, so /health has an ETA to report.
    doc["windows"] = {"size_s": 10, "allowed_lateness_s": 0, "idle_timeout_s": 600}
    path.write_text(yaml.safe_dump(doc))
    k = doc["kafka"]
    w = Worker(path, "w1", tmp_path / "w1.log").start()
    try:
        screen = _screen(w, "ready")
        upto = [msg for _, msg in screen][: [msg for _, msg in screen].index("ready") + 1]
        assert len(upto) <= 15, upto
        assert upto[:4] == [
            f"truesli run: worker w1, group {k['group_id']}, broker {kafka_broker.bootstrap}",
            f"reads {k['topics']['requests']} (2 partitions), {k['topics']['changes']} and "
            f"{k['topics']['user_reports']}; writes "
            f"{k['topics']['counters']}, {k['topics']['anomalies']}, {k['topics']['deadletter']}",
            f"metrics http://127.0.0.1:{w.web_port}/metrics · health http://127.0.0.1:{w.web_port}/health",
            "windows: 10 s, published 0 s after they end; once input stops the last follows in 600–600 s "
            "(/health: next_window_close_in_s)",
        ]
        assert (f"{k['topics']['requests']} partitions [0, 1] assigned: 0 client IPs of filter state restored; "
                "reading from the start (nothing committed yet)") in upto
        text = "\n".join(upto)
        for noise in ("Starting...", "resuming at offset", "Subscription", "[^", "Failed to acquire"):
            assert noise not in text, noise
        assert [lvl for lvl, _ in screen[:len(upto)]] == ["INFO"] * len(upto)
        assert _health(w.web_port)["next_window_close_in_s"] is None  # nothing counted yet
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        produce(kafka_broker.bootstrap, k["topics"]["requests"], [json.dumps(
            {"ts": now, "client_ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200, "duration_ms": 5,
             "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}).encode()])
        eta = None
        deadline = time.monotonic() + 60
        while eta is None and time.monotonic() < deadline:
            eta = _health(w.web_port)["next_window_close_in_s"]
            time.sleep(0.5)
        # The record's window stays open until 600 s of quiet have passed: the ETA counts down from 600.
        assert eta is not None and 0 < eta <= 600, eta
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()
    assert "stopping: the open transaction is committed or rolled back, nothing is lost" in w.log_path.read_text()
