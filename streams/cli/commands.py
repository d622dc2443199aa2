"""The commands of ``truesli``: each checks its flags, loads the config and calls what does the work
(streams/runs, streams/live, streams/rules.py, streams/tools). Nothing here computes: a command is the
order of its steps and the mapping of broker errors to one-line user errors."""

from __future__ import annotations

import argparse
import sys
import time

from streams.config import load_config
from streams.runs.errors import UserError
from streams.sinks.files import OutputError


def _now_ms() -> int:
    return int(time.time() * 1000)


def _time_arg(text: str | None, flag: str) -> int | None:
    from streams.core.timeparse import parse_epoch, parse_rfc3339

    if text is None:
        return None
    try:
        return parse_epoch(float(text)) if text.replace(".", "", 1).isdigit() else parse_rfc3339(text)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a time: use RFC 3339 (2026-01-01T00:00:00Z) or epoch s/ms") from None


def _with_bootstrap(config, bootstrap: str | None):
    if not bootstrap:
        return config
    return config.model_copy(update={"kafka": config.kafka.model_copy(update={"bootstrap_servers": bootstrap})})


def _kafka(call, *args, **kwargs):
    """``call(*args, **kwargs)`` with an unreachable broker or missing topic as a UserError."""
    from streams.kafka.clients import KafkaUnavailable

    try:
        return call(*args, **kwargs)
    except KafkaUnavailable as exc:
        raise UserError(str(exc)) from None


def cmd_gen(args: argparse.Namespace) -> int:
    if args.scenario:
        from streams.tools.scenarios import write_scenario

        try:
            n, k = write_scenario(args.scenario, args.out, args.changes_out)
        except OSError as exc:
            raise OutputError(f"cannot write {exc.filename}: {exc.strerror}") from None
        print(f"wrote scenario {args.scenario}: {n:,} requests to {args.out}"
              + (f", {k} change events to {args.changes_out}" if args.changes_out else ""), file=sys.stderr)
        return 0
    if args.events is None:
        raise UserError("--events is required (or pass --scenario NAME)")
    if args.events < 0:
        raise UserError("--events must be ≥ 0")
    if not 0.0 <= args.bot_share < 1.0:
        raise UserError("--bot-share must be in [0, 1): the share of requests that are not real users")
    from streams.tools.gen import write_mix

    try:
        write_mix(args.out, events=args.events, seed=args.seed, bot_share=args.bot_share, truth_path=args.truth)
    except OSError as exc:
        # The OSError names the file that failed: the mix or its truth.
        raise OutputError(f"cannot write {exc.filename or args.out}: {exc.strerror}") from None
    if args.out != "-":
        print(f"wrote {args.events:,} requests to {args.out}" + (f", truth to {args.truth}" if args.truth else ""),
              file=sys.stderr)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from streams.runs.embedded import run_embedded
    from streams.runs.finish import report_run, text_stream
    from streams.runs.push import push_run

    config = load_config(args.config)
    if args.format != "auto":  # the flag overrides input.format of the config file
        config = config.model_copy(update={"input": config.input.model_copy(update={"format": args.format})})
    now = _now_ms()
    result = run_embedded(config, args.inputs, now_ms=now, fmt=config.input.format, counters_path=args.counters,
                          dead_letters_path=args.dead_letters, verdicts_path=args.verdicts)
    out = text_stream(args.counters, args.dead_letters, args.verdicts, args.summary_json, args.anomalies)
    found = report_run(config, result, out, now_ms=now, summary_json=args.summary_json, changes=args.changes,
                       anomalies_path=args.anomalies, dead_letters_path=args.dead_letters)
    if args.remote_write or config.remote_write.url:
        return push_run(result.book, config, args.remote_write, out, found)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.runs.demo import run_demo

    return run_demo(events=args.events, seed=args.seed, config_path=args.config, out_dir=args.out_dir,
                    now_ms=_now_ms())


def cmd_report(args: argparse.Namespace) -> int:
    from streams.runs.html_report import history_counters, write_html_report

    given = [name for name, v in (("INPUT", args.inputs), ("--counters", args.counters), ("--parquet", args.parquet))
             if v]
    if len(given) != 1:
        raise UserError("report needs exactly one source of history: request logs (INPUT…), --counters FILE "
                        f"or --parquet DIR… (got {', '.join(given) if given else 'none'})")
    if args.max_points < 2:
        raise UserError("--max-points must be at least 2")
    if args.period_days is not None and not 1 <= args.period_days <= 400:
        raise UserError("--period-days must be a whole number of days from 1 to 400 (the SLO period, e.g. 30)")
    config = load_config(args.config)
    counters, sources = history_counters(config, inputs=args.inputs, counters=args.counters, parquet=args.parquet,
                                         now_ms=_now_ms())
    path = write_html_report(config, counters, args.out, sources, anomalies_path=args.anomalies,
                             changes_path=args.changes, max_points=args.max_points, period_days=args.period_days)
    print(f"wrote {path} ({path.stat().st_size:,} bytes; {len(counters):,} counters)", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from streams.live.worker import run_worker
    from streams.sinks.publish import PublishError

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack to stderr
    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    try:
        return _kafka(run_worker, config, worker_id=args.worker_id, web_port=args.web_port, loglevel=args.loglevel)
    except PublishError as exc:
        raise UserError(str(exc)) from None


def cmd_rules(args: argparse.Namespace) -> int:
    from pathlib import Path

    from streams.rules import RULE_FILES, RuleOptions, unreachable_alerts, write_rules

    config = load_config(args.config)
    burn = config.detection.burn

    def pick(flag, default):  # noqa: ANN001 - a flag given overrides the config's detection.burn
        return default if flag is None else flag

    min_ticket = pick(args.min_ticket_events, pick(args.min_events, burn.min_ticket_events))
    try:
        options = RuleOptions(page=pick(args.page, burn.page), page_slow=pick(args.page_slow, burn.page_slow),
                              ticket=pick(args.ticket, burn.ticket), ticket_slow=pick(args.ticket_slow, burn.ticket_slow),
                              min_events=pick(args.min_events, burn.min_events), min_ticket_events=min_ticket)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = Path(args.out)
    write_rules(config, out, options, args.config or "the built-in default config")
    for warning in unreachable_alerts(config, options):
        print(f"truesli: warning: {warning}", file=sys.stderr)
    print(f"wrote {out / RULE_FILES[0]} and {out / RULE_FILES[1]}", file=sys.stderr)
    return 0


def _replay_once(config, args: argparse.Namespace, now: int, with_sinks: bool):
    """One pass over the requested history (a RunResult)."""
    from streams.runs.replay import Progress, replay_history

    return _kafka(replay_history, config, topic=args.topic, parquet=args.parquet,
                  from_ms=_time_arg(args.from_, "--from"), to_ms=_time_arg(args.to, "--to"), now_ms=now,
                  counters_path=args.counters if with_sinks else None,
                  dead_letters_path=args.dead_letters if with_sinks else None, progress=Progress())


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.runs.finish import report_run, text_stream
    from streams.runs.push import push_run
    from streams.sinks.files import write_json

    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    if args.to_topic and args.to_topic == config.kafka.topics.counters and not args.allow_live_topic:
        raise UserError(f"{args.to_topic} is the live counters topic: pass --allow-live-topic to overwrite live "
                        "results with recomputed ones, or choose another --to-topic")
    now = _now_ms()
    result = _replay_once(config, args, now, with_sinks=True)
    out = text_stream(args.counters, args.dead_letters, args.summary_json, args.anomalies)
    found = report_run(config, result, out, now_ms=now, summary_json=args.summary_json, changes=args.changes,
                       anomalies_path=args.anomalies, dead_letters_path=args.dead_letters)
    if args.compare:
        from streams.runs.compare import compare, render_compare

        old_config = _with_bootstrap(load_config(args.compare), args.bootstrap)
        report = compare(old_config, _replay_once(old_config, args, now, with_sinks=False).book, config, result.book)
        if args.compare_json:
            write_json(args.compare_json, report)
        out.write("\n" + render_compare(report, args.compare, args.config or "the built-in default"))
    if args.to_topic:
        from streams.sinks.kafka_topic import publish_counters

        n = _kafka(publish_counters, config.kafka, result.book.merged(), args.to_topic, now)
        print(f"published {n:,} counters to {args.to_topic}", file=out)
    if args.remote_write or config.remote_write.url:
        return push_run(result.book, config, args.remote_write, out, found)
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from streams.runs.archive import archive_topic

    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    topic = args.topic or config.kafka.topics.requests
    result = _kafka(archive_topic, config, topic, args.out, from_ms=_time_arg(args.from_, "--from"),
                    to_ms=_time_arg(args.to, "--to"))
    print(f"archived {result.records:,} records ({result.dead_letters:,} undecodable, kept raw) from {topic} "
          f"into {len(result.files)} files under {args.out}; next offsets "
          + ", ".join(f"p{p}={o}" for p, o in sorted(result.next_offsets.items())))
    return 0


def cmd_sniff(args: argparse.Namespace) -> int:
    from streams.runs.sniff import sniff_main

    return sniff_main(load_config(args.config), args.inputs, args.samples, args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from streams.tools.bench import run_core_bench

    run_core_bench(events=args.events, seed=args.seed, out_json=args.json)
    return 0
