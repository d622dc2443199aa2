"""Most of an input failing one way is a mistake with a fix, said in one line, exit 3 — not 5,000 quiet
dead letters and exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.model import DeadLetter
from streams.core.pipeline import Tally
from streams.runs.input_check import input_mistake

ROOT = Path(__file__).resolve().parents[3]
JSON = '{"ts":"2026-08-01T00:00:00Z","client_ip":"10.0.0.1","method":"GET","path":"/","status":200}'
CLF = '10.0.0.1 - - [01/Aug/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'


def _dl(reason: str, raw: str) -> DeadLetter:
    return DeadLetter(reason, "e", raw, "f", None, 1)


@pytest.mark.parametrize("dead,consumed,raw,fmt,hint", [
    ({"unparseable_line": 10}, 10, JSON, "combined",
     "10 of 10 records (100%) were dead-lettered as unparseable_line — the lines are JSON: use --format jsonl (or auto)"),
    ({"malformed_json": 6}, 10, CLF, "jsonl",
     "6 of 10 records (60%) were dead-lettered as malformed_json — the lines are not JSON objects: use --format "
     "combined (or auto)"),
    ({"missing_field:client_ip": 9, "malformed_json": 1}, 10, '{"ts":1}', "auto",
     "9 of 10 records (90%) were dead-lettered as missing_field:client_ip — the records do not carry client_ip "
     "where the config looks: set input.preset (truesli, nginx, envoy, alb) or input.fields.client_ip to the key "
     "your logs use"),
    ({"invalid_utf8": 3}, 4, "\ufffd", "auto",
     "3 of 4 records (75%) were dead-lettered as invalid_utf8 — the input is not text: binary, or compressed "
     "with something other than gzip?"),
    ({"unparseable_line": 5}, 10, JSON, "combined", None),    # half is not most
    ({"too_late": 10}, 10, JSON, "auto", None),               # data, not a format mistake
    ({"oversized": 10}, 10, JSON, "auto", None),
    ({}, 0, JSON, "auto", None),
])
def test_the_hint_names_the_fix_for_the_dominant_reason(dead, consumed, raw, fmt, hint):
    tally = Tally(consumed=consumed, counted=consumed - sum(dead.values()), dead_lettered=dead)
    samples = [_dl(r, raw) for r in dead]
    assert input_mistake(tally, samples, fmt) == hint


def test_process_with_the_wrong_format_says_so_and_exits_3(tmp_path):
    logs = tmp_path / "access.jsonl"
    logs.write_text("\n".join([JSON] * 20) + "\n")
    r = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--format", "combined", str(logs)],
                       cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == 3
    assert r.stderr.decode().splitlines() == [
        "truesli: hint: 20 of 20 records (100%) were dead-lettered as unparseable_line — the lines are JSON: use "
        "--format jsonl (or auto)"]
    assert b"Dead letters: 20 (unparseable_line 20)" in r.stdout  # the report is still written
    ok = subprocess.run([sys.executable, "-m", "streams.cli", "process", str(logs)], cwd=ROOT, capture_output=True,
                        timeout=120)
    assert ok.returncode == 0 and ok.stderr == b""
