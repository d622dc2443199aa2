"""Whole-batch JSON decode at C speed: msgspec Structs per preset, the per-record decoder for the rest.

``fast_struct_decoder(keys)`` builds, for one field map (truesli name → the log's key), a msgspec decoder
that reads only the eleven fields a Request needs, typed so that a record not of the common shape
fails msgspec's validation instead (``Decoder._from_clean`` finishes the rest; it too hands anything
unusual to the per-record path). ``batch_is_clean(items)`` says whether a
batch may take that path. The contract (tests/unit/core/test_batch_decode.py checks it differentially): for
every item of a batch, ``Decoder.batch_decoder(batch)(item)`` returns exactly what ``Decoder.decode``
returns.

Where msgspec and orjson disagree, the line goes the per-record way:
- msgspec skips unknown fields without checking that their numbers fit a double (orjson rejects
  ``1e400``), and reads integers beyond 64 bits as ints (orjson: floats); and
- it does not validate the UTF-8 of skipped strings. So only ASCII lines with no number token of 20
  or more integer digits or with a 3-digit positive exponent are clean: one linear-time RE2 scan over
  the joined batch decides (linear); a batch that fails it, or a number that could not overflow but
  matches, merely takes the per-record path.
Any DecodeError/ValidationError on a clean line also sends it the per-record way, which names the
reason. Measured against orjson and pyarrow.json in bench/decode.py (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import msgspec
import re2

FAST_FIELDS = ("ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent",
               "rate_limited", "synthetic", "forwarded_for")

_REQUIRED = object()
# The common shape only: RFC 3339 with milliseconds and Z, a short method, a status 0..999, a duration
# ≥ 0. msgspec checks these in C; a record of any other shape (epoch timestamps, string statuses, -1
# durations, odd flags) fails validation and takes the per-record path, which accepts or names it.
_TYPES: dict[str, tuple[Any, Any]] = {
    "ts": (Annotated[str, msgspec.Meta(min_length=24, max_length=24)], _REQUIRED),
    "client_ip": (str, _REQUIRED),
    "method": (Annotated[str, msgspec.Meta(min_length=1, max_length=16)], _REQUIRED),
    "host": (str | None, None),
    "path": (Annotated[str, msgspec.Meta(min_length=1)], _REQUIRED),
    "status": (Annotated[int, msgspec.Meta(ge=0, le=999)], _REQUIRED),
    "duration_ms": (Annotated[float, msgspec.Meta(ge=0)] | None, None),
    "user_agent": (str | None, None),
    "rate_limited": (bool | None, None),
    "synthetic": (bool | None, None),
    "forwarded_for": (str | None, None),
}

SUSPECT_NUMBER = rb"[:,\[]\s*-?(?:\d{20}|\d+(?:\.\d+)?[eE]\+?\d{3})"
"""A number token that might overflow a double or exceed 64 bits (RE2 syntax): msgspec's screen. Arrow's
screen has a narrower rule of its own (core/batch_columns.py ``_OVERFLOW``)."""
_SUSPECT = re2.compile(SUSPECT_NUMBER)
FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


def fast_struct_decoder(keys: dict[str, str]) -> Callable[[bytes], Any] | None:
    """A ``bytes → Struct`` decoder for this field map, or None when the map cannot be one Struct (two
    fields read the same key, or a dotted key reaches into a nested object)."""
    # A field the map leaves out (nginx has no rate_limited) is not in the Struct; readers use getattr.
    wanted = {name: keys[name] for name in FAST_FIELDS if name in keys}
    if len(set(wanted.values())) != len(wanted) or any("." in k for k in wanted.values()):
        return None
    if any(_TYPES[n][1] is _REQUIRED and n not in wanted for n in FAST_FIELDS):
        return None
    fields = [(n, _TYPES[n][0]) if _TYPES[n][1] is _REQUIRED else (n, _TYPES[n][0], _TYPES[n][1])
              for n in FAST_FIELDS if n in wanted]
    fields.sort(key=lambda f: len(f) == 3)  # required fields first, as a Struct demands
    try:
        struct = msgspec.defstruct("FastRecord", fields, rename=wanted, gc=False)
    except ValueError:  # a configured key msgspec cannot name (a quote, a backslash, a control character)
        return None
    return msgspec.json.Decoder(struct).decode


def batch_is_clean(items: Sequence[Any]) -> bool:
    """True when every item is bytes and the batch holds no non-ASCII byte and no suspect number: then
    each of its JSON-object lines may take the msgspec path (anything else in it still goes per record).
    One C-speed pass over the joined batch; a batch that fails is decoded per record, so a hostile line
    costs its own batch the slower path and nothing more."""
    try:
        joined = b"\n".join(items)
    except TypeError:
        return False
    return joined.isascii() and _SUSPECT.search(joined) is None
