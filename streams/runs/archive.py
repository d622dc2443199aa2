"""``truesli archive``: a Kafka topic → Parquet files (zstd) that replay exactly like the live input.

Layout: ``OUT/date=YYYY-MM-DD/hour=HH/p<partition>-<first offset>.parquet``, one file per partition chunk,
dated by the chunk's first record (event time; message timestamp for a record that does not decode).
Every value that becomes part of a path is range-checked first: event times are by the decoder
([2000, 2100)), message timestamps here. A record whose message timestamp is outside that range (or
absent) goes to ``OUT/quarantine/reason=<reason>/p<partition>-<first offset>.parquet`` instead, in the
same row format, and the run goes on: one poisoned record must not stop every future run. Replay reads
quarantined rows too (their raw bytes are dead-lettered again, as live); within a partition they come
after the chunk they arrived in. Rows follow ``ARCHIVE_ARROW_SCHEMA``: decoded
records as request fields, records that do not decode as raw bytes + dead-letter reason — nothing is
lost — plus ``kafka_partition``/``kafka_offset``. ``OUT/_checkpoint.json`` holds the next offset of every
partition and is replaced (atomically) only after the files it covers are written, so a re-run resumes
without duplicates or gaps: it appends only what arrived since.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer

from streams.sources.archive_schema import ARCHIVE_ARROW_SCHEMA
from streams.config import Config
from streams.core.decode import DecodeFailure, Decoder
from streams.core.timeparse import MAX_TS_MS, MIN_TS_MS
from streams.kafka.clients import KafkaUnavailable, consumer_conf, preflight, topic_partitions
from streams.sources.kafka import PartitionReader, offset_ranges

CHECKPOINT = "_checkpoint.json"
QUARANTINE = "quarantine"


@dataclass(slots=True)
class ArchiveResult:
    records: int = 0
    dead_letters: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    """reason → rows written under ``OUT/quarantine/reason=<reason>/`` (also counted in ``records``)."""
    files: list[str] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)


def _row(req, partition: int, offset: int) -> dict:
    return {"ts": req.ts_ms, "client_ip": req.client_ip, "method": req.method, "host": req.host,
            "path": req.path, "status": req.status, "duration_ms": req.duration_ms,
            "user_agent": req.user_agent, "rate_limited": req.rate_limited, "synthetic": req.synthetic,
            "forwarded_for": req.forwarded_for, "kafka_partition": partition, "kafka_offset": offset}


def quarantine_reason(message_ts: int | None) -> str | None:
    """Why a message timestamp (epoch ms) cannot name a ``date=…/hour=…`` partition, or None if it can."""
    if message_ts is None or message_ts < 0:
        return "no_message_timestamp"  # librdkafka reports "not available" as -1
    if not MIN_TS_MS <= message_ts < MAX_TS_MS:
        return "message_timestamp_out_of_range"
    return None


def _write(out: Path, partition: int, rows: list[dict], quarantine: str | None = None) -> str:
    first = rows[0]
    if quarantine is not None:
        folder = out / QUARANTINE / f"reason={quarantine}"
    else:
        day = datetime.fromtimestamp(first["ts"] / 1000, tz=timezone.utc)
        folder = out / f"date={day:%Y-%m-%d}" / f"hour={day:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"p{partition:05d}-{first['kafka_offset']:020d}.parquet"
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    try:
        pq.write_table(pa.Table.from_pylist(rows, schema=ARCHIVE_ARROW_SCHEMA), tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return str(path)


def archive_topic(config: Config, topic: str, out_dir: str, *, from_ms: int | None = None,
                  to_ms: int | None = None, chunk_rows: int = 100_000) -> ArchiveResult:
    """Append the topic's new records (since the checkpoint, or within [from, to)) to ``out_dir``."""
    k = config.kafka
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / CHECKPOINT
    checkpoint = orjson.loads(checkpoint_path.read_bytes()) if checkpoint_path.exists() else None
    if checkpoint is not None and checkpoint.get("topic") != topic:
        raise KafkaUnavailable(f"{out_dir} archives topic {checkpoint.get('topic')}, not {topic}: use another --out")
    partitions = topic_partitions(preflight(k), k, topic)
    decoder = Decoder(config.input)
    consumer = Consumer(consumer_conf(k, **{"group.id": f"truesli-archive-{uuid.uuid4().hex[:8]}",
                                          "enable.auto.commit": False, "isolation.level": "read_committed",
                                          "enable.partition.eof": True}))
    result = ArchiveResult()
    try:
        ranges = offset_ranges(consumer, topic, partitions, from_ms, to_ms, k.connect_timeout_s)
        if checkpoint is not None:  # resume exactly where the last run stopped
            done = {int(p): int(o) for p, o in checkpoint["next_offsets"].items()}
            ranges = {p: (done.get(p, start), max(done.get(p, start), stop)) for p, (start, stop) in ranges.items()}
        result.next_offsets = {p: start for p, (start, _) in ranges.items()}
        pending: dict[int, list[dict]] = {p: [] for p in partitions}
        held: dict[tuple[int, str], list[dict]] = {}  # (partition, quarantine reason) → rows
        for msgs in PartitionReader.bounded(consumer, topic, ranges).batches(k.batch_max_messages, timeout=1.0):
            for m in msgs:
                p = m.partition()
                value = m.value() or b""
                req = decoder.decode(value)
                chunk, why = pending[p], None
                if type(req) is DecodeFailure:
                    stamp = m.timestamp()[1]
                    row = {"ts": stamp, "raw": value, "dead_letter_reason": req.reason,
                           "kafka_partition": p, "kafka_offset": m.offset()}
                    result.dead_letters += 1
                    why = quarantine_reason(stamp)
                    if why is not None:
                        chunk = held.setdefault((p, why), [])
                        result.quarantined[why] = result.quarantined.get(why, 0) + 1
                else:
                    row = _row(req, p, m.offset())  # event time already in range (the decoder checks)
                chunk.append(row)
                result.records += 1
                result.next_offsets[p] = m.offset() + 1
                if len(chunk) >= chunk_rows:
                    result.files.append(_write(out, p, chunk, why))
                    chunk.clear()
        for p, rows in pending.items():
            if rows:
                result.files.append(_write(out, p, rows))
        for (p, why), rows in sorted(held.items()):
            if rows:
                result.files.append(_write(out, p, rows, why))
    finally:
        consumer.close()
    tmp = checkpoint_path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"topic": topic, "next_offsets": {str(p): o for p, o in
                                                                   sorted(result.next_offsets.items())}}))
    os.replace(tmp, checkpoint_path)
    return result
