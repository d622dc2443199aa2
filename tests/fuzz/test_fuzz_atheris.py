"""Coverage-guided fuzzing of the decoder and the whole pipeline with atheris (libFuzzer), as a
deterministic test: fixed seed, fixed number of runs, fixed hash seed. The harness is
tests/fuzz/fuzz_core.py; libFuzzer exits non-zero on the first input that makes it raise or break an
invariant, and saves that input next to the corpus. It found the lone-surrogate crash pinned by
tests/unit/runs/test_hostile_input.py::test_lone_surrogates_in_text_records_and_rows_are_invalid_utf8_not_a_crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson


ROOT = Path(__file__).resolve().parents[2]
RUNS = 150_000
SEEDS = [
    orjson.dumps({"ts": "2026-01-01T00:00:00Z", "client_ip": "10.0.0.1", "method": "GET", "host": "a.example:80",
                  "path": "/a?b", "status": 200, "duration_ms": 12.5, "user_agent": "aaa",
                  "forwarded_for": "1.2.3.4, 10.0.0.2", "rate_limited": False, "synthetic": "no"}),
    b'1.2.3.4 - - [01/Jan/2026:00:00:30 +0000] "GET /x?y HTTP/1.1" 404 12 "-" "sqlmap/1.7" 0.125',
    orjson.dumps({"time_iso8601": "2026-01-01T00:00:10+00:00", "remote_addr": "2001:db8::1",
                  "request_method": "POST", "request_uri": "/login", "status": "401", "request_time": "0.2",
                  "http_user_agent": "Mozilla/5.0"}),
]


def test_atheris_finds_no_input_that_breaks_decode_or_the_pipeline(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        for decoder in (0, 3, 12):       # truesli/auto, nginx/auto, the small-caps decoder
            for text in (0, 1):
                (corpus / f"seed{i}-{decoder}-{text}").write_bytes(bytes([decoder, text]) + seed)
    r = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz" / "fuzz_core.py"), f"-runs={RUNS}", "-seed=1",
         "-max_len=2048", f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)},
        capture_output=True, timeout=600)
    log = r.stderr.decode(errors="replace")
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    assert r.returncode == 0 and not crashes, f"{crashes}\n{log[-4000:]}"
    assert f"Done {RUNS} runs" in log, log[-2000:]
    # It explored: libFuzzer kept inputs that reached new code, beyond the 18 seeds.
    assert len(list(corpus.iterdir())) > 2 * len(SEEDS) * 3, log[-2000:]
