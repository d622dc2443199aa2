"""The inputs libFuzzer once crashed on, replayed through the same harness (tests/fuzz/fuzz_core.py) on every
run. Each file under tests/fuzz/regressions/ is named for what it exercises; add a new crash input there
(renamed) when fuzzing finds one. libFuzzer given files instead of a corpus directory runs each input once
and exits non-zero on the first that raises or breaks an invariant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = sorted((ROOT / "tests" / "fuzz" / "regressions").iterdir())


def test_every_saved_crash_input_now_passes_the_harness():
    assert [p.name for p in REGRESSIONS] == ["lone-surrogates-combined-line-as-text-truesli-decoder",
                                             "lone-surrogates-user-agent-as-text-nginx-decoder"]
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz" / "fuzz_core.py"), *map(str, REGRESSIONS)],
                       cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)},
                       capture_output=True, timeout=300)
    log = r.stderr.decode(errors="replace")
    assert r.returncode == 0, log[-4000:]
    assert [line.split()[1] for line in log.splitlines() if line.startswith("Executed ")] == list(map(str, REGRESSIONS))
