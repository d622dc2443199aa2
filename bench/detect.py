"""Detector throughput over a long history: `scripts/bench detect [--days D]`.

Builds merged counters for the journeys of examples/truesli.yaml (8 journey/SLOs) over D days of 1-minute
windows — steady traffic, 0.1% errors, a 30-minute 5% burst every 3 days — and times one finite-run
detection pass (streams.runs.detection.detect: every window of every SLO evaluated once, all detectors on).
Prints window-evaluations per second and the anomalies found; then, in the same run, the live worker's
review (streams.live.review.LiveReview: postmortems and user-pain verdicts) over the same retained history
with its burn anomalies and one support ticket every 30 minutes on checkout — the cost of one evaluation
on Stage B's event loop.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.config import load_config  # noqa: E402
from streams.runs.detection import detect  # noqa: E402
from streams.core.model import WindowCounter  # noqa: E402
from streams.core.detect.user_reports import UserReport  # noqa: E402
from streams.live.review import LiveReview  # noqa: E402

T0 = 1767225600000
MIN = 60_000


def history(config, days: int) -> list[WindowCounter]:
    out = []
    for m in range(days * 1440):
        burst = m % (3 * 1440) < 30
        for j in config.journeys:
            for s in j.slos:
                total = 100
                bad = 5 if burst else (1 if m % 10 == 0 else 0)
                out.append(WindowCounter(j.name, s.name, T0 + m * MIN, T0 + (m + 1) * MIN, good=total - bad,
                                         total=total, raw_good=total - bad, raw_total=total + 20,
                                         filtered={"bot_ua": 20}, networks={"198.51.100.0/24": 20}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--json")
    args = ap.parse_args()
    config = load_config(ROOT / "examples" / "truesli.yaml")
    counters = history(config, args.days)
    t = time.perf_counter()
    found = detect(config, counters, [])
    took = time.perf_counter() - t
    review = LiveReview(config)
    for c in counters:
        review.observe(c)
    review.observe_anomalies(found.anomalies)
    for m in range(0, args.days * 1440, 30):
        review.observe_report(UserReport(T0 + m * MIN, "checkout", "support_ticket"))
    evaluated = {(j.name, s.name): T0 + args.days * 1440 * MIN for j in config.journeys for s in j.slos}
    t = time.perf_counter()
    sent = review.evaluate(evaluated, idle=True)
    review_s = time.perf_counter() - t
    doc = {"days": args.days, "window_evaluations": len(counters), "seconds": round(took, 2),
           "evaluations_per_s": round(len(counters) / took), "anomalies": len(found.anomalies),
           "live_review_seconds": round(review_s, 3), "live_review_sent": len(sent),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
