"""The real Sloth CLI (v0.16.0) for tests: ``sloth validate`` and ``sloth generate`` on truesli's specs.

Installed with ``go install github.com/slok/sloth/cmd/sloth@v0.16.0`` into ``REPO/.cache/go-bin`` (git-ignored)
by ``scripts/test``; a test session installs it there too when it is missing (the Go module proxy is
reachable; with Go's build cache warm it takes seconds, cold about 3 minutes). Without Go the tests fail —
they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOTH_MODULE = "github.com/slok/sloth/cmd/sloth"
SLOTH_VERSION = "v0.16.0"
GOBIN = ROOT / ".cache" / "go-bin"


def sloth_binary() -> str:
    """Path to sloth v0.16.0 (``$TRUESLI_SLOTH`` if set, else REPO/.cache/go-bin/sloth, installed if absent)."""
    explicit = os.environ.get("TRUESLI_SLOTH")
    if explicit:
        return explicit
    path = GOBIN / "sloth"
    if path.exists():
        return str(path)
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("sloth is not installed and there is no Go toolchain to install it: run scripts/test, or "
                    f"GOBIN={GOBIN} go install {SLOTH_MODULE}@{SLOTH_VERSION}", pytrace=False)
    r = subprocess.run([go, "install", f"{SLOTH_MODULE}@{SLOTH_VERSION}"], capture_output=True, text=True,
                       timeout=1200, env={**os.environ, "GOBIN": str(GOBIN), "GOFLAGS": "-mod=mod"})
    if r.returncode != 0 or not path.exists():
        pytest.fail(f"go install {SLOTH_MODULE}@{SLOTH_VERSION} failed:\n{r.stderr[-2000:]}", pytrace=False)
    return str(path)


def run_sloth(*args: str) -> subprocess.CompletedProcess:
    """``sloth ARGS`` with plain (uncoloured) logs on stderr."""
    return subprocess.run([sloth_binary(), *args, "--no-color"], capture_output=True, text=True, timeout=300)
