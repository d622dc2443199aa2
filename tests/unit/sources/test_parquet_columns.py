"""Parquet → RequestColumns straight from Arrow equals the dict rows of ``iter_parquet_batches`` decoded per
record (``from_decoded``): same batches, same origins, every column value, every failure — on the
generated mix, on odd values patched per record, on oversized rows (never expanded), and on column types
that send the batch the dict way."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.config import InputConfig
from streams.core.columns import from_decoded
from streams.core.decode import Decoder
from streams.core.timeparse import parse_rfc3339
from streams.sources import parquet_columns
from streams.sources.archive_schema import REQUEST_LOG_ARROW_SCHEMA
from streams.sources.parquet import iter_parquet_batches
from streams.sources.parquet_columns import iter_parquet_columns
from streams.tools.gen import generate
from tests.unit.core.test_columns import assert_columns_equal

T0 = 1_767_225_600_000


def _mix_rows(events: int, seed: int) -> list[dict]:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    rows = []
    for line in buf.getvalue().splitlines():
        obj = orjson.loads(line)
        obj["ts"] = parse_rfc3339(obj["ts"])
        rows.append({f.name: obj.get(f.name) for f in REQUEST_LOG_ARROW_SCHEMA})
    return rows


def _write(path: Path, rows: list[dict], schema: pa.Schema = REQUEST_LOG_ARROW_SCHEMA, **kw) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, **kw)
    return path


def _both(path: Path, decoder: Decoder, **kw) -> list:
    """Asserts equality batch by batch; returns the column batches."""
    want = list(iter_parquet_batches(str(path), **kw))
    got = list(iter_parquet_columns(str(path), decoder, **kw))
    assert [o for _, o in got] == [o for _, o in want]
    for (batch, _), (rows, _) in zip(got, want):
        assert_columns_equal(batch.columns, from_decoded([decoder.decode(r) for r in rows]))
        assert len(batch.items) == len(rows)
    return [b.columns for b, _ in got]


def _no_dicts(monkeypatch) -> list:
    """Counts the rows converted to dicts one by one (the per-record rows)."""
    converted: list = []
    real = parquet_columns._convert

    def spy(rb, start, end, replaced):
        converted.append(start)
        return real(rb, start, end, replaced)
    monkeypatch.setattr(parquet_columns, "_convert", spy)
    return converted


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_mix_equals_the_dict_rows_without_converting_one(tmp_path, monkeypatch, seed) -> None:
    path = _write(tmp_path / "mix.parquet", _mix_rows(6_000, seed), row_group_size=2_500)
    converted = _no_dicts(monkeypatch)
    got = _both(path, Decoder(InputConfig()), batch_rows=2_000)
    assert sum(c.n for c in got) == 6_000 and not any(c.failures for c in got)
    assert converted == []


def test_odd_rows_are_patched_per_record_at_their_position(tmp_path, monkeypatch) -> None:
    rows = _mix_rows(300, 3)
    odd = {5: {"duration_ms": float("nan")}, 6: {"duration_ms": float("inf")}, 7: {"duration_ms": -1.0},
           8: {"duration_ms": -2.0}, 9: {"status": 1_000}, 10: {"client_ip": "not-an-ip"}, 11: {"method": ""},
           12: {"path": "https://Other.example:8443/x?y=1", "host": None}, 13: {"client_ip": ""},
           14: {"host": "-", "user_agent": "-", "forwarded_for": "-"}, 15: {"path": "/a?b#c"},
           16: {"user_agent": "u" * 600}, 17: {"method": "get"}, 18: {"host": "WWW.Example.com:80"},
           19: {"status": -1}, 20: {"ts": T0 - 30 * 365 * 86_400_000}}
    for i, change in odd.items():
        rows[i].update(change)
    path = _write(tmp_path / "odd.parquet", rows)
    converted = _no_dicts(monkeypatch)
    (cols,) = _both(path, Decoder(InputConfig()))
    assert {i: f.reason for i, f in cols.failures.items()} == {
        6: "bad_type:duration_ms", 5: "bad_type:duration_ms", 8: "bad_type:duration_ms", 9: "bad_type:status",
        10: "bad_type:client_ip", 11: "missing_field:method", 19: "bad_type:status", 20: "bad_timestamp"}
    assert cols.duration_ms[7].as_py() is None and cols.path[15].as_py() == "/a"
    assert cols.host[12].as_py() == "other.example" and cols.client_ip[13].as_py() == ""
    assert len(cols.user_agent[16].as_py()) == 512 and cols.method[17].as_py() == "GET"
    assert sorted(converted) == [5, 6, 8, 9, 10, 11, 12, 13, 19, 20]  # only the rows finish declines


def test_oversized_rows_are_dead_lettered_and_never_expanded(tmp_path) -> None:
    rows = 50
    table = pa.table({
        "ts": pa.array([T0 + i for i in range(rows)], pa.timestamp("ms", tz="UTC")),
        "client_ip": ["10.0.0.1"] * rows, "method": ["GET"] * rows, "path": ["/"] * rows,
        "status": pa.array([200] * rows, pa.int16()),
        "user_agent": pa.DictionaryArray.from_arrays(pa.array([1 if i % 7 == 3 else 0 for i in range(rows)],
                                                              pa.int32()), pa.array(["ua", "a" * (1 << 20)])),
    })
    pq.write_table(table, tmp_path / "bomb.parquet")
    decoder = Decoder(InputConfig())
    (cols,) = _both(tmp_path / "bomb.parquet", decoder)
    assert sorted(cols.failures) == [i for i in range(rows) if i % 7 == 3]
    assert {f.reason for f in cols.failures.values()} == {"oversized"}
    assert cols.user_agent.to_pylist().count("ua") == rows - len(cols.failures)


@pytest.mark.parametrize("column,array", [
    ("status", pa.array(["200"] * 20)),
    ("ts", pa.array(["2026-01-01T00:00:01.000Z"] * 19 + ["2026-01-01T00:00:01Z"])),
    # Non-ASCII timestamps: cut by code points, not bytes (finish checks; the JSON screen proves ASCII).
    ("ts", pa.array(["2026-01-01T00:00:01.000Z"] * 16 + ["2026-01-01T00:0é:01.000Z", "２０２６-01-01T00:00:01.000Z",
                                                          "2026-01-01T00:00:0１.000Z", "2026-01-01T00:00:01.00é"])),
    ("ts", pa.array([1_767_225_601.5] * 20)),
    ("ts", pa.array([1_767_225_601] * 20, pa.int64())),
    ("duration_ms", pa.array([12] * 19 + [2 ** 60], pa.int64())),
    ("duration_ms", pa.array([12] * 20, pa.int32())),
    ("path", pa.array([b"/x"] * 20, pa.binary())),
    ("rate_limited", pa.array([1] * 20, pa.int8())),
    ("status", pa.array([200] * 20, pa.uint64())),
])
def test_other_column_types_equal_the_dict_rows(tmp_path, column, array) -> None:
    rows = _mix_rows(20, 4)
    base = pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA)
    table = base.set_column(base.schema.get_field_index(column), column, array)
    pq.write_table(table, tmp_path / "t.parquet")
    _both(tmp_path / "t.parquet", Decoder(InputConfig()))


def test_missing_required_column(tmp_path) -> None:
    rows = _mix_rows(20, 5)
    table = pa.Table.from_pylist(rows, schema=REQUEST_LOG_ARROW_SCHEMA).drop_columns(["method"])
    pq.write_table(table, tmp_path / "t.parquet")
    (cols,) = _both(tmp_path / "t.parquet", Decoder(InputConfig()))
    assert {f.reason for f in cols.failures.values()} == {"missing_field:method"}
