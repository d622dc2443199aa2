"""``truesli demo``: generate a bot-heavy labelled mix, process it, and show the cleaned SLI next to the
generator's ground truth — then detection and the HTML report, as a user would run them."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from streams.config import load_config
from streams.core.merge import CounterBook

BOT_SHARE = 0.9
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "truesli.yaml"
TOLERANCE_PP = 0.01
"""Truth vs truesli gaps above this (percentage points) get the note on behavioural filters."""


def run_demo(*, events: int, seed: int, config_path: str | None, out_dir: str | None, now_ms: int) -> int:
    """Write the sample and every output under ``out_dir`` (default: a new temp dir) and print the story
    to stdout; ``config_path`` None means examples/truesli.yaml (the built-in config without it)."""
    from streams.report.summary import render_report, summary_dict
    from streams.runs.detection import detect_run
    from streams.runs.embedded import run_embedded
    from streams.runs.html_report import write_html_report
    from streams.sinks.files import write_json
    from streams.tools.gen import write_mix

    out = Path(out_dir or tempfile.mkdtemp(prefix="truesli-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    sample = out / "sample.jsonl"
    truth = write_mix(str(sample), events=events, seed=seed, bot_share=BOT_SHARE, truth_path=str(out / "truth.json"))
    config = load_config(config_path or (EXAMPLE_CONFIG if EXAMPLE_CONFIG.exists() else None))
    result = run_embedded(config, [str(sample)], now_ms=now_ms, counters_path=str(out / "counters.jsonl"),
                          dead_letters_path=str(out / "dead-letters.jsonl"),
                          verdicts_path=str(out / "verdicts.jsonl"))
    write_json(str(out / "summary.json"), summary_dict(result.tally, result.book, config, result.capped))
    print(f"truesli demo: generated {events:,} requests (90% of them not real users) → {sample}\n")
    print(render_report(result.tally, result.book, config, result.inputs, result.dead_letter_samples,
                        *result.span(), result.capped))
    print(truth_comparison(truth, result.book), end="")
    detect_run(config, result, None, str(out / "anomalies.jsonl"), sys.stdout, now_ms)
    report = write_html_report(config, result.book.merged(), str(out / "report.html"), f"logs {sample}",
                               anomalies_path=str(out / "anomalies.jsonl"))
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"\nFiles: {out}/ (counters.jsonl, verdicts.jsonl — why each request was dropped —, "
          f"dead-letters.jsonl, anomalies.jsonl, summary.json) — {size / 1e6:,.0f} MB; remove with: rm -r {out}")
    print(f"HTML report (charts; open it in a browser): {report}")
    return 0


def truth_comparison(truth: dict, book: CounterBook) -> str:
    """Per journey/SLO of the generator's truth: its real-user error rate, truesli's cleaned one and the
    gap in percentage points (journeys the config does not count, or without real traffic, are left out)."""
    lines = ["Ground truth from the generator (real users only):"]
    totals = book.totals()
    worst = 0.0
    for journey, doc in truth["journeys"].items():
        for slo, t in doc["slos"].items():
            got = totals.get((journey, slo))
            if got is None or not t["total"]:
                continue
            real = 100.0 * (t["total"] - t["good"]) / t["total"]
            cleaned = 100.0 * (got.total - got.good) / got.total if got.total else 0.0
            worst = max(worst, abs(real - cleaned))
            lines.append(f"  {journey}/{slo}: truth {real:.3f}% · truesli {cleaned:.3f}% · "
                         f"off by {abs(real - cleaned):.4f} percentage points")
    if worst > TOLERANCE_PP:
        lines.append("  (Behavioural filters need evidence before they fire: a credential-stuffing IP's first ~10 "
                     "failed logins count as real users. The difference shrinks as real traffic grows.)")
    return "\n".join(lines) + "\n"
