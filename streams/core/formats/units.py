"""Durations and epoch timestamps with explicit units, shared by every format parser.

Contract: every function returns milliseconds (a float for durations, an int of epoch ms for times) or
raises ``ValueError`` naming what was wrong. Nothing guesses a unit from a bare number except
:func:`epoch_ms_any`, whose magnitudes cannot overlap inside [2000, 2100).
"""

from __future__ import annotations

import math
import re

from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS

UNIT_MS: dict[str, float] = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0,
                             "m": 60_000.0, "h": 3_600_000.0}
"""Factor from each unit to milliseconds (``µs``: micro sign U+00B5, ``μs``: Greek mu U+03BC, as Go prints)."""

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TEXT = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")


def duration_text_ms(text: str) -> float:
    """``"0.123s"`` (Google's JSON Duration), ``"2ms"``, ``"250µs"``, ``"1m2.5s"`` (Go) → ms."""
    text = text.strip()
    if len(text) > 40 or not _TEXT.fullmatch(text):
        raise ValueError(f"duration {text[:40]!r} is not a number with a unit (ns, us, µs, ms, s, m, h)")
    return sum(float(n) * UNIT_MS[u] for n, u in _PART.findall(text))


def duration_ms(value: object, factor: float) -> float | None:
    """A duration field in a known unit (``factor`` = ms per unit) → ms; ``-``, ``""``, None and the
    ``-1`` "no upstream answered" sentinel → None. Text with its own unit suffix keeps its own unit."""
    if value is None or value == "" or value == "-":
        return None
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return duration_text_ms(value)
    elif type(value) is int or type(value) is float:
        number = float(value)
    else:
        raise ValueError(f"duration of type {type(value).__name__}")
    if number == -1:
        return None
    if not 0 <= number < math.inf:
        raise ValueError("duration must be a finite number ≥ 0")
    return number * factor


def epoch_ms_any(value: float) -> int:
    """Epoch seconds, ms, µs or ns, told apart by magnitude (inside [2000, 2100) they cannot overlap)."""
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    a = abs(value)
    if a < 1e11:
        ms = round(value * 1000)
    elif a < 1e14:
        ms = int(value)
    elif a < 1e17:
        ms = int(value // 1000)
    elif a < 1e20:
        ms = int(value // 1_000_000)
    else:
        raise ValueError("epoch value too large")
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise ValueError("timestamp outside 2000-01-01 .. 2100-01-01")
    return ms
