"""The live worker pushes remote-write before committing offsets: with the receiver down nothing is
committed past what it has, and once it is up every count arrives (queried back from VictoriaMetrics)."""

from __future__ import annotations

import time

import yaml

from tests.support.live_harness import Worker, free_port, live_case, produce, wait_for_counters
from tests.support.receivers import start_victoria_metrics


def _totals(vm) -> dict[tuple, float]:
    """Last value of every per-partition series, summed over partitions."""
    out: dict[tuple, float] = {}
    for labels, samples in vm.export('{__name__=~"truesli_(sli|raw)_events_total"}').items():
        d = dict(labels)
        key = (d["__name__"], d["journey"], d["slo"], d["result"])
        out[key] = out.get(key, 0.0) + samples[-1][1]
    return out


def test_receiver_down_then_up_every_count_arrives(kafka_broker, tmp_path):
    case = live_case(tmp_path, kafka_broker.bootstrap, partitions=2, events=12_000, seed=41)
    port = free_port()
    doc = yaml.safe_load(case.config_path.read_text())
    doc["remote_write"] = {"url": f"http://127.0.0.1:{port}/api/v1/write", "deadline_s": 2, "timeout_s": 1,
                           "max_retries": 2}
    case.config_path.write_text(yaml.safe_dump(doc))
    expected = {}
    for (journey, slo, _), (good, total, raw_good, raw_total, _) in case.expected.items():
        for name, g, t in (("truesli_sli_events_total", good, total), ("truesli_raw_events_total", raw_good, raw_total)):
            for result, n in (("good", g), ("bad", t - g)):
                key = (name, journey, slo, result)
                expected[key] = expected.get(key, 0.0) + n

    w = Worker(case.config_path, "rw", tmp_path / "rw.log").start()
    vm = None
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        produce(case.bootstrap, case.topics.requests, case.lines)
        # Receiver down: processing happens, but nothing is committed past what was delivered.
        m = w.wait_metrics(lambda m: m.get('truesli_remote_write_dropped_total{reason="receiver_unreachable"}', 0) > 0
                           and m.get("truesli_transaction_aborts_total", 0) >= 1, timeout=120)
        assert m["truesli_transactions_total"] == 0, w.tail()
        # The outage lasts until the worker has tried the same work again and aborted again (an event, not a
        # sleep): still nothing committed.
        m = w.wait_metrics(lambda m: m.get("truesli_transaction_aborts_total", 0) >= 2, timeout=120)
        assert m["truesli_transactions_total"] == 0, w.tail()
        vm = start_victoria_metrics(tmp_path, port)
        got = wait_for_counters(case.bootstrap, case.topics.counters, case.expected, timeout=180)
        assert got == case.expected, w.tail()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _totals(vm) != expected:
            time.sleep(2)
        assert _totals(vm) == expected, w.tail()
    finally:
        w.stop()
        if vm is not None:
            vm.stop()
