"""Shared fixtures for unit tests of the pure core (no broker)."""

from __future__ import annotations

import io

import pytest

from streams.tools.gen import generate

FIXED_NOW_MS = 1_800_000_000_000  # 2027-01-15: after every generated timestamp, so nothing is "future"


@pytest.fixture(scope="session")
def mix_600k() -> tuple[list[bytes], dict]:
    """A 600,000-request generated mix with bots at 90% of traffic, and its ground truth."""
    buf = io.BytesIO()
    truth = generate(buf, events=600_000, seed=11, bot_share=0.9)
    return buf.getvalue().splitlines(), truth


@pytest.fixture(scope="session")
def example_config():
    """examples/truesli.yaml: the journeys the scenarios of streams/tools/scenarios.py are written for."""
    from pathlib import Path

    from streams.config import load_config

    return load_config(Path(__file__).resolve().parents[2] / "examples" / "truesli.yaml")
