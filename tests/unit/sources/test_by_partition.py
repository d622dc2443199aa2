"""Grouping a consume call's records by partition (sources/kafka.py ``by_partition``): values in delivery
order, each partition's positions into them and its offsets, a null value as an empty record; and
one decode split by partition in two halves (``read_by_partition`` on a read-ahead thread, with Arrow's
pool as live Stage A runs it or without, ``finish_by_partition``), equal to decoding each partition
alone."""

from __future__ import annotations

from dataclasses import dataclass

from streams.sources.kafka import by_partition, finish_by_partition, read_by_partition


def decoded_by_partition(msgs: list, decoder) -> dict:  # noqa: ANN001
    """The two halves as live Stage A runs them (Arrow's parse on its CPU pool)."""
    return finish_by_partition(read_by_partition(msgs, decoder, parallel=True), decoder)


@dataclass
class _Record:
    """The three accessors of a confluent-kafka Message that the grouping reads."""

    p: int
    off: int
    v: bytes | None

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.off

    def value(self) -> bytes | None:
        return self.v


def test_records_are_grouped_by_partition_in_delivery_order() -> None:
    msgs = [_Record(2, 10, b"a"), _Record(0, 7, b"b"), _Record(2, 11, None), _Record(0, 8, b"c"),
            _Record(5, 0, b"d")]
    values, groups = by_partition(msgs)
    assert values == [b"a", b"b", b"", b"c", b"d"]
    assert groups == {2: ([0, 2], [10, 11]), 0: ([1, 3], [7, 8]), 5: ([4], [0])}
    assert by_partition([]) == ([], {})


def test_decoded_by_partition_equals_decoding_each_partition_alone() -> None:
    from streams.config import InputConfig
    from streams.core.decode import Decoder
    from tests.unit.core.test_columns import assert_columns_equal
    from tests.unit.helpers import T0_MS, req

    decoder = Decoder(InputConfig())
    msgs = [_Record(p, 100 + i, req(ts=T0_MS + i, ip=f"10.0.{p}.{i}") if i != 3 else b"not json")
            for i, p in enumerate([1, 0, 1, 1, 0, 4])]
    got = decoded_by_partition(msgs, decoder)
    assert {p: offsets for p, (_, offsets) in got.items()} == {1: [100, 102, 103], 0: [101, 104], 4: [105]}
    for p, (batch, _) in got.items():
        alone = [m.value() for m in msgs if m.partition() == p]
        assert batch.items == alone
        assert_columns_equal(batch.columns, decoder.decode_columns(alone))
    assert got[1][0].columns.failures.keys() == {2}  # the bad record, at its place within partition 1
    assert decoded_by_partition([], decoder) == {}


def test_read_then_finish_by_partition_equals_decoded_by_partition() -> None:
    """The halves as topic replay runs them (no Arrow pool) give what Stage A's way gives: batches, offsets, the bad
    record's failure; every item is a clean JSON line and Arrow reads the values, or the batch goes per
    record — both cases, and no records at all."""
    from streams.config import InputConfig
    from streams.core.decode import Decoder
    from streams.core.timeparse import format_rfc3339
    from tests.unit.core.test_columns import assert_columns_equal
    from tests.unit.helpers import T0_MS, req

    decoder = Decoder(InputConfig())
    clean = [_Record(p, 100 + i, req(ts=format_rfc3339(T0_MS + i), ip=f"10.0.{p}.{i}"))  # Arrow reads RFC 3339
             for i, p in enumerate([1, 0, 1, 1, 0, 4])]
    mixed = clean[:3] + [_Record(1, 103, b"not json")] + clean[4:]
    for msgs, arrow in ((clean, True), (mixed, False)):
        read = read_by_partition(msgs, decoder)
        assert (read[2] is not None) == arrow
        got, want = finish_by_partition(read, decoder), decoded_by_partition(msgs, decoder)
        assert got.keys() == want.keys()
        for p in want:
            assert got[p][1] == want[p][1] and got[p][0].items == want[p][0].items
            assert_columns_equal(got[p][0].columns, want[p][0].columns)
            assert got[p][0].columns.failures.keys() == want[p][0].columns.failures.keys()
    assert finish_by_partition(read_by_partition([], decoder), decoder) == {}
