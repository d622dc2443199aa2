"""Remote-write 1.0 wire format: a hand-encoded protobuf ``WriteRequest`` and snappy block compression.

Pure functions of their arguments (no I/O). The output is byte-identical to the official protobuf
package's serialization (tests/unit/sinks/test_remote_write_encoding.py checks it). Anything the spec
forbids — labels unsorted, duplicated, empty or malformed, ``__name__`` missing, timestamps not strictly
increasing within a series or outside int64 — raises ValueError.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

import cramjam

Labels = Sequence[tuple[str, str]]
Samples = Sequence[tuple[int, float]]

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_U64 = (1 << 64) - 1

pack_double = struct.Struct("<d").pack


def _varint(n: int) -> bytes:
    """Unsigned base-128 varint of ``n`` (0 <= n < 2**64)."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def validate_labels(labels: Labels) -> None:
    """Raise ValueError unless ``labels`` are remote-write valid: ``__name__`` present, names sorted and
    unique, names and values non-empty, metric and label names well-formed."""
    prev = None
    has_name = False
    for item in labels:
        if len(item) != 2:
            raise ValueError(f"label {item!r} is not a (name, value) pair")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"label {name!r}={value!r}: name and value must be str")
        if not name:
            raise ValueError("empty label name")
        if not value:
            raise ValueError(f"label {name!r} has an empty value")
        if not LABEL_NAME_RE.fullmatch(name):
            raise ValueError(f"invalid label name {name!r}")
        if prev is not None:
            if name == prev:
                raise ValueError(f"duplicate label name {name!r}")
            if name < prev:
                raise ValueError(f"labels not sorted by name: {prev!r} before {name!r}")
        if name == "__name__":
            has_name = True
            if not METRIC_NAME_RE.fullmatch(value):
                raise ValueError(f"invalid metric name {value!r}")
        prev = name
    if not has_name:
        raise ValueError("labels have no __name__")


def encode_labels(labels: Labels) -> bytes:
    """The ``labels`` fields (TimeSeries field 1, repeated) of one series, after validation."""
    validate_labels(labels)
    parts = []
    for name, value in labels:
        nb = name.encode()
        vb = value.encode()  # UnicodeEncodeError (a ValueError) for lone surrogates
        body = b"\x0a" + _varint(len(nb)) + nb + b"\x12" + _varint(len(vb)) + vb
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(parts)


def encode_samples(samples: Samples) -> bytes:
    """The ``samples`` fields (TimeSeries field 2, repeated); timestamps must strictly increase.

    proto3 leaves out fields equal to their default (value bits 0, timestamp 0), as the protobuf
    package does — the output is byte-identical to its serialization.
    """
    parts = []
    prev = None
    for item in samples:
        ts, value = item
        if type(ts) is not int:
            if isinstance(ts, bool) or not isinstance(ts, int):
                raise ValueError(f"timestamp {ts!r} is not an int (milliseconds)")
            ts = int(ts)
        if ts < INT64_MIN or ts > INT64_MAX:
            raise ValueError(f"timestamp {ts} out of int64 range")
        if prev is not None and ts <= prev:
            raise ValueError(f"samples not in strictly increasing timestamp order: {prev} then {ts}")
        prev = ts
        vbytes = pack_double(float(value))
        body = b"" if vbytes == b"\x00" * 8 else b"\x09" + vbytes
        if ts:
            body += b"\x10" + _varint(ts & _U64)
        parts.append(b"\x12" + _varint(len(body)) + body)
    return b"".join(parts)


def encode_series(label_bytes: bytes, samples: Samples) -> bytes:
    """One ``TimeSeries`` (WriteRequest field 1) from labels already encoded by :func:`encode_labels`."""
    body = label_bytes + encode_samples(samples)
    return b"\x0a" + _varint(len(body)) + body


def encode_write_request(series: Sequence[tuple[Labels, Samples]]) -> bytes:
    """A protobuf-encoded remote-write 1.0 ``WriteRequest`` of ``(labels, samples)`` pairs.

    ``labels``: (name, value) pairs already sorted by name; ``samples``: (timestamp_ms, value) pairs in
    strictly increasing timestamp order. Raises ValueError for anything the spec forbids.
    """
    return b"".join(encode_series(encode_labels(labels), samples) for labels, samples in series)


def compress(body: bytes) -> bytes:
    """Snappy *block* format, as remote-write requires (the framed format is rejected as corrupt)."""
    return bytes(cramjam.snappy.compress_raw(body))
