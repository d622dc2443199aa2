"""The ``truesli`` argument parser: every command, flag, default and help text (the CLI contract)."""

from __future__ import annotations

import argparse

from streams.cli.commands import (cmd_archive, cmd_bench, cmd_demo, cmd_gen, cmd_process, cmd_replay, cmd_report,
                                  cmd_rules, cmd_run, cmd_sniff)
from streams.tools.scenarios import SCENARIOS


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("truesli")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _add(sub, name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` opens with a description line (the summary unless one is given)."""
    return sub.add_parser(name, help=summary, description=description or summary[0].upper() + summary[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="truesli", description="Streaming SLIs that count real users only.")
    parser.add_argument("--version", action="version", version=f"truesli {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = _add(sub, "gen", "write a labelled traffic mix (request_log JSONL) and its ground truth",
             "Write a labelled traffic mix (request_log JSONL) and its ground truth, or with --scenario one of "
             "the detector scenarios (fixed length and seed) and its change events.")
    g.add_argument("--events", type=int, help="number of requests of the traffic mix (required without --scenario)")
    g.add_argument("--seed", type=int, help="random seed of the mix: the same seed gives the same file (default: 1)")
    g.add_argument("--bot-share", type=float, help="share of requests that are not real users (default: 0.9)")
    g.add_argument("--out", required=True, help="output JSONL ('-' = stdout)")
    g.add_argument("--truth", help="write the real-user ground truth here (JSON; the mix only)")
    g.add_argument("--scenario", choices=sorted(SCENARIOS),
                   help="instead of the mix: a detector scenario (burst, quiet night, 30-day slow burn, …)")
    g.add_argument("--changes-out", metavar="FILE", help="with --scenario: write its change events here")
    g.add_argument("--reports-out", metavar="FILE",
                   help="with --scenario: write its user reports (user_report JSON lines) here")
    g.set_defaults(func=cmd_gen)

    p = _add(sub, "process", "clean and count request logs from files or stdin (embedded mode)",
             "Clean and count request logs from files or stdin (embedded mode): the SLI of real users, raw "
             "beside it, and why every other record was dropped. Exit 0; 2 on a user error; 3 when most "
             "records were dead-lettered for one reason a flag or setting fixes (a hint says which).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="log files ('-' = stdin; .gz ok; Parquet archives)")
    p.add_argument("--config", help="truesli.yaml (default: the built-in config)")
    p.add_argument("--format", choices=("auto", "jsonl", "combined", "parquet"), default="auto",
                   help="input format (default: auto — Parquet by file, JSON vs Common/Combined Log Format by "
                        "line; overrides input.format unless auto)")
    p.add_argument("--counters", help="write sli_counter JSON lines here")
    p.add_argument("--dead-letters", help="write dead_letter JSON lines here")
    p.add_argument("--verdicts", help="write one JSON line per input record: why it was counted or dropped")
    p.add_argument("--summary-json", help="write run totals as JSON here")
    p.add_argument("--changes", action="append", metavar="FILE",
                   help="change events (change_event JSON lines: deploys, config, freezes); repeatable")
    p.add_argument("--anomalies", metavar="FILE", help="write the detectors' anomalies (JSON lines) here")
    p.add_argument("--user-reports", action="append", metavar="FILE",
                   help="user reports (user_report JSON lines: tickets, RUM errors…) to check the SLI against; "
                        "repeatable")
    p.add_argument("--remote-write", metavar="URL",
                   help="push the counters to a Prometheus remote-write receiver (event-time stamps: backfills)")
    p.set_defaults(func=cmd_process)

    d = _add(sub, "demo", "generate a bot-heavy sample, process it, show how bots distort the SLI")
    d.add_argument("--events", type=int, default=500_000, help="requests in the generated sample (default: 500,000)")
    d.add_argument("--seed", type=int, default=7, help="random seed of the sample (default: 7)")
    d.add_argument("--config", help="config to use (default: examples/truesli.yaml)")
    d.add_argument("--out-dir", help="where to keep the sample and outputs (default: a temp dir)")
    d.set_defaults(func=cmd_demo)

    rep = _add(sub, "report", "write a self-contained HTML review report with charts per journey/SLO")
    rep.add_argument("inputs", nargs="*", metavar="INPUT", help="request logs to process first (as `process`)")
    rep.add_argument("--config", help="truesli.yaml: journeys, services and objectives (default: built-in)")
    rep.add_argument("--counters", metavar="FILE", help="sli_counter JSON lines (`truesli process --counters`)")
    rep.add_argument("--parquet", nargs="+", metavar="DIR", help="Parquet archives or files to replay")
    rep.add_argument("--anomalies", metavar="FILE", help="anomaly JSON lines: markers and the meta-signal verdicts")
    rep.add_argument("--changes", metavar="FILE", help="change_event JSON lines: deploys, freezes… as markers")
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--user-reports", action="append", metavar="FILE",
                   help="user reports (user_report JSON lines: tickets, RUM errors…) to check the SLI against; "
                        "repeatable")
    rep.add_argument("--period-days", type=int, metavar="DAYS",
                     help="SLO period in whole days (1-400) for the budget chart, active SLOs and the detectors' "
                          "verdicts (default: detection.slo_period_days, 30)")
    rep.add_argument("--max-points", type=int, default=600,
                     help="display points per chart (downsampling; default: 600)")
    rep.set_defaults(func=cmd_report)

    r = _add(sub, "run", "the live worker: consume requests.raw, publish sli.counters (Kafka)",
             "The live worker: consume requests.raw, publish sli.counters (Kafka). Its first lines name the "
             "broker, topics, group, partitions and the /metrics and /health URLs.")
    r.add_argument("--config", help="truesli.yaml (kafka: section for brokers and topics)")
    r.add_argument("--bootstrap", help="override kafka.bootstrap_servers")
    r.add_argument("--worker-id", help="stable id of this worker (transactional id suffix; default: hostname)")
    r.add_argument("--web-port", type=int, help="override worker.web_port (/metrics, /health)")
    r.add_argument("--loglevel", default="info", choices=("debug", "info", "warning", "error"),
                   help="log level (default: info; debug also shows faust's and the Kafka clients' chatter)")
    r.set_defaults(func=cmd_run)

    u = _add(sub, "rules", "write Sloth-compatible Prometheus rules, Sloth specs and Pyrra SLOs")
    u.add_argument("--config", help="truesli.yaml (default: the built-in config)")
    u.add_argument("--out", required=True,
                   help="directory for prometheus-rules.yaml, sloth/<service>.yaml and pyrra/<journey>-<slo>.yaml")
    # Defaults come from the config's detection.burn (14.4/6/3/1, 100 events): the detectors and the
    # generated rules then share one definition; a flag overrides it for the rules only.
    u.add_argument("--page", type=float, help="page burn-rate factor over 1h and 5m (default: detection.burn)")
    u.add_argument("--page-slow", type=float, help="page burn-rate factor over 6h and 30m")
    u.add_argument("--ticket", type=float, help="ticket burn-rate factor over 1d and 2h")
    u.add_argument("--ticket-slow", type=float, help="ticket burn-rate factor over 3d and 6h")
    u.add_argument("--min-events", type=int,
                   help="no alert unless the long window (1h, 6h; and 1d, 3d for tickets) saw this many events")
    u.add_argument("--min-ticket-events", type=int,
                   help="separate minimum for the ticket windows 1d and 3d (default: --min-events, else "
                        "detection.burn.min_ticket_events)")
    u.set_defaults(func=cmd_rules)

    rp = _add(sub, "replay", "recompute SLIs from history: a Kafka topic by time range, or Parquet")
    rp.add_argument("--config", help="truesli.yaml (the definition to apply to the past)")
    source = rp.add_mutually_exclusive_group(required=True)
    source.add_argument("--topic", help="Kafka topic to read (never written to)")
    source.add_argument("--parquet", nargs="+", metavar="DIR", help="Parquet files or directories")
    rp.add_argument("--from", dest="from_", metavar="T", help="start (RFC 3339 or epoch), by message timestamp")
    rp.add_argument("--to", metavar="T", help="end, exclusive")
    rp.add_argument("--bootstrap", help="override kafka.bootstrap_servers")
    rp.add_argument("--counters", help="write sli_counter JSON lines here")
    rp.add_argument("--dead-letters", help="write dead_letter JSON lines here")
    rp.add_argument("--summary-json", help="write run totals as JSON here")
    rp.add_argument("--changes", action="append", metavar="FILE", help="change events (JSON lines); repeatable")
    rp.add_argument("--anomalies", metavar="FILE", help="write the detectors' anomalies (JSON lines) here")
    rp.add_argument("--user-reports", action="append", metavar="FILE",
                   help="user reports (user_report JSON lines: tickets, RUM errors…) to check the SLI against; "
                        "repeatable")
    rp.add_argument("--remote-write", metavar="URL", help="backfill the receiver with original timestamps")
    rp.add_argument("--to-topic", metavar="TOPIC", help="publish the recomputed counters to this Kafka topic")
    rp.add_argument("--allow-live-topic", action="store_true",
                    help="allow --to-topic to be the live kafka.topics.counters topic")
    rp.add_argument("--compare", metavar="OLD_CONFIG",
                    help="also replay under this (old) definition and report what changed, alerts included")
    rp.add_argument("--compare-json", metavar="FILE", help="write the comparison as JSON here")
    rp.add_argument("--workers", type=int, metavar="N",
                    help="processes replaying a truesli archive's partitions side by side, same results for any "
                         "N (default: the usable CPUs, at most one per partition; 1 = this process only)")
    rp.set_defaults(func=cmd_replay)

    a = _add(sub, "archive", "append a Kafka topic's new records to Parquet (resumable)")
    a.add_argument("--config", help="truesli.yaml (kafka: section)")
    a.add_argument("--topic", help="topic to archive (default: kafka.topics.requests)")
    a.add_argument("--out", required=True, help="archive directory (date=…/hour=… partitions)")
    a.add_argument("--from", dest="from_", metavar="T", help="first run only: start (RFC 3339 or epoch)")
    a.add_argument("--to", metavar="T", help="stop before this time (exclusive)")
    a.add_argument("--bootstrap", help="override kafka.bootstrap_servers")
    a.set_defaults(func=cmd_archive)

    sn = _add(sub, "sniff", "which log format each line looks like, with counts and mapped samples")
    sn.add_argument("inputs", nargs="+", metavar="FILE", help="log files ('-' = stdin; .gz ok)")
    sn.add_argument("--config", help="truesli.yaml: its input section (preset, fields, caps) is used")
    sn.add_argument("--samples", type=int, default=3, help="decoded records shown per format (default: 3)")
    sn.add_argument("--json", action="store_true", help="one JSON object per file instead of text")
    sn.set_defaults(func=cmd_sniff)

    b = _add(sub, "bench", "measure core throughput against a bare orjson.loads loop")
    b.add_argument("--events", type=int, default=1_000_000, help="requests to generate and time (default: 1,000,000)")
    b.add_argument("--seed", type=int, default=1, help="random seed of the generated requests (default: 1)")
    b.add_argument("--json", help="also write the results as JSON here")
    b.set_defaults(func=cmd_bench)
    return parser
