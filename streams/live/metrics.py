"""The worker's /metrics: Prometheus text built from Stage A's tallies and stats and Stage B's counters
(prometheus_client).

Labels come only from fixed names and configured reasons — never from raw input — so the series count
is bounded by configuration (invariant 5). Values are cumulative per input partition and survive
restarts (tallies are restored from the state changelog); a partition moving to another worker moves
its totals with it, which Prometheus sees as a counter reset on one worker and growth on the other.
"""

from __future__ import annotations

import time

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from streams.sinks.detection_series import GAUGE_HELP, gauge_samples
from streams.live.stage_a import StageAStats
from streams.live.stage_b import StageBStats


class WorkerCollector:
    """Stage A's tallies and transport counters and Stage B's counters, in one fixed family order."""

    def __init__(self, stage_a: StageAStats, stage_b: StageBStats) -> None:
        self.stage_a = stage_a
        self.stage_b = stage_b

    def collect(self):
        s, b = self.stage_a, self.stage_b
        tallies = list(s.tallies.values())

        def total(attr: str) -> int:
            return sum(getattr(t, attr) for t in tallies)

        def by_reason(attr: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for t in tallies:
                for k, v in getattr(t, attr).items():
                    out[k] = out.get(k, 0) + v
            return out

        for name, attr, doc in (("consumed", "consumed", "records consumed from the input topic"),
                                ("counted", "counted", "records counted as real-user events"),
                                ("unmatched", "unmatched", "records no journey matched"),
                                ("late", "late", "records counted into already-closed windows")):
            yield CounterMetricFamily(f"truesli_{name}", doc, value=total(attr))
        for name, attr, doc in (("filtered", "filtered", "records dropped as not real users, by filter"),
                                ("excluded", "excluded", "records excluded as not user events, by rule"),
                                ("dead_lettered", "dead_lettered", "records sent to the dead-letter topic")):
            fam = CounterMetricFamily(f"truesli_{name}", doc, labels=["reason"])
            for reason, n in sorted(by_reason(attr).items()):
                fam.add_metric([reason], n)
            yield fam
        lag = GaugeMetricFamily("truesli_consumer_lag", "input records not yet processed", labels=["partition"])
        for p, n in sorted(s.lag.items()):
            lag.add_metric([str(p)], n)
        yield lag
        yield GaugeMetricFamily("truesli_batch_latency_seconds", "processing time of the last batch",
                                value=s.last_batch_seconds)
        yield CounterMetricFamily("truesli_batch_seconds", "processing time of all batches",
                                  value=s.batch_seconds_sum)
        yield CounterMetricFamily("truesli_batches", "batches processed", value=s.batches)
        yield CounterMetricFamily("truesli_transactions", "Kafka transactions committed", value=s.transactions)
        yield CounterMetricFamily("truesli_transaction_aborts", "Kafka transactions aborted", value=s.aborts)
        yield CounterMetricFamily("truesli_state_restores", "partition states restored from the changelog",
                                  value=s.restores)
        yield CounterMetricFamily("truesli_broker_errors", "errors reported by the Kafka client",
                                  value=s.broker_errors)
        yield GaugeMetricFamily("truesli_broker_up", "1 while the Kafka cluster answers the worker's probe, 0 during "
                                "an outage", value=1 if s.broker.up else 0)
        yield CounterMetricFamily("truesli_broker_outages", "times the Kafka cluster stopped answering",
                                  value=s.broker.outages)
        yield CounterMetricFamily("truesli_broker_outage_seconds", "time the Kafka cluster was unreachable, "
                                  "the current outage included", value=s.broker.outage_seconds())
        yield CounterMetricFamily("truesli_consumer_rebuilds",
                                  "consumers replaced after a fatal error (e.g. fenced after an outage)",
                                  value=s.consumer_rebuilds)
        yield CounterMetricFamily("truesli_producer_replacements",
                                  "transactional producers replaced after they stopped responding",
                                  value=s.producer_replacements)
        yield CounterMetricFamily("truesli_stage_b_skipped", "partials Stage B could not parse (skipped)",
                                  value=b.skipped)
        yield CounterMetricFamily("truesli_change_dead_letters", "ops.changes records that are not change events",
                                  value=b.change_dead_letters)
        yield CounterMetricFamily("truesli_user_report_dead_letters",
                                  "ops.user_reports records that are not user reports", value=b.user_report_dead_letters)
        yield CounterMetricFamily("truesli_detection_errors", "detection steps that failed (see the log)",
                                  value=b.detection_errors)
        yield CounterMetricFamily("truesli_abuse_anomalies", "scanner / credential-stuffing anomalies published",
                                  value=s.anomalies)
        yield CounterMetricFamily("truesli_remote_write_samples_sent", "remote-write samples delivered",
                                  value=s.remote_write_sent)
        dropped = CounterMetricFamily("truesli_remote_write_dropped", "remote-write samples not delivered",
                                      labels=["reason"])
        for reason, n in sorted(s.remote_write_dropped.items()):
            dropped.add_metric([reason], n)
        yield dropped
        yield GaugeMetricFamily("truesli_state_ips", "client IPs held in per-IP filter state",
                                value=sum(s.state_ips.values()))
        yield GaugeMetricFamily("truesli_assigned_partitions", "input partitions owned by this worker",
                                value=len(s.tallies))
        age = time.monotonic() - s.last_ok_monotonic if s.last_ok_monotonic else -1.0
        yield GaugeMetricFamily("truesli_seconds_since_last_poll", "time since the consume loop last ran",
                                value=age)


class DetectionCollector:
    """Stage B's detectors: anomalies sent by type/state and the meta-signal gauges (docs/design.md)."""

    def __init__(self, detection) -> None:  # noqa: ANN001 - streams.live.detection.LiveDetection
        self.detection = detection

    def collect(self):
        fam = CounterMetricFamily("truesli_anomalies", "anomalies sent to sli.anomalies", labels=["type", "state"])
        for (kind, state), n in sorted(self.detection.fired.items()):
            fam.add_metric([kind, state], n)
        yield fam
        yield CounterMetricFamily("truesli_change_events", "change events read from ops.changes",
                                  value=self.detection.changes)
        yield GaugeMetricFamily("truesli_change_feed_ready",
                                "1 once ops.changes and ops.user_reports have been read up to their ends "
                                "(detectors wait for them)", value=1.0 if self.detection.caught_up else 0.0)
        yield CounterMetricFamily("truesli_user_reports", "user-report records read from ops.user_reports",
                                  value=self.detection.reports)
        yield CounterMetricFamily("truesli_review_runs", "evaluations of the user-pain / postmortem review",
                                  value=self.detection.review.stats.runs)
        families: dict[str, GaugeMetricFamily] = {}
        for labels, _ts, value in gauge_samples(self.detection.gauges()):
            name = labels["__name__"]
            keys = [k for k in labels if k != "__name__"]
            f = families.get(name)
            if f is None:
                f = families[name] = GaugeMetricFamily(name, GAUGE_HELP[name], labels=keys)
            f.add_metric([labels[k] for k in keys], value)
        yield from families.values()


def render(stage_a: StageAStats, stage_b: StageBStats | None = None, detection=None) -> bytes:  # noqa: ANN001
    """/metrics of one worker; without ``stage_b`` its counters read 0 (a Stage A-only view, for tests)."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(stage_a, stage_b if stage_b is not None else StageBStats()))
    if detection is not None:
        registry.register(DetectionCollector(detection))
    return generate_latest(registry)
