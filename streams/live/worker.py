"""The live worker (``truesli run``): a faust-streaming app.

- Stage A (high volume) runs on a confluent-kafka consumer + transactional producer in its own process,
  owned by a faust Service (streams.live.stage_a_process): faust's per-event stream machinery costs tens
  of µs per record, Stage A needs batches and exactly-once transactions, and on a thread beside faust's
  loop it got about three quarters of the GIL it needed (see docs/design.md for the measurements).
- Stage B (low volume) is a faust agent over the partials topic with a changelog-backed Table holding the
  latest partial of every (journey, slo, window, partition); it reads partials in short runs and, per
  run, publishes each updated merged counter once to ``sli.counters`` (compacted, keyed
  journey|slo|window_start), and feeds it to the detectors
  (streams.live.detection), which publish to ``sli.anomalies``; change events come from ``ops.changes``,
  user reports from ``ops.user_reports``.
- faust's web server serves /metrics (Prometheus text) and /health, bound to ``worker.web_host``
  (loopback by default). faust's own debug pages (/router, /table, /graph, stats) are switched off: they
  would show table contents and partition routing, and nothing on this server shows configuration.
Business logic lives in streams.core and streams.live.stage_b; nothing here but wiring.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref
from pathlib import Path

import faust
import orjson
from faust.streams import _current_event as _FAUST_CURRENT_EVENT  # what faust.streams.current_event() reads

from streams.kafka.health import LIBRDKAFKA_LOGGER, install_rate_limit
from streams.config import Config
from streams.kafka.clients import ensure_topics, preflight
from streams.kafka.security import faust_credentials, redact_client_logs
from streams.live.metrics import render
from streams.live.stage_a_process import StageAProcess
from streams.live.stage_b import StageB
from streams.sinks.serialize import counter_to_dict, dead_letter_to_dict

log = logging.getLogger("truesli.app")

STAGE_B_TAKE = 1_000
STAGE_B_WITHIN_S = 0.1
"""Stage B reads partials in runs of at most this many, or what arrived within this many seconds: a
publication waits ≤ 0.1 s more, against windows that close after a minute."""

# faust's and mode's service banners ("Starting..." / "Stopping..." per service), aiokafka's group chatter
# and their subscription tables: ~100 lines at start and stop that bury what an operator needs. At
# --loglevel debug they are shown; otherwise only their warnings and errors.
_CHATTY_LOGGERS = ("faust", "mode", "aiokafka", "kafka")
# librdkafka warnings that are a normal step on a fresh or restarting broker and resolve by themselves.
_TRANSIENT = ("Coordinator load in progress", "COORDINATOR_LOAD_IN_PROGRESS", "NOT_COORDINATOR")


class _TransientKafkaFilter(logging.Filter):
    """Drops librdkafka's self-resolving retry warnings (they are still counted as broker errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            return True
        msg = record.getMessage()
        return not any(t in msg for t in _TRANSIENT)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def startup_lines(config: Config, *, worker_id: str, web_port: int, input_partitions: int) -> list[str]:
    """What ``truesli run`` says first: where it reads and writes, where /metrics and /health listen, and
    when the last window of a burst appears. Pure (tested without a broker)."""
    k, w, t = config.kafka, config.windows, config.kafka.topics
    base = f"http://{_host(config.worker.web_host)}:{web_port}"
    tail = max(w.idle_timeout_s, w.allowed_lateness_s)
    worst = max(w.idle_timeout_s, w.size_s + w.allowed_lateness_s)
    return [
        f"truesli run: worker {worker_id}, group {k.group_id}, broker {k.bootstrap_servers}",
        f"reads {t.requests} ({input_partitions} partitions), {t.changes} and {t.user_reports}; writes {t.counters}, "
        f"{t.anomalies}, {t.deadletter}",
        f"metrics {base}/metrics · health {base}/health",
        f"windows: {w.size_s} s, published {w.allowed_lateness_s} s after they end; once input stops the last "
        f"follows in {tail}–{worst} s (/health: next_window_close_in_s)",
    ]


def default_transactional_id(config: Config, worker_id: str) -> str:
    return f"{config.kafka.group_id}-stage-a-{worker_id}"


def build_app(config: Config, *, worker_id: str, web_port: int | None = None) -> tuple[faust.App, StageAProcess]:
    """Create topics, the faust app and the Stage A process handle (started with faust's services).
    Raises KafkaUnavailable on broker problems."""
    k = config.kafka
    admin = preflight(k)
    parts = ensure_topics(admin, k)
    stage_a = StageAProcess(config, worker_id=worker_id,
                            transactional_id=default_transactional_id(config, worker_id),
                            partials_partitions=parts[k.topics.partials])
    redact_client_logs(k.security)
    data_dir = Path(config.worker.data_dir) / f"worker-{worker_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{k.group_id}-stage-b",
        broker=[f"kafka://{hp.strip()}" for hp in k.bootstrap_servers.split(",")],
        broker_credentials=faust_credentials(k.security),
        store="memory://",
        datadir=str(data_dir),
        web_host=config.worker.web_host,
        web_port=web_port if web_port is not None else config.worker.web_port,
        web_bind=config.worker.web_host,
        debug=False,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        topic_replication_factor=k.replication_factor,
        topic_partitions=parts[k.topics.partials],
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        table_cleanup_interval=60.0,
        # Static membership: a restarted worker takes its partitions back without a group rebalance.
        consumer_group_instance_id=f"{k.group_id}-stage-b-{worker_id}",
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    partials = app.topic(k.topics.partials, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")
    counters = app.topic(k.topics.counters, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")
    table = app.Table("latest-partials", default=dict, partitions=parts[k.topics.partials])
    anomalies = app.topic(k.topics.anomalies, key_type=bytes, value_type=bytes, key_serializer="raw",
                          value_serializer="raw")
    deadletter = app.topic(k.topics.deadletter, key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw")

    def assignment() -> set[int] | None:
        if app.rebalancing or app.in_recovery or not app.tables.recovery.completed.is_set():
            return None
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == k.topics.partials}

    b = StageB(config, table, partials_partitions=parts[k.topics.partials], assignment=assignment)
    feeds = [f for f in (b.feed, b.reports_feed) if f is not None]

    async def send_anomalies(found: list) -> None:
        for a in found:
            await anomalies.send(key=a.id.encode(), value=orjson.dumps(a.to_dict()))

    @app.agent(partials)
    async def stage_b(stream):  # noqa: ANN001 - faust's stream type; the agent's name is its function's
        # In runs of up to STAGE_B_TAKE partials (or what arrived within STAGE_B_WITHIN_S): a window's
        # partials of every input partition usually arrive together, and each merged key is then
        # written, published and judged once per run instead of once per partition (docs/design.md §6).
        # The events are acked after the body has run (take_events), so nothing is committed unpublished.
        async for events in stream.take_events(STAGE_B_TAKE, within=STAGE_B_WITHIN_S):
            now = int(time.time() * 1000)
            by_partition: dict[int, list] = {}
            for event in events:
                by_partition.setdefault(event.message.partition, []).append(event)
            for run in by_partition.values():
                # A table write goes to the changelog partition of the event being processed, which faust
                # reads from its context variable; a merged key's partials all come from one partition.
                # Only this task's context is set, never the stream's own current event: take_events'
                # buffering task reads that one while this body awaits (and found it None when it was
                # reset here).
                token = _FAUST_CURRENT_EVENT.set(weakref.ref(run[-1]))
                try:
                    merged_run = b.accept_many([event.value for event in run])
                finally:
                    _FAUST_CURRENT_EVENT.reset(token)
                for key, merged in merged_run:
                    await counters.send(key=key.encode(), value=orjson.dumps(counter_to_dict(merged, now)))
                    await send_anomalies(b.observe(merged))

    @app.timer(interval=2.0)
    async def detection_tick() -> None:
        if b.detection is None:
            return
        now = int(time.time() * 1000)
        for item in b.drain_changes():
            name = "changes" if item.source == k.topics.changes else "user_reports"
            await deadletter.send(key=f"{name}|{item.partition}|{item.offset}".encode(),
                                  value=orjson.dumps(dead_letter_to_dict(item, now)))
        await send_anomalies(b.tick())

    class StageAService(faust.Service):
        """Owns the Stage A process; its failure stops the worker with an error."""

        logger = logging.getLogger("mode.truesli.stage_a")  # its Starting/Stopping banners go with mode's

        async def on_started(self) -> None:
            # faust has configured logging by now: hold back the retry storm every Kafka client logs
            # during a broker outage (the outage itself is logged once by streams.kafka.health). Stage A's
            # records come through these handlers too.
            install_rate_limit()
            loop = asyncio.get_running_loop()

            def failed(reason: str) -> None:  # the reader thread: Stage A's process ended unasked
                log.error("Stage A stopped: %s", reason)
                asyncio.run_coroutine_threadsafe(self.crash(StageAFailed(reason)), loop)

            stage_a.on_exit = failed
            stage_a.start()  # on the event loop's thread, the main one: the child's death signal follows it
            for feed in feeds:
                feed.start()

        async def on_stop(self) -> None:
            for feed in feeds:
                await asyncio.get_running_loop().run_in_executor(None, feed.stop)
            await asyncio.get_running_loop().run_in_executor(None, stage_a.stop, 30)

    app.service(StageAService())
    app.truesli_input_partitions = parts[k.topics.requests]  # for the start-up lines

    @app.page("/metrics")
    async def metrics(web, request):  # noqa: ANN001
        return web.bytes(render(stage_a.stats, b.stats, b.detection),
                         content_type="text/plain; version=0.0.4")

    @app.page("/health")
    async def health(web, request):  # noqa: ANN001
        s = stage_a.stats
        age = time.monotonic() - s.last_ok_monotonic if s.last_ok_monotonic else None
        ok = age is not None and age < 30
        return web.json({"status": "ok" if ok else "starting" if age is None else "stalled",
                         "assigned_partitions": sorted(s.tallies), "seconds_since_last_poll": age,
                         "transactions": s.transactions, "broker_errors": s.broker_errors,
                         "broker_up": s.broker.up,
                         "next_window_close_in_s": next_close_in_s(s.next_close_ms, int(time.time() * 1000))},
                        status=200 if ok or age is None else 503)

    announced = False

    @app.timer(interval=1.0)
    async def announce_ready() -> None:
        # "ready" once Stage A holds its input partitions and Stage B has recovered its table.
        nonlocal announced
        if not announced and stage_a.stats.tallies and assignment() is not None:
            announced = True
            log.info("ready")

    return app, stage_a


def next_close_in_s(next_close_ms: dict[int, int | None], now_ms: int) -> float | None:
    """Seconds until the next window with data is published if no further record arrives (the soonest
    over this worker's partitions); None with no window open."""
    pending = [t for t in list(next_close_ms.values()) if t is not None]
    return None if not pending else max(0.0, (min(pending) - now_ms) / 1000)


class _Worker(faust.Worker):
    """faust's worker with its chatter held back and truesli's start-up lines said first."""

    def __init__(self, *args, banner: list[str], **kwargs) -> None:  # noqa: ANN002, ANN003
        self._banner = banner
        super().__init__(*args, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if level > logging.DEBUG:
            for name in _CHATTY_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
            logging.getLogger(LIBRDKAFKA_LOGGER).addFilter(_TransientKafkaFilter())
        for line in self._banner:
            log.info("%s", line)

    async def on_stop(self) -> None:
        log.info("stopping: the open transaction is committed or rolled back, nothing is lost")
        await super().on_stop()


class StageAFailed(Exception):
    """Stage A's process reported an error or exited without being asked to."""


class WebPortInUse(Exception):
    """The /metrics and /health port is taken (often: another worker on this machine)."""


def check_web_port(host: str, port: int) -> None:
    """Raise WebPortInUse unless ``host:port`` can be bound now — before any Kafka work, so a second worker
    on the same machine is one line naming the fix, not a faust traceback after it joined the group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise WebPortInUse(f"cannot listen on {_host(host)}:{port} for /metrics and /health ({exc.strerror}): "
                               "another worker may be running here; pass --web-port N or set worker.web_port") from None


def run_worker(config: Config, *, worker_id: str | None = None, web_port: int | None = None,
               loglevel: str = "info") -> int:
    worker_id = worker_id or socket.gethostname()
    port = web_port if web_port is not None else config.worker.web_port
    check_web_port(config.worker.web_host, port)
    app, _ = build_app(config, worker_id=worker_id, web_port=web_port)
    banner = startup_lines(config, worker_id=worker_id, web_port=port,
                           input_partitions=app.truesli_input_partitions)
    worker = _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=True,
                     banner=banner)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


__all__ = ["build_app", "run_worker", "default_transactional_id", "startup_lines", "next_close_in_s",
           "check_web_port", "WebPortInUse"]
