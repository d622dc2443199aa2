"""``truesli`` command line. Command names and flags are a contract other tooling relies on.

Expected failures (bad config, unreadable input, unwritable output) print one ``truesli: error: …``
line naming the fix and exit 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

from streams.config import ConfigError, load_config
from streams.sinks.files import OutputError
from streams.sources.files import InputError

EXIT_USAGE = 2
SCENARIO_NAMES = ("burst", "burst-after-deploy", "quiet-night", "silent-journey", "credential-stuffing",
                  "slow-burn-30d", "budget-exhausted", "budget-exhausted-frozen")


class UserError(Exception):
    """Anything a user can fix; the message is printed as is."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write_json(path: str, doc: dict) -> None:
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    if path == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None


# -- commands ----------------------------------------------------------------------------------------------
def cmd_gen(args: argparse.Namespace) -> int:
    from streams.tools.gen import main_gen

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
    try:
        main_gen(args.events, args.seed, args.bot_share, args.out, args.truth)
    except OSError as exc:
        raise OutputError(f"cannot write {args.out}: {exc.strerror}") from None
    if args.out != "-":
        print(f"wrote {args.events:,} requests to {args.out}" + (f", truth to {args.truth}" if args.truth else ""),
              file=sys.stderr)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from streams.runs.embedded import run_embedded
    from streams.report.summary import render_report, summary_dict

    config = load_config(args.config)
    if args.format != "auto":  # the flag overrides input.format of the config file
        config = config.model_copy(update={"input": config.input.model_copy(update={"format": args.format})})
    result = run_embedded(config, args.inputs, now_ms=_now_ms(), fmt=config.input.format,
                          counters_path=args.counters, dead_letters_path=args.dead_letters,
                          verdicts_path=args.verdicts)
    if args.summary_json:
        _write_json(args.summary_json, summary_dict(result.tally, result.book, config))
    # A JSON output on stdout keeps it clean: the human-readable report then goes to stderr.
    out = sys.stderr if "-" in (args.counters, args.dead_letters, args.verdicts, args.summary_json,
                                args.anomalies) else sys.stdout
    out.write(render_report(result.tally, result.book, config, result.inputs, result.dead_letter_samples,
                            result.first_ts_ms, result.last_ts_ms))
    found = None
    if config.detection.enabled:
        found = _detect(config, result, args.changes, args.anomalies, out, _now_ms(), args.dead_letters)
    if args.remote_write or config.remote_write.url:
        return _remote_write(result.book, config, args.remote_write, out, found)
    return 0


def _remote_write(book, config, url: str | None, out, found=None) -> int:
    """Push the run's counters (and the detectors' gauges); exit 1 (not 0) when anything could not be
    delivered or did not read back as sent. Warns first about samples the receiver will not keep."""
    from streams.sinks.backfill import failure_line
    from streams.sinks.detection_series import anomaly_samples, gauge_samples
    from streams.sinks.publish import PublishError, backfill

    extra = [*gauge_samples(found.gauges), *anomaly_samples(found.anomalies)] if found else []
    try:
        result = backfill(book, config.remote_write, url, extra, _now_ms())
    except PublishError as exc:
        raise UserError(str(exc)) from None
    for warning in result.warnings:
        print(f"truesli: warning: {warning}", file=sys.stderr)
    report = result.delivery
    target = url or config.remote_write.url
    out.write(f"Remote-write: {report.samples_sent:,} samples in {report.requests:,} requests to {target}"
              f" ({report.retries} retries)\n")
    if report.dropped:
        dropped = ", ".join(f"{k} {v:,}" for k, v in sorted(report.dropped.items()))
        print(f"truesli: remote-write could not deliver every sample: dropped {dropped}; last error: "
              f"{report.last_error}", file=sys.stderr)
        return 1
    rb = result.readback
    if rb.skipped:
        out.write(f"Read-back: not verified ({rb.skipped})\n")
    elif rb.ok:
        out.write(f"Read-back: all {rb.verified:,} series hold their newest sample "
                  f"({result.target.info.kind} at {result.target.api.base})\n")
    else:
        print(failure_line(result.target, rb, target), file=sys.stderr)
        return 1
    return 0


def _detect(config, result, changes: list[str] | None, anomalies_path: str | None, out, now_ms: int,
            dead_letters_path: str | None = None):
    """Run the detectors over a finished run; write --anomalies and print what fired."""
    from streams.runs.detection import detect, read_changes
    from streams.sinks.files import JsonLinesSink
    from streams.sinks.serialize import dead_letter_to_dict

    change_input = read_changes(changes or [])
    abuse = result.abuse.finish() if result.abuse is not None else []
    found = detect(config, result.book.merged(), change_input.events, abuse)
    if anomalies_path:
        sink = JsonLinesSink(anomalies_path)
        try:
            sink.add(a.to_dict() for a in found.anomalies)
        finally:
            sink.close()
    if change_input.dead_letters:
        first = change_input.dead_letters[0]
        print(f"truesli: {len(change_input.dead_letters)} change-event lines are not change events (first: "
              f"{first.source} line {first.offset}: {first.error})"
              + (f"; dead-lettered to {dead_letters_path}" if dead_letters_path else ""), file=sys.stderr)
        if dead_letters_path:
            sink = JsonLinesSink(dead_letters_path, append=True)
            try:
                sink.add(dead_letter_to_dict(d, now_ms) for d in change_input.dead_letters)
            finally:
                sink.close()
    out.write(render_anomalies(found, len(change_input.events), anomalies_path))
    return found


def render_anomalies(found, n_changes: int, path: str | None) -> str:
    from collections import Counter

    from streams.core.timeparse import format_rfc3339

    firing = [a for a in found.anomalies if a.state == "firing"]
    lines = [f"\nDetection ({n_changes} change events): {len(firing)} anomalies fired"
             + (f" → {path}" if path else "")]
    by_type = Counter(a.type for a in firing)
    if by_type:
        lines.append("  " + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())))
    for a in firing[:12]:
        where = f"{a.journey}/{a.slo}" if a.journey else (a.key or "-")
        lines.append(f"  {format_rfc3339(a.ts_ms)} {a.type:<20} {a.severity:<6} {where}")
    if len(firing) > 12:
        lines.append(f"  … {len(firing) - 12} more")
    g = found.gauges
    lines.append(f"  SLO program: {g['active_slos']} active SLOs, {g['slos_burning']} burning > 1× (1h), "
                 f"average budget remaining {100 * g['avg_budget_remaining']:.1f}%")
    return "\n".join(lines) + "\n"


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.runs.embedded import run_embedded
    from streams.tools.gen import main_gen
    from streams.report.summary import render_report, summary_dict

    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="truesli-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = out_dir / "sample.jsonl"
    truth_path = out_dir / "truth.json"
    truth = main_gen(args.events, args.seed, 0.9, str(sample), str(truth_path))
    examples = Path(__file__).resolve().parent.parent / "examples" / "truesli.yaml"
    config = load_config(args.config or (examples if examples.exists() else None))
    result = run_embedded(config, [str(sample)], now_ms=_now_ms(), counters_path=str(out_dir / "counters.jsonl"),
                          dead_letters_path=str(out_dir / "dead-letters.jsonl"),
                          verdicts_path=str(out_dir / "verdicts.jsonl"))
    _write_json(str(out_dir / "summary.json"), summary_dict(result.tally, result.book, config))
    print(f"truesli demo: generated {args.events:,} requests (90% of them not real users) → {sample}\n")
    print(render_report(result.tally, result.book, config, result.inputs, result.dead_letter_samples,
                        result.first_ts_ms, result.last_ts_ms))
    print("Ground truth from the generator (real users only):")
    totals = result.book.totals()
    worst = 0.0
    for journey, doc in truth["journeys"].items():
        for slo, t in doc["slos"].items():
            got = totals.get((journey, slo))
            if got is None or not t["total"]:
                continue
            real = 100.0 * (t["total"] - t["good"]) / t["total"]
            cleaned = 100.0 * (got.total - got.good) / got.total if got.total else 0.0
            worst = max(worst, abs(real - cleaned))
            print(f"  {journey}/{slo}: truth {real:.3f}% · truesli {cleaned:.3f}% · "
                  f"off by {abs(real - cleaned):.4f} percentage points")
    if worst > 0.01:
        print("  (Behavioural filters need evidence before they fire: a credential-stuffing IP's first ~10 "
              "failed logins count as real users. The difference shrinks as real traffic grows.)")
    _detect(config, result, None, str(out_dir / "anomalies.jsonl"), sys.stdout, _now_ms())
    report = write_html_report(config, result.book.merged(), str(out_dir / "report.html"), f"logs {sample}",
                               anomalies_path=str(out_dir / "anomalies.jsonl"))
    print(f"\nFiles: {out_dir}/ (counters.jsonl, verdicts.jsonl — why each request was dropped —, "
          "dead-letters.jsonl, anomalies.jsonl, summary.json)")
    print(f"HTML report (charts; open it in a browser): {report}")
    return 0


def write_html_report(config, counters, out: str, sources: str, *, anomalies_path: str | None = None,
                      changes_path: str | None = None, max_points: int = 600, period_days: int | None = None
                      ) -> Path:
    """Build and write the HTML review report; returns its path. User-fixable problems raise UserError."""
    from streams.report.inputs import read_anomalies, read_changes
    from streams.report.model import ReportInputError, build_model
    from streams.report.render import render_html

    anomalies = read_anomalies(anomalies_path) if anomalies_path else None
    changes = read_changes(changes_path) if changes_path else None
    try:
        model = build_model(config, counters, anomalies=anomalies, changes=changes, max_points=max_points,
                            period_days=period_days)
    except ReportInputError as exc:
        raise UserError(str(exc)) from None
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(model, sources), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror}") from None
    return path


def cmd_report(args: argparse.Namespace) -> int:
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
    if args.counters:
        from streams.report.inputs import read_counters

        counters = read_counters(args.counters)
        sources = f"counters {args.counters}"
    elif args.parquet:
        from streams.runs.replay import replay_history

        counters = replay_history(config, parquet=args.parquet, now_ms=_now_ms()).book.merged()
        sources = "Parquet " + ", ".join(args.parquet)
    else:
        from streams.runs.embedded import run_embedded

        counters = run_embedded(config, args.inputs, now_ms=_now_ms()).book.merged()
        sources = "logs " + ", ".join(args.inputs)
    path = write_html_report(config, counters, args.out, sources, anomalies_path=args.anomalies,
                             changes_path=args.changes, max_points=args.max_points, period_days=args.period_days)
    print(f"wrote {path} ({path.stat().st_size:,} bytes; {len(counters):,} counters)", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from streams.live.worker import run_worker
    from streams.kafka.clients import KafkaUnavailable
    from streams.sinks.publish import PublishError

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack to stderr
    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    try:
        return run_worker(config, worker_id=args.worker_id, web_port=args.web_port, loglevel=args.loglevel)
    except (KafkaUnavailable, PublishError) as exc:
        raise UserError(str(exc)) from None


def cmd_rules(args: argparse.Namespace) -> int:
    from streams.rules import RuleOptions, prometheus_rules, unreachable_alerts
    from streams.rules_files import rule_files

    config = load_config(args.config)
    burn = config.detection.burn

    def pick(flag, default):  # noqa: ANN001
        return default if flag is None else flag

    min_ticket = args.min_ticket_events if args.min_ticket_events is not None else (
        args.min_events if args.min_events is not None else burn.min_ticket_events)
    try:
        options = RuleOptions(page=pick(args.page, burn.page), page_slow=pick(args.page_slow, burn.page_slow),
                              ticket=pick(args.ticket, burn.ticket), ticket_slow=pick(args.ticket_slow, burn.ticket_slow),
                              min_events=pick(args.min_events, burn.min_events), min_ticket_events=min_ticket)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    source = args.config or "the built-in default config"
    out = Path(args.out)
    files = rule_files(config, options, source)
    try:
        for name, text in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write rules to {out}: {exc.strerror}") from None
    for warning in unreachable_alerts(config, options):
        print(f"truesli: warning: {warning}", file=sys.stderr)
    n_sloth = sum(1 for n in files if n.startswith("sloth/"))
    n_pyrra = sum(1 for n in files if n.startswith("pyrra/"))
    print(f"wrote {out / 'prometheus-rules.yaml'} ({len(prometheus_rules(config, options)['groups'])} groups), "
          f"{n_sloth} Sloth specs in {out / 'sloth'}/ and {n_pyrra} Pyrra ServiceLevelObjectives in "
          f"{out / 'pyrra'}/", file=sys.stderr)
    return 0


def _time_arg(text: str | None, flag: str) -> int | None:
    from streams.core.timeparse import parse_epoch, parse_rfc3339

    if text is None:
        return None
    try:
        return parse_epoch(float(text)) if text.replace(".", "", 1).isdigit() else parse_rfc3339(text)
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a time: use RFC 3339 (2026-01-01T00:00:00Z) or epoch s/ms") from None


def _replay_once(config, args, now: int, with_sinks: bool):
    """One pass over the requested history (an EmbeddedResult)."""
    from streams.kafka.clients import KafkaUnavailable
    from streams.runs.replay import Progress, replay_history

    try:
        result = replay_history(
            config, topic=args.topic, parquet=args.parquet, from_ms=_time_arg(args.from_, "--from"),
            to_ms=_time_arg(args.to, "--to"), now_ms=now,
            counters_path=args.counters if with_sinks else None,
            dead_letters_path=args.dead_letters if with_sinks else None, progress=Progress())
    except KafkaUnavailable as exc:
        raise UserError(str(exc)) from None
    return result


def _with_bootstrap(config, bootstrap: str | None):
    if not bootstrap:
        return config
    return config.model_copy(update={"kafka": config.kafka.model_copy(update={"bootstrap_servers": bootstrap})})


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.report.summary import render_report, summary_dict

    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    if args.to_topic and args.to_topic == config.kafka.topics.counters and not args.allow_live_topic:
        raise UserError(f"{args.to_topic} is the live counters topic: pass --allow-live-topic to overwrite live "
                        "results with recomputed ones, or choose another --to-topic")
    now = _now_ms()
    result = _replay_once(config, args, now, with_sinks=True)
    tally, book, inputs, samples = result.tally, result.book, result.inputs, result.dead_letter_samples
    if args.summary_json:
        _write_json(args.summary_json, summary_dict(tally, book, config))
    merged = book.merged()
    first, last = (merged[0].window_start_ms, merged[-1].window_end_ms) if merged else (None, None)
    out = sys.stderr if "-" in (args.counters, args.dead_letters, args.summary_json, args.anomalies) else sys.stdout
    out.write(render_report(tally, book, config, inputs, samples, first, last))
    found = None
    if config.detection.enabled:
        found = _detect(config, result, args.changes, args.anomalies, out, now, args.dead_letters)
    if args.compare:
        from streams.runs.compare import compare, render_compare

        old_config = _with_bootstrap(load_config(args.compare), args.bootstrap)
        old_book = _replay_once(old_config, args, now, with_sinks=False).book
        report = compare(old_config, old_book, config, book)
        if args.compare_json:
            _write_json(args.compare_json, report)
        out.write("\n" + render_compare(report, args.compare, args.config or "the built-in default"))
    if args.to_topic:
        from streams.kafka.clients import KafkaUnavailable
        from streams.sinks.kafka_topic import publish_counters

        try:
            n = publish_counters(config.kafka, book.merged(), args.to_topic, now)
        except KafkaUnavailable as exc:
            raise UserError(str(exc)) from None
        print(f"published {n:,} counters to {args.to_topic}", file=out)
    if args.remote_write or config.remote_write.url:
        return _remote_write(book, config, args.remote_write, out, found)
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from streams.runs.archive import archive_topic
    from streams.kafka.clients import KafkaUnavailable

    config = _with_bootstrap(load_config(args.config), args.bootstrap)
    topic = args.topic or config.kafka.topics.requests
    try:
        result = archive_topic(config, topic, args.out, from_ms=_time_arg(args.from_, "--from"),
                               to_ms=_time_arg(args.to, "--to"))
    except KafkaUnavailable as exc:
        raise UserError(str(exc)) from None
    print(f"archived {result.records:,} records ({result.dead_letters:,} undecodable, kept raw) from {topic} "
          f"into {len(result.files)} files under {args.out}; next offsets "
          + ", ".join(f"p{p}={o}" for p, o in sorted(result.next_offsets.items())))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from streams.tools.bench import run_core_bench

    run_core_bench(events=args.events, seed=args.seed, out_json=args.json)
    return 0


# -- parser ------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="truesli", description="Streaming SLIs that count real users only.")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gen", help="write a labelled traffic mix (request_log JSONL) and its ground truth")
    g.add_argument("--events", type=int, help="number of requests of the traffic mix")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--bot-share", type=float, default=0.9, help="share of requests that are not real users")
    g.add_argument("--out", required=True, help="output JSONL ('-' = stdout)")
    g.add_argument("--truth", help="write the real-user ground truth here (JSON)")
    g.add_argument("--scenario", choices=sorted(SCENARIO_NAMES),
                   help="instead of the mix: a detector scenario (burst, quiet night, 30-day slow burn, …)")
    g.add_argument("--changes-out", metavar="FILE", help="with --scenario: write its change events here")
    g.set_defaults(func=cmd_gen)

    p = sub.add_parser("process", help="clean and count request logs from files or stdin (embedded mode)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="log files ('-' = stdin; .gz ok; Parquet archives)")
    p.add_argument("--config", help="truesli.yaml (default: the built-in config)")
    p.add_argument("--format", choices=("auto", "jsonl", "combined", "parquet"), default="auto")
    p.add_argument("--counters", help="write sli_counter JSON lines here")
    p.add_argument("--dead-letters", help="write dead_letter JSON lines here")
    p.add_argument("--verdicts", help="write one JSON line per input record: why it was counted or dropped")
    p.add_argument("--summary-json", help="write run totals as JSON here")
    p.add_argument("--changes", action="append", metavar="FILE",
                   help="change events (change_event JSON lines: deploys, config, freezes); repeatable")
    p.add_argument("--anomalies", metavar="FILE", help="write the detectors' anomalies (JSON lines) here")
    p.add_argument("--remote-write", metavar="URL",
                   help="push the counters to a Prometheus remote-write receiver (event-time stamps: backfills)")
    p.set_defaults(func=cmd_process)

    d = sub.add_parser("demo", help="generate a bot-heavy sample, process it, show how bots distort the SLI")
    d.add_argument("--events", type=int, default=500_000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--config", help="config to use (default: examples/truesli.yaml)")
    d.add_argument("--out-dir", help="where to keep the sample and outputs (default: a temp dir)")
    d.set_defaults(func=cmd_demo)

    rep = sub.add_parser("report", help="write a self-contained HTML review report with charts per journey/SLO")
    rep.add_argument("inputs", nargs="*", metavar="INPUT", help="request logs to process first (as `process`)")
    rep.add_argument("--config", help="truesli.yaml: journeys, services and objectives (default: built-in)")
    rep.add_argument("--counters", metavar="FILE", help="sli_counter JSON lines (`truesli process --counters`)")
    rep.add_argument("--parquet", nargs="+", metavar="DIR", help="Parquet archives or files to replay")
    rep.add_argument("--anomalies", metavar="FILE", help="anomaly JSON lines: markers and the meta-signal verdicts")
    rep.add_argument("--changes", metavar="FILE", help="change_event JSON lines: deploys, freezes… as markers")
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--period-days", type=int, metavar="DAYS",
                     help="SLO period in whole days (1-400) for the budget chart, active SLOs and the detectors' "
                          "verdicts (default: detection.slo_period_days, 30)")
    rep.add_argument("--max-points", type=int, default=600, help="display points per chart (downsampling)")
    rep.set_defaults(func=cmd_report)

    r = sub.add_parser("run", help="the live worker: consume requests.raw, publish sli.counters (Kafka)")
    r.add_argument("--config", help="truesli.yaml (kafka: section for brokers and topics)")
    r.add_argument("--bootstrap", help="override kafka.bootstrap_servers")
    r.add_argument("--worker-id", help="stable id of this worker (transactional id suffix; default: hostname)")
    r.add_argument("--web-port", type=int, help="override worker.web_port (/metrics, /health)")
    r.add_argument("--loglevel", default="info", choices=("debug", "info", "warning", "error"))
    r.set_defaults(func=cmd_run)

    u = sub.add_parser("rules", help="write Sloth-compatible Prometheus rules, Sloth specs and Pyrra SLOs")
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

    rp = sub.add_parser("replay", help="recompute SLIs from history: a Kafka topic by time range, or Parquet")
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
    rp.add_argument("--remote-write", metavar="URL", help="backfill the receiver with original timestamps")
    rp.add_argument("--to-topic", metavar="TOPIC", help="publish the recomputed counters to this Kafka topic")
    rp.add_argument("--allow-live-topic", action="store_true",
                    help="allow --to-topic to be the live kafka.topics.counters topic")
    rp.add_argument("--compare", metavar="OLD_CONFIG",
                    help="also replay under this (old) definition and report what changed, alerts included")
    rp.add_argument("--compare-json", metavar="FILE", help="write the comparison as JSON here")
    rp.set_defaults(func=cmd_replay)

    a = sub.add_parser("archive", help="append a Kafka topic's new records to Parquet (resumable)")
    a.add_argument("--config", help="truesli.yaml (kafka: section)")
    a.add_argument("--topic", help="topic to archive (default: kafka.topics.requests)")
    a.add_argument("--out", required=True, help="archive directory (date=…/hour=… partitions)")
    a.add_argument("--from", dest="from_", metavar="T", help="first run only: start (RFC 3339 or epoch)")
    a.add_argument("--to", metavar="T", help="stop before this time (exclusive)")
    a.add_argument("--bootstrap", help="override kafka.bootstrap_servers")
    a.set_defaults(func=cmd_archive)

    b = sub.add_parser("bench", help="measure core throughput against a bare orjson.loads loop")
    b.add_argument("--events", type=int, default=1_000_000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--json", help="also write the results as JSON here")
    b.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, InputError, OutputError, UserError) as exc:
        print(f"truesli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("truesli: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
