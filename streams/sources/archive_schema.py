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


ARCHIVE_ARROW_SCHEMA = pa.schema(
    # Request fields are null on rows of records that did not decode (their raw bytes are kept instead).
    [f.with_nullable(True) for f in REQUEST_LOG_ARROW_SCHEMA] + [
        # A record that did not decode keeps its bytes and reason (ts is then the message timestamp).
        pa.field("raw", pa.binary()),
        pa.field("dead_letter_reason", pa.string()),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
    ])
"""What ``truesli archive`` writes: the request fields of decoded records, the raw bytes of the rest, and
where each came from, so a replay reproduces the live worker's input exactly (per partition, in order)."""


def schema_as_json(schema: pa.Schema = REQUEST_LOG_ARROW_SCHEMA) -> list[dict]:
    """[{name, type, nullable}] — the form stored in schemas/*.arrow.json."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
