"""core/arrays.py: the C-built arrays equal the Python-list ones they replace, type and values."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streams.core import arrays
from streams.core.arrays import filled, marked, positions


@pytest.mark.parametrize("n", [0, 1, 5_000, (1 << 14) + 1, 70_000])
def test_positions_are_a_range_whatever_was_asked_before(n) -> None:
    assert positions(n).equals(pa.array(range(n), pa.int64()))
    assert positions(3).equals(pa.array([0, 1, 2], pa.int64()))  # after growing, a short one still slices


def test_positions_grow_by_doubling() -> None:
    positions(1)
    before = len(arrays._positions)
    assert before >= 1 << 14
    positions(before + 1)
    assert len(arrays._positions) == 2 * before


@pytest.mark.parametrize("value, typ", [(True, pa.bool_()), (False, pa.bool_()), (7, pa.int64()), (-1, pa.int64())])
def test_filled_equals_a_list_of_copies(value, typ) -> None:
    for n in (0, 1, 4_999):
        assert filled(value, n, typ).equals(pa.array([value] * n, typ))


def test_marked_is_true_exactly_at_the_rows() -> None:
    assert marked({0, 3, 4}, 5).equals(pa.array([True, False, False, True, True]))
    assert marked([2, 1], 3).equals(pa.array([False, True, True]))
    assert marked(set(), 2).equals(pa.array([False, False]))
    assert marked({}, 0).equals(pa.array([], pa.bool_()))
