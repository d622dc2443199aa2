"""After a finite run: did most of the input fail one way that a flag or a setting fixes?

A file read with the wrong ``--format`` (JSON lines as ``combined``), a JSON log whose keys are not the
preset's, or a binary file, is not bad data: it is one mistake repeated on every line. Dead-lettering each
line and exiting 0 hides that. :func:`input_mistake` looks only at the run's dead-letter reasons (and the
first few dead letters' raw text), so it holds for every format the decoder knows.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.model import DeadLetter
from streams.core.pipeline import Tally

EXIT_INPUT_MISTAKE = 3
"""``process``/``replay`` exit status when the run finished but :func:`input_mistake` found a mistake."""

_FIELD_REASONS = ("missing_field:", "bad_type:")


def _fix(reason: str, samples: list[str], fmt: str) -> str | None:
    json_like = bool(samples) and all(s.lstrip().startswith("{") for s in samples)
    if reason == "unparseable_line":
        if json_like:
            return "the lines are JSON: use --format jsonl (or auto)"
        return "the lines are neither JSON nor Common/Combined Log Format: check what the input holds"
    if reason in ("malformed_json", "not_an_object"):
        if fmt == "jsonl" and not json_like:
            return "the lines are not JSON objects: use --format combined (or auto)"
        return "the JSON is broken on most lines (truncated or concatenated records?)"
    if reason == "invalid_utf8":
        return "the input is not text: binary, or compressed with something other than gzip?"
    if reason.startswith(_FIELD_REASONS) or reason == "bad_timestamp":
        name = "ts" if reason == "bad_timestamp" else reason.split(":", 1)[1]
        return (f"the records do not carry {name} where the config looks: set input.preset (truesli, nginx, "
                f"envoy, alb) or input.fields.{name} to the key your logs use")
    return None


def input_mistake(tally: Tally, samples: Sequence[DeadLetter], fmt: str) -> str | None:
    """One line naming the fix when more than half of the records consumed were dead-lettered for one
    reason that points at the input's format or field mapping; None otherwise (late, oversized or future
    records, and a minority of bad lines, are data, not a mistake)."""
    if not tally.consumed or not tally.dead_lettered:
        return None
    reason, n = max(tally.dead_lettered.items(), key=lambda kv: (kv[1], kv[0]))
    if 2 * n <= tally.consumed:
        return None
    fix = _fix(reason, [d.raw for d in samples if d.reason == reason], fmt)
    if fix is None:
        return None
    return (f"{n:,} of {tally.consumed:,} records ({100 * n / tally.consumed:.0f}%) were dead-lettered as "
            f"{reason} — {fix}")
