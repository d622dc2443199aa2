"""Archive replay input as columns (``iter_archive_columns``) equals the dict rows of the reference
(tests/support/archive_oracle.py) decoded per record: same partitions, batches, items, offsets and caps,
every column value and failure — on the generated mix, with undecodable records kept as raw bytes,
oversized rows, a time range, and archive columns of other types (the dict way)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streams.config import InputConfig
from streams.core.columns import ColumnBatch, from_decoded
from streams.core.decode import Decoder
from streams.core.timeparse import parse_rfc3339
from streams.sources import parquet_columns
from streams.sources.archive_schema import ARCHIVE_ARROW_SCHEMA
from streams.sources.limits import InputLimits
from streams.sources.parquet_columns import iter_archive_columns
from streams.tools.gen import generate
from tests.support.archive_oracle import iter_archive_batches
from tests.unit.core.test_columns import assert_columns_equal

T0 = 1_767_225_600_000


def _archive_rows(events: int, seed: int, partition: int, bad_every: int = 0) -> list[dict]:
    """Archive rows of the generated mix; every ``bad_every``-th a record that did not decode (raw bytes,
    message time as ts, request fields null)."""
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    rows = []
    for k, line in enumerate(buf.getvalue().splitlines()):
        obj = orjson.loads(line)
        ts = parse_rfc3339(obj["ts"])
        if bad_every and k % bad_every == 3:
            row = {f.name: None for f in ARCHIVE_ARROW_SCHEMA}
            row.update(ts=ts, raw=line[:-9] + b"\x00garbage", dead_letter_reason="malformed_json")
        else:
            obj["ts"] = ts
            row = {f.name: obj.get(f.name) for f in ARCHIVE_ARROW_SCHEMA}
        row.update(kafka_partition=partition, kafka_offset=1_000 + k)
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict], schema: pa.Schema = ARCHIVE_ARROW_SCHEMA, **kw) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, **kw)
    return path


def _both(files: list[Path], decoder: Decoder, **kw) -> list:
    """Asserts equality batch by batch (and of the caps); returns what the columns path yielded."""
    want_caps: list = []
    got_caps: list = []
    want = list(iter_archive_batches(files, caps=want_caps, **kw))
    got = list(iter_archive_columns(files, decoder, caps=got_caps, **kw))
    assert [(p, o) for p, _, o in got] == [(p, o) for p, _, o in want]
    assert got_caps == want_caps
    for (_, batch, _), (_, items, _) in zip(got, want):
        expect = from_decoded([decoder.decode(x) for x in items])
        if type(batch) is ColumnBatch:
            assert_columns_equal(batch.columns, expect)
            assert [batch.items[k] for k in range(len(batch.items))] == items
        else:
            assert batch == items
    return got


def test_generated_archives_equal_the_dict_rows_without_converting_one(tmp_path, monkeypatch) -> None:
    files = [_write(tmp_path / "p00000-0.parquet", _archive_rows(4_000, 1, 0), row_group_size=1_500),
             _write(tmp_path / "p00001-0.parquet", _archive_rows(3_000, 2, 1), row_group_size=1_500)]
    converted: list = []
    real = parquet_columns._convert
    monkeypatch.setattr(parquet_columns, "_convert", lambda *a: converted.append(a[1]) or real(*a))
    for _, batch, _ in iter_archive_columns(files, Decoder(InputConfig()), batch_rows=1_000):
        batch.columns  # noqa: B018 — the columns are built; no row was converted to a dict for them
    assert converted == []
    monkeypatch.undo()
    got = _both(files, Decoder(InputConfig()), batch_rows=1_000)
    # batches of ≤ 1,000 rows within each row group of 1,500 (the last of file 0: 1,000)
    assert [(p, b.columns.n) for p, b, _ in got] == [(0, 1000), (0, 500), (0, 1000), (0, 500), (0, 1000),
                                                     (1, 1000), (1, 500), (1, 1000), (1, 500)]
    assert not any(b.columns.failures for _, b, _ in got)
    assert got[0][2].offsets[:3] == [1_000, 1_001, 1_002]


def test_undecoded_records_come_back_as_raw_bytes_and_fail_at_their_row(tmp_path) -> None:
    files = [_write(tmp_path / "p00000-0.parquet", _archive_rows(500, 3, 0, bad_every=50))]
    ((_, batch, origin),) = _both(files, Decoder(InputConfig()))
    assert sorted(batch.columns.failures) == list(range(3, 500, 50))
    assert {f.reason for f in batch.columns.failures.values()} == {"malformed_json"}
    assert type(batch.items[3]) is bytes and origin.offsets[3] == 1_003


def test_a_time_range_keeps_the_rows_inside_it_with_their_offsets(tmp_path) -> None:
    rows = _archive_rows(2_000, 4, 2, bad_every=100)
    files = [_write(tmp_path / "p00002-0.parquet", rows)]
    lo, hi = rows[500]["ts"], rows[1_500]["ts"]
    got = _both(files, Decoder(InputConfig()), from_ms=lo, to_ms=hi)
    kept = [r["kafka_offset"] for r in rows if lo <= r["ts"] < hi]
    assert [off for _, _, o in got for off in o.offsets] == kept
    assert _both(files, Decoder(InputConfig()), from_ms=hi + 10 ** 9) == []


def test_oversized_rows_are_dead_lettered_at_their_row(tmp_path) -> None:
    rows = _archive_rows(300, 5, 0)
    for i in (7, 100, 299):
        rows[i]["user_agent"] = "a" * 70_000
    files = [_write(tmp_path / "p00000-0.parquet", rows)]
    got = _both(files, Decoder(InputConfig()), from_ms=rows[50]["ts"])
    failures = {i: f.reason for _, b, _ in got for i, f in b.columns.failures.items()}
    first_kept = next(k for k, r in enumerate(rows) if r["ts"] >= rows[50]["ts"])
    assert failures == {100 - first_kept: "oversized", 299 - first_kept: "oversized"}


@pytest.mark.parametrize("column,array", [
    ("kafka_offset", pa.array([str(i) for i in range(40)])),
    ("ts", pa.array(["2026-01-01T00:00:01.000Z"] * 40)),
    ("status", pa.array(["200"] * 40)),
])
def test_other_column_types_equal_the_dict_rows(tmp_path, column, array) -> None:
    base = pa.Table.from_pylist(_archive_rows(40, 6, 3), schema=ARCHIVE_ARROW_SCHEMA)
    table = base.set_column(base.schema.get_field_index(column), column, array)
    pq.write_table(table, tmp_path / "p00003-0.parquet")
    _both([tmp_path / "p00003-0.parquet"], Decoder(InputConfig()))


def test_caps_stop_both_at_the_same_row(tmp_path) -> None:
    files = [_write(tmp_path / "p00000-0.parquet", _archive_rows(1_000, 7, 0), row_group_size=300)]
    got = _both(files, Decoder(InputConfig()), limits=InputLimits(max_lines=700), batch_rows=200)
    assert sum(len(o.offsets) for _, _, o in got) == 700
