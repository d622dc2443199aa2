"""One batch of decoded requests as Arrow columns — what the batch core (core/pipeline.py) reads.

Contract: row ``i`` is item ``i`` of the batch. A row whose item did not decode has its
:class:`DecodeFailure` in ``failures[i]`` and is null in every column; every other row holds exactly the
values ``Decoder.decode(item)`` would have put in its :class:`Request` (``duration_ms`` null = None,
``forwarded_for`` null = None; ``rate_limited``/``synthetic`` are never null). Whoever builds one — the
per-record fallback below, the whole-batch JSON decode, a Parquet reader — must keep that equality;
tests/unit/core/test_columns.py checks it item for item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from streams.core.formats.common import DecodeFailure
from streams.core.model import Request

COLUMN_TYPES: dict[str, pa.DataType] = {
    "ts_ms": pa.int64(), "client_ip": pa.string(), "method": pa.string(), "host": pa.string(),
    "path": pa.string(), "status": pa.int64(), "duration_ms": pa.float64(), "user_agent": pa.string(),
    "rate_limited": pa.bool_(), "synthetic": pa.bool_(), "forwarded_for": pa.string(),
}
"""Column name → Arrow type; the names are :class:`Request`'s fields."""


@dataclass(slots=True)
class RequestColumns:
    """Decoded requests of one batch, column by column (see the module contract)."""

    n: int
    ts_ms: pa.Array
    client_ip: pa.Array
    method: pa.Array
    host: pa.Array
    path: pa.Array
    status: pa.Array
    duration_ms: pa.Array
    user_agent: pa.Array
    rate_limited: pa.Array
    synthetic: pa.Array
    forwarded_for: pa.Array
    failures: dict[int, DecodeFailure] = field(default_factory=dict)
    encoded: dict[str, pa.Array] | None = None
    """Column name → ``pc.dictionary_encode`` of that column exactly as it is here, for the columns whose
    builder already encoded them (core/batch_columns.py); the batch core reuses them instead of encoding
    again. Not carried by :func:`take_rows` (its rows are others)."""


@dataclass(slots=True)
class ColumnBatch:
    """A batch a source already holds as columns (Parquet): the columns, and the items themselves, each
    converted only when asked for — the raw text of a dead letter. ``Pipeline.process`` takes it like a
    list of items."""

    columns: RequestColumns
    items: Sequence

    def __len__(self) -> int:
        return self.columns.n


def take_rows(cols: RequestColumns, rows: Sequence[int]) -> RequestColumns:
    """The rows ``rows`` of ``cols`` (positions, in the order given) as a batch of their own: row ``k`` of
    the result is row ``rows[k]``, its failure moved with it. Decoding is item by item (the module
    contract), so this equals decoding those items alone — a source may decode once and split."""
    if len(rows) == cols.n and rows == list(range(cols.n)):  # compared in C: the one-partition case
        return cols
    idx = pa.array(rows, pa.int64())
    failures = {}
    if cols.failures:
        failures = {k: cols.failures[i] for k, i in enumerate(rows) if i in cols.failures}
    return RequestColumns(len(rows), *(getattr(cols, name).take(idx) for name in COLUMN_TYPES),
                          failures=failures)


def from_decoded(decoded: Sequence[Request | DecodeFailure]) -> RequestColumns:
    """Columns from per-record decode results (the path of every batch the whole-batch decode does not
    take: text formats, dicts, hostile or mixed batches)."""
    n = len(decoded)
    failures: dict[int, DecodeFailure] = {}
    cols: dict[str, list] = {name: [None] * n for name in COLUMN_TYPES}
    ts, ip, method, host, path, status, dur, ua, rl, syn, fwd = (cols[name] for name in COLUMN_TYPES)
    for i, r in enumerate(decoded):
        if type(r) is DecodeFailure:
            failures[i] = r
            continue
        ts[i] = r.ts_ms
        ip[i] = r.client_ip
        method[i] = r.method
        host[i] = r.host
        path[i] = r.path
        status[i] = r.status
        dur[i] = r.duration_ms
        ua[i] = r.user_agent
        rl[i] = r.rate_limited
        syn[i] = r.synthetic
        fwd[i] = r.forwarded_for
    return RequestColumns(n, *(pa.array(cols[name], type=t) for name, t in COLUMN_TYPES.items()),
                          failures=failures)
