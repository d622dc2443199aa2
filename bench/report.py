"""scripts/bench report — size and render time of the HTML review report on a long history.

Generates a D-day history (default 90) of 1-minute windows for three journeys with two SLOs each
(streams/tools/history.py), runs the real CLI (`truesli report --counters … --changes …`) on it, and loads
the page R times (default 3) in a fresh headless Chromium each time (tests/support/chromium_cdp.py), recording
the page's own Navigation Timing (navigation start → load event end) and the first frame after load.
Bars (issue #8): < 5 MB and < 5 s to render.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.chromium_cdp import load_page  # noqa: E402
from streams.tools.history import write_history  # noqa: E402

MB = 1_000_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="page loads (fresh browser each)")
    ap.add_argument("--screenshot", help="also save a screenshot of the top of the page here (PNG)")
    ap.add_argument("--json", help="write the results as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="truesli-bench-report-") as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        h = write_history(d, args.days, args.seed)
        gen_s = time.perf_counter() - t
        counters_bytes = h.counters.stat().st_size
        out = d / "report.html"
        cmd = [sys.executable, "-m", "streams.cli", "report", "--config", str(h.config), "--counters",
               str(h.counters), "--changes", str(h.changes), "--out", str(out)]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        build_s = time.perf_counter() - t
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size = out.stat().st_size
        loads = []
        for i in range(args.runs):
            page = load_page(out.as_uri(), evaluate="document.querySelectorAll('svg.chart path.series').length",
                             screenshot=args.screenshot if i == 0 and args.screenshot else None,
                             shot_height=1750)
            if page.requests != [out.as_uri()]:
                raise SystemExit(f"the report requested something else: {page.requests}")
            loads.append({"load_ms": round(page.load_ms, 1), "painted_ms": round(page.painted_ms, 1),
                          "wall_ms": round(page.wall_ms, 1), "series": page.value})
    result = {"days": args.days, "journeys": 3, "slos": 6, "windows": h.windows,
              "counters_file_bytes": counters_bytes, "report_bytes": size, "generate_s": round(gen_s, 2),
              "truesli_report_s": round(build_s, 2), "truesli_report_peak_rss_mb": round(peak_kb / 1024),
              "loads": loads, "best_painted_ms": min(x["painted_ms"] for x in loads),
              "worst_painted_ms": max(x["painted_ms"] for x in loads)}
    print(f"history: {args.days} days × 3 journeys × 2 SLOs = {h.windows:,} one-minute counters "
          f"({counters_bytes / MB:,.1f} MB of sli_counter JSON lines), generated in {gen_s:.1f} s")
    print(f"truesli report: {build_s:.1f} s, peak RSS {peak_kb / 1024:,.0f} MB → report.html "
          f"{size:,} bytes ({size / MB:.2f} MB; bar < 5 MB)")
    for i, x in enumerate(loads, 1):
        print(f"chromium load {i}: load event {x['load_ms']:.0f} ms, first frame after load {x['painted_ms']:.0f} ms "
              f"(wall {x['wall_ms']:.0f} ms incl. CDP round trips), {x['series']} series drawn")
    print(f"render (navigation start → first frame after load): best {result['best_painted_ms']:.0f} ms, "
          f"worst {result['worst_painted_ms']:.0f} ms (bar < 5,000 ms)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0 if size < 5 * MB and result["worst_painted_ms"] < 5000 else 1


if __name__ == "__main__":
    sys.exit(main())
