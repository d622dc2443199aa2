"""The hand-written remote-write encoder against the official protobuf package, byte for byte.

The message classes are built at test time from a FileDescriptorProto assembled in code (the subset of
prometheus/prompb/types.proto + remote.proto that remote-write 1.0 uses), in a private descriptor pool.
"""

from __future__ import annotations

import math
import struct

import cramjam
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from streams.sinks.remote_write import compress, encode_write_request

_F = descriptor_pb2.FieldDescriptorProto


def write_request_class():
    """The ``prometheus.WriteRequest`` message class (proto3), built without protoc."""
    fdp = descriptor_pb2.FileDescriptorProto(name="truesli_test_remote.proto", package="prometheus",
                                             syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str | None]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    message("Label", [("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
                      ("value", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None)])
    message("Sample", [("value", 1, _F.TYPE_DOUBLE, _F.LABEL_OPTIONAL, None),
                       ("timestamp", 2, _F.TYPE_INT64, _F.LABEL_OPTIONAL, None)])
    message("TimeSeries", [("labels", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Label"),
                           ("samples", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Sample")])
    message("WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.TimeSeries")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = write_request_class()


def official(series) -> bytes:
    req = WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in labels:
            ts.labels.add(name=name, value=value)
        for t, v in samples:
            ts.samples.add(value=v, timestamp=t)
    return req.SerializeToString(deterministic=True)


def decode(body: bytes) -> list[tuple[list[tuple[str, str]], list[tuple[int, float]]]]:
    req = WriteRequest()
    req.ParseFromString(body)
    return [([(lb.name, lb.value) for lb in ts.labels], [(s.timestamp, s.value) for s in ts.samples])
            for ts in req.timeseries]


T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

CASES = {
    "one_sample": [([("__name__", "up")], [(T0, 1.0)])],
    "multiple_series": [
        ([("__name__", "truesli_sli_good_total"), ("journey", "checkout"), ("slo", "availability")],
         [(T0, 10.0), (T0 + 60_000, 25.0), (T0 + 120_000, 31.0)]),
        ([("__name__", "truesli_sli_total"), ("journey", "checkout"), ("slo", "availability")],
         [(T0, 12.0), (T0 + 60_000, 30.0)]),
        ([("__name__", "x:y_z"), ("a", "1"), ("b_", "2"), ("z", "3")], [(T0, 0.5)]),
    ],
    "unicode_values": [([("__name__", "m"), ("city", "Zürich"), ("emoji", "🙂 ok"), ("jp", "東京")],
                        [(T0, 1.0)])],
    "special_values": [([("__name__", "m")],
                        [(T0, -1.5), (T0 + 1, math.nan), (T0 + 2, math.inf), (T0 + 3, -math.inf),
                         (T0 + 4, 0.0), (T0 + 5, -0.0), (T0 + 6, 5e-324), (T0 + 7, 1.7976931348623157e308)])],
    "stale_nan": [([("__name__", "m")], [(T0, struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0])])],
    "timestamps": [([("__name__", "m")],
                    [(-(1 << 63), 1.0), (-1, 2.0), (0, 3.0), (1, 4.0), (127, 5.0), (128, 6.0),
                     (T0, 7.0), (253_402_300_799_000, 8.0), ((1 << 63) - 1, 9.0)])],
    "long_value": [([("__name__", "m"), ("path", "/" + "a" * 300)], [(T0, 1.0)])],
    "many_labels": [([("__name__", "m")] + [(f"l{i:03d}", f"v{i}") for i in range(40)], [(T0, 3.0)])],
    "no_samples": [([("__name__", "m")], [])],
    "empty_request": [],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_matches_protobuf_byte_for_byte(name: str) -> None:
    series = CASES[name]
    assert encode_write_request(series) == official(series)


def test_decoded_back_equal() -> None:
    series = CASES["multiple_series"] + CASES["unicode_values"]
    assert decode(encode_write_request(series)) == [(list(lb), list(s)) for lb, s in series]


def test_nan_payload_preserved() -> None:
    stale = CASES["stale_nan"]
    (_, [(_, v)]), = decode(encode_write_request(stale))
    assert struct.pack("<d", v) == struct.pack("<Q", 0x7FF0000000000002)


def test_snappy_block_round_trip() -> None:
    body = encode_write_request(CASES["multiple_series"] * 50)
    wire = compress(body)
    assert bytes(cramjam.snappy.decompress_raw(wire)) == body
    assert len(wire) < len(body)
    # block format, not framed: the framed stream starts with the "sNaPpY" stream identifier
    assert b"sNaPpY" not in wire[:10]


@pytest.mark.parametrize("labels, samples, message", [
    ([("job", "a"), ("__name__", "m")], [(1, 1.0)], "not sorted"),
    ([("__name__", "m"), ("b", "1"), ("a", "2")], [(1, 1.0)], "not sorted"),
    ([("__name__", "m"), ("a", "1"), ("a", "2")], [(1, 1.0)], "duplicate label name 'a'"),
    ([("__name__", "m"), ("a", "")], [(1, 1.0)], "empty value"),
    ([("", "x"), ("__name__", "m")], [(1, 1.0)], "empty label name"),
    ([("__name__", "")], [(1, 1.0)], "empty value"),
    ([("__name__", "9lives")], [(1, 1.0)], "invalid metric name"),
    ([("__name__", "a-b")], [(1, 1.0)], "invalid metric name"),
    ([("__name__", "m"), ("a:b", "1")], [(1, 1.0)], "invalid label name"),
    ([("__name__", "m"), ("é", "1")], [(1, 1.0)], "invalid label name"),
    ([("job", "a")], [(1, 1.0)], "no __name__"),
    ([], [(1, 1.0)], "no __name__"),
    ([("__name__", "m")], [(2, 1.0), (1, 2.0)], "strictly increasing"),
    ([("__name__", "m")], [(1, 1.0), (1, 1.0)], "strictly increasing"),
    ([("__name__", "m")], [(1.5, 1.0)], "not an int"),
    ([("__name__", "m")], [(1 << 63, 1.0)], "out of int64 range"),
])
def test_validation_errors(labels, samples, message) -> None:
    with pytest.raises(ValueError, match=message):
        encode_write_request([(labels, samples)])


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(ValueError):
        encode_write_request([([("__name__", "m"), ("a", "\ud800")], [(1, 1.0)])])
