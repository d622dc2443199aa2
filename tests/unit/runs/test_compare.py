"""The GitHub 2023 case: an SLI that counts background jobs as user events, corrected and recomputed."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA
from streams.core.timeparse import parse_rfc3339
from streams.tools.gen import generate

ROOT = Path(__file__).resolve().parents[3]

# The team allow-listed its own cron client's user agent (the bot filter would call it automation): then
# only the exclusion below can tell the cron's jobs from users, as in the incident.
JOURNEYS = """
journeys:
  - name: all
    slos: [{name: availability, kind: availability, objective: 0.999}]
filters:
  bot_ua: {allow: ["^acme-cron/"]}
"""
# The mistaken definition: no exclusion for /internal/ — the cron's background jobs count as users.
OLD = JOURNEYS + """
exclusions:
  - {reason: health, match: {paths: [/healthz, /readyz]}}
"""
# The corrected one: background jobs are excluded.
NEW = OLD + """  - {reason: internal, match: {path_prefixes: [/internal/]}}
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("github")
    buf = io.BytesIO()
    truth = generate(buf, events=120_000, seed=61, bot_share=0.9)
    rows = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    for row in rows:
        row["ts"] = parse_rfc3339(row["ts"])
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA), d / "history.parquet")
    (d / "old.yaml").write_text(OLD)
    (d / "new.yaml").write_text(NEW)
    return d, truth


def test_compare_shows_changed_error_rates_and_the_false_alerts(history):
    d, truth = history
    r = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--config", str(d / "new.yaml"),
                        "--parquet", str(d / "history.parquet"), "--compare", str(d / "old.yaml"),
                        "--compare-json", str(d / "compare.json")], cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    report = orjson.loads((d / "compare.json").read_bytes())
    [row] = report["slos"]
    old, new = row["old"], row["new"]
    jobs = truth["labels"]["background_job"]
    # Only the background jobs differ between the two definitions: counted as users vs excluded.
    assert old["total"] - new["total"] == jobs
    t = truth["journeys"]["all"]["slos"]["availability"]
    assert abs(new["error_rate"] - (t["total"] - t["good"]) / t["total"]) < 1e-4  # the corrected SLI is the truth
    assert old["error_rate"] > 2 * new["error_rate"]  # jobs fail 10% of the time: the old SLI lied
    # Alerts the old definition raised that real users never warranted, and none the other way round.
    assert row["page_only_old"] and not row["page_only_new"]
    assert "page alerts fired only under old" in r.stdout.decode()
