"""The Arrow schema of request-log archives (Parquet). ``schemas/request_log.arrow.json`` mirrors it.

Column names are truesli's request field names, so an archive decodes with the ``truesli`` preset.
"""

from __future__ import annotations

import pyarrow as pa

REQUEST_LOG_ARROW_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("client_ip", pa.string(), nullable=False),
    pa.field("method", pa.string(), nullable=False),
    pa.field("host", pa.string()),
    pa.field("path", pa.string(), nullable=False),
    pa.field("status", pa.int16(), nullable=False),
    pa.field("duration_ms", pa.float64()),
    pa.field("user_agent", pa.string()),
    pa.field("bytes", pa.int64()),
    pa.field("route", pa.string()),
    pa.field("service", pa.string()),
    pa.field("request_id", pa.string()),
    pa.field("rate_limited", pa.bool_()),
    pa.field("synthetic", pa.bool_()),
    pa.field("bot_score", pa.float64()),
    pa.field("asn", pa.int64()),
    pa.field("country", pa.string()),
    pa.field("forwarded_for", pa.string()),
])


def schema_as_json() -> list[dict]:
    """[{name, type, nullable}] — the form stored in schemas/request_log.arrow.json."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in REQUEST_LOG_ARROW_SCHEMA]
