"""What crosses the boundary between the worker and its Stage A process: stats snapshots and log records
(streams/live/stage_a_process.py). The process itself is exercised against a real broker in
tests/integration/test_live.py."""

from __future__ import annotations

import logging
import os

import orjson

from prometheus_client.parser import text_string_to_metric_families

from streams.config import Config
from streams.core.pipeline import Tally
from streams.live.metrics import render
from streams.live.stage_a import StageAStats
from streams.live.stage_a_process import StageAProcess, _PipeHandler, snapshot


def _handle() -> StageAProcess:
    return StageAProcess(Config(), worker_id="w", transactional_id="t", partials_partitions=6)


def _child_stats() -> StageAStats:
    s = StageAStats(batches=7, transactions=3, aborts=1, restores=2, anomalies=4, last_batch_seconds=0.25,
                    batch_seconds_sum=1.5, broker_errors=9, producer_replacements=1, remote_write_sent=12,
                    last_error="boom", last_ok_monotonic=123.5, consumer_rebuilds=1)
    s.tallies = {0: Tally(10, 4, {"bot_ua": 3}, {"health": 1}, 1, {"malformed_json": 1}, 0),
                 2: Tally(5, 2, {"scanner": 1}, {}, 0, {"oversized": 1}, 1)}
    s.lag = {0: 7, 2: 0}
    s.state_ips = {0: 40, 2: 2}
    s.remote_write_dropped = {"rejected_4xx": 2}
    s.next_close_ms = {0: 1_000, 2: None}
    return s


def test_a_snapshot_gives_the_parent_every_stat_but_the_broker_state_it_owns():
    child = _child_stats()
    child.broker.observe(False)
    for _ in range(3):
        child.broker.observe(False)  # the child's own copy says "down": not what the parent shows
    parent = _handle()
    own_broker = parent.stats.broker
    assert parent.dispatch(snapshot(child)) is None
    got = parent.stats
    assert got.broker is own_broker and got.broker.up is True and got.broker.outages == 0
    assert set(got.tallies) == {0, 2} and all(isinstance(t, Tally) for t in got.tallies.values())
    for name in ("batches", "transactions", "aborts", "restores", "anomalies", "last_batch_seconds",
                 "batch_seconds_sum", "lag", "tallies", "state_ips", "broker_errors", "producer_replacements",
                 "remote_write_sent", "remote_write_dropped", "last_error", "last_ok_monotonic",
                 "consumer_rebuilds", "next_close_ms"):
        assert getattr(got, name) == getattr(child, name), name
    # /metrics renders the mirror as it rendered the loop's own stats, the parent's broker state aside.
    def samples(stats: StageAStats) -> dict:
        return {(x.name, tuple(sorted(x.labels.items()))): x.value
                for f in text_string_to_metric_families(render(stats).decode()) for x in f.samples
                if not x.name.startswith(("truesli_broker_up", "truesli_broker_outage", "truesli_seconds_since"))}
    assert samples(got) == samples(child)
    assert samples(got)[("truesli_consumed_total", ())] == 15
    assert samples(got)[("truesli_transactions_total", ())] == 3


def test_a_snapshot_is_taken_when_made_not_when_sent():
    child = _child_stats()
    taken = snapshot(child)
    child.tallies[0].consumed += 100
    child.lag[0] = 99
    parent = _handle()
    parent.dispatch(taken)
    assert parent.stats.tallies[0].consumed == 10 and parent.stats.lag[0] == 7


def test_child_log_records_reach_the_parents_logger_formatted_with_the_childs_pid(caplog):
    sent: list[bytes] = []
    handler = _PipeHandler(sent.append)
    child_log = logging.getLogger("truesli.stage_a.test_child")
    child_log.addHandler(handler)
    child_log.propagate = False
    try:
        child_log.warning("restoring partitions %s from %s", [0, 1], "the changelog")
        try:
            raise ValueError("bad offset")
        except ValueError:
            child_log.error("commit failed", exc_info=True)
    finally:
        child_log.removeHandler(handler)
        child_log.propagate = True
    messages = [orjson.loads(m) for m in sent]
    assert [kind for kind, _ in messages] == ["log", "log"]
    assert messages[0][1]["process"] == os.getpid()
    messages[0][1]["process"] = 4242  # as if from another process: the line must show that one's pid
    sent = [orjson.dumps(m) for m in messages]
    parent = _handle()
    with caplog.at_level(logging.INFO, logger="truesli.stage_a.test_child"):
        for m in sent:
            assert parent.dispatch(m) is None
    got = [r for r in caplog.records if r.name == "truesli.stage_a.test_child"]
    assert [(r.levelno, r.getMessage()) for r in got] == [
        (logging.WARNING, "restoring partitions [0, 1] from the changelog"), (logging.ERROR, "commit failed")]
    assert got[0].process == 4242 and got[0].args == ()
    assert got[1].exc_text.startswith("Traceback") and "ValueError: bad offset" in got[1].exc_text


def test_an_error_message_is_the_reason_the_worker_stops_with():
    parent = _handle()
    assert parent.dispatch(orjson.dumps(["error", "not authorised to use transactional id t"])) == (
        "not authorised to use transactional id t")


def test_a_message_that_cannot_be_applied_is_logged_and_the_child_is_still_watched(caplog):
    """The reader thread reports the child's end; a message it cannot apply must not end the thread."""
    import multiprocessing
    import threading

    parent = _handle()
    exits: list[str] = []
    parent.on_exit = exits.append
    receive, send = multiprocessing.Pipe(duplex=False)

    class _Exited:
        exitcode = 1

        def join(self, timeout: float | None = None) -> None:
            return None

    parent._proc = _Exited()
    reader = threading.Thread(target=parent._read, args=(receive,))
    with caplog.at_level(logging.ERROR, logger="truesli.app"):
        reader.start()
        send.send_bytes(b'["stats", {"tallies": {"0": {"no_such_field": 1}}}]')
        send.send_bytes(orjson.dumps(["error", "boom"]))
        send.close()
        reader.join(5)
    assert not reader.is_alive()
    assert exits == ["boom"]
    assert [r.getMessage() for r in caplog.records if r.name == "truesli.app"] == [
        "could not apply a message from Stage A's process"]
