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

        # A scenario is a fixed story (its own length, seed and traffic): the mix's knobs would be ignored.
        ignored = [flag for flag, v in (("--events", args.events), ("--seed", args.seed),
                                        ("--bot-share", args.bot_share), ("--truth", args.truth)) if v is not None]
        if ignored:
            raise UserError(f"{', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to --scenario "
                            f"{args.scenario} (a scenario has a fixed length, seed and mix): drop "
                            f"{'it' if len(ignored) == 1 else 'them'}")

        try:
            n, k, r = write_scenario(args.scenario, args.out, args.changes_out, args.reports_out)
        except OSError as exc:
            raise OutputError(f"cannot write {exc.filename}: {exc.strerror}") from None
        print(f"wrote scenario {args.scenario}: {n:,} requests to {args.out}"
              + (f", {k} change events to {args.changes_out}" if args.changes_out else "")
              + (f", {r} user reports to {args.reports_out}" if args.reports_out else ""), file=sys.stderr)
        return 0
    if args.changes_out:
        raise UserError("--changes-out needs --scenario NAME: the traffic mix has no change events")
    if args.reports_out:
        raise UserError("--reports-out writes a scenario's user reports: pass --scenario NAME with it")
    if args.events is None:
        raise UserError("--events is required (or pass --scenario NAME)")
    args.seed = 1 if args.seed is None else args.seed
    args.bot_share = 0.9 if args.bot_share is None else args.bot_share
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
                       anomalies_path=args.anomalies, dead_letters_path=args.dead_letters,
                       user_reports=args.user_reports)
    rc = 0
    if args.remote_write or config.remote_write.url:
        rc = push_run(result.book, config, args.remote_write, out, found)
    return rc or _input_mistake(result, config.input.format)


def _input_mistake(result, fmt: str) -> int:
    """Most records dead-lettered for one format/mapping reason: say the fix, exit 3 (outputs are written)."""
    from streams.runs.input_check import EXIT_INPUT_MISTAKE, input_mistake

    hint = input_mistake(result.tally, result.dead_letter_samples, fmt)
    if hint is None:
        return 0
    print(f"truesli: hint: {hint}", file=sys.stderr)
    return EXIT_INPUT_MISTAKE


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
                             changes_path=args.changes, max_points=args.max_points, period_days=args.period_days,
                             user_reports=args.user_reports)
    print(f"wrote {path} ({path.stat().st_size:,} bytes; {len(counters):,} counters)", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from streams.live.worker import WebPortInUse, run_worker
    from streams.sinks.publish import PublishError

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack to stderr
    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    try:
        return _kafka(run_worker, config, worker_id=args.worker_id, web_port=args.web_port, loglevel=args.loglevel)
    except (PublishError, WebPortInUse) as exc:
        raise UserError(str(exc)) from None


def cmd_rules(args: argparse.Namespace) -> int:
    from pathlib import Path

    from streams.rules import RuleOptions, prometheus_rules, unreachable_alerts
    from streams.rules_files import write_rules

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
    files = write_rules(config, out, options, args.config or "the built-in default config")
    for warning in unreachable_alerts(config, options):
        print(f"truesli: warning: {warning}", file=sys.stderr)
    n_sloth = sum(1 for n in files if n.startswith("sloth/"))
    n_pyrra = sum(1 for n in files if n.startswith("pyrra/"))
    print(f"wrote {out / 'prometheus-rules.yaml'} ({len(prometheus_rules(config, options)['groups'])} groups), "
          f"{n_sloth} Sloth specs in {out / 'sloth'}/ and {n_pyrra} Pyrra ServiceLevelObjectives in "
          f"{out / 'pyrra'}/", file=sys.stderr)
    return 0


def _replay_once(config, args: argparse.Namespace, now: int, with_sinks: bool):
    """One pass over the requested history (a RunResult)."""
    from streams.runs.replay import Progress, replay_history

    return _kafka(replay_history, config, topic=args.topic, parquet=args.parquet,
                  from_ms=_time_arg(args.from_, "--from"), to_ms=_time_arg(args.to, "--to"), now_ms=now,
                  counters_path=args.counters if with_sinks else None,
                  dead_letters_path=args.dead_letters if with_sinks else None, progress=Progress(),
                  workers=args.workers)


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.runs.finish import report_run, text_stream
    from streams.runs.push import push_run
    from streams.sinks.files import write_json

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1 (got {args.workers}); leave it out to use every usable CPU")
    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    if args.to_topic and args.to_topic == config.kafka.topics.counters and not args.allow_live_topic:
        raise UserError(f"{args.to_topic} is the live counters topic: pass --allow-live-topic to overwrite live "
                        "results with recomputed ones, or choose another --to-topic")
    now = _now_ms()
    result = _replay_once(config, args, now, with_sinks=True)
    out = text_stream(args.counters, args.dead_letters, args.summary_json, args.anomalies)
    found = report_run(config, result, out, now_ms=now, summary_json=args.summary_json, changes=args.changes,
                       anomalies_path=args.anomalies, dead_letters_path=args.dead_letters,
                       user_reports=args.user_reports)
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
    rc = 0
    if args.remote_write or config.remote_write.url:
        rc = push_run(result.book, config, args.remote_write, out, found)
    return rc or _input_mistake(result, config.input.format)


def cmd_archive(args: argparse.Namespace) -> int:
    from streams.runs.archive import archive_topic

    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    topic = args.topic or config.kafka.topics.requests
    result = _kafka(archive_topic, config, topic, args.out, from_ms=_time_arg(args.from_, "--from"),
                    to_ms=_time_arg(args.to, "--to"))
    print(f"archived {result.records:,} records ({result.dead_letters:,} undecodable, kept raw) from {topic} "
          f"into {len(result.files)} files under {args.out}; next offsets "
          + ", ".join(f"p{p}={o}" for p, o in sorted(result.next_offsets.items())))
    if result.quarantined:
        print("quarantined (under quarantine/, kept raw): "
              + ", ".join(f"{why} {n:,}" for why, n in sorted(result.quarantined.items())))
    return 0


def cmd_sniff(args: argparse.Namespace) -> int:
    from streams.runs.sniff import sniff_main

    return sniff_main(load_config(args.config), args.inputs, args.samples, args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from streams.tools.bench import run_core_bench

    run_core_bench(events=args.events, seed=args.seed, out_json=args.json)
    return 0
