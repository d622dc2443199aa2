"""Grouping a consume call's records by partition (sources/kafka.py ``by_partition``): values in delivery
order, each partition's positions into them and its offsets, a null value as an empty record."""

from __future__ import annotations

from dataclasses import dataclass

from streams.sources.kafka import by_partition


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
