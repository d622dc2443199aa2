"""Before a backfill: what the receiver will keep, and a warning naming the setting when samples fall outside.

Contract: :func:`probe` asks the receiver's query API (streams/sinks/query_api.py) what it is and what it
accepts; :func:`warnings` compares that with the oldest and newest sample to send and returns one line per
problem, naming the receiver setting to change. Nothing here stops a push: a probe that cannot tell
returns ``kind="unknown"`` and no warnings (the read-back after the push is what fails loudly).

What the receivers do with old samples (Prometheus 2.x, VictoriaMetrics 1.x):
- **VictoriaMetrics** drops samples older than ``now − -retentionPeriod`` ("too small timestamp") while
  answering 204, and samples more than 2 days ahead of its clock. ``/flags`` shows the setting (a bare number
  is months; suffixes h, d, w, y).
- **Prometheus** refuses a sample older than ``head max time − 1h`` (half the 2h head chunk range) unless
  ``storage.tsdb.out_of_order_time_window`` covers it; a head without data accepts anything. Samples older
  than ``--storage.tsdb.retention.time`` (default 15d) are accepted and deleted at the next compaction.
  Bulk history is better imported with ``promtool tsdb create-blocks-from openmetrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from streams.core.timeparse import format_rfc3339
from streams.sinks.query_api import QueryApi, QueryError

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
VM_MONTH_MS = 31 * DAY_MS  # VictoriaMetrics counts a month as 31 days
VM_FUTURE_MS = 2 * DAY_MS
PROM_DEFAULT_RETENTION_MS = 15 * DAY_MS
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS, "y": 365 * DAY_MS}


@dataclass(frozen=True)
class ReceiverInfo:
    """What a probe found. Times in epoch ms; None where the receiver does not limit (or did not say)."""

    kind: str  # prometheus | victoriametrics | unknown
    retention_ms: int | None = None
    retention_setting: str = ""  # the setting's text as the receiver reports it
    ooo_window_ms: int = 0  # Prometheus: storage.tsdb.out_of_order_time_window
    head_max_ms: int | None = None  # Prometheus: the newest sample it holds (None: empty head)


def parse_duration_ms(text: str) -> int | None:
    """A Prometheus duration (``30d``, ``1h30m``, ``0s``) → ms; None when unparsable."""
    text, total, i = text.strip(), 0, 0
    if not text:
        return None
    while i < len(text):
        j = i
        while j < len(text) and text[j].isdigit():
            j += 1
        unit = "ms" if text.startswith("ms", j) else text[j:j + 1]
        if j == i or unit not in _UNITS_MS:
            return None
        total += int(text[i:j]) * _UNITS_MS[unit]
        i = j + len(unit)
    return total


def parse_vm_retention_ms(text: str) -> int | None:
    """VictoriaMetrics ``-retentionPeriod``: a bare number is months (``1`` = 31 days); else h/d/w/y."""
    text = text.strip().strip('"')
    unit = text[-1:] if text[-1:] in ("h", "d", "w", "y") else ""
    number = text[: len(text) - len(unit)]
    try:
        n = float(number)
    except ValueError:
        return None
    if not n >= 0 or n == float("inf"):
        return None
    return int(n * (VM_MONTH_MS if unit == "" else _UNITS_MS[unit]))


def _vm_retention_flag(body: bytes) -> str | None:
    """The value of ``-retentionPeriod`` in VictoriaMetrics' ``/flags`` page, None when absent."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("-retentionPeriod="):
            return line[len("-retentionPeriod="):].strip().strip('"')
    return None


def probe(api: QueryApi) -> ReceiverInfo:
    """Ask the receiver what it is; ``unknown`` (never an exception) when it does not say."""
    try:
        status, body = api.get("/flags")
        setting = _vm_retention_flag(body) if status == 200 else None
        if setting is not None:  # only VictoriaMetrics lists its flags there
            return ReceiverInfo("victoriametrics", parse_vm_retention_ms(setting), f"-retentionPeriod={setting}")
        build = api.get_json("/api/v1/status/buildinfo").get("data") or {}
        if not build.get("version"):
            return ReceiverInfo("unknown")
        flags = api.get_json("/api/v1/status/flags").get("data") or {}
        retention = flags.get("storage.tsdb.retention.time", "0s")
        retention_ms = parse_duration_ms(retention) or PROM_DEFAULT_RETENTION_MS  # 0s means the default
        config = yaml.safe_load(api.get_json("/api/v1/status/config")["data"]["yaml"] or "{}") or {}
        ooo = ((config.get("storage") or {}).get("tsdb") or {}).get("out_of_order_time_window", "0s")
        head = (api.get_json("/api/v1/status/tsdb").get("data") or {}).get("headStats") or {}
        head_max = head.get("maxTime") if head.get("numSeries") else None
        shown = retention if parse_duration_ms(retention) else f"{retention}, the default"
        return ReceiverInfo("prometheus", retention_ms, f"--storage.tsdb.retention.time={shown}",
                            parse_duration_ms(str(ooo)) or 0, head_max)
    except (QueryError, KeyError, TypeError, yaml.YAMLError):
        return ReceiverInfo("unknown")


def _days(ms: int) -> str:
    return f"{ms / DAY_MS:.1f} days" if ms < 10 * DAY_MS else f"{ms / DAY_MS:.0f} days"


def warnings(info: ReceiverInfo, oldest_ms: int, newest_ms: int, now_ms: int) -> list[str]:
    """One line per way the receiver will lose samples in [oldest_ms, newest_ms], naming the setting."""
    out: list[str] = []
    span = f"samples from {format_rfc3339(oldest_ms)}"
    if info.kind == "victoriametrics":
        if info.retention_ms is not None and oldest_ms < now_ms - info.retention_ms:
            need = now_ms - oldest_ms
            out.append(f"{span} are older than VictoriaMetrics keeps ({info.retention_setting}, "
                       f"{_days(info.retention_ms)}): it drops them silently; restart it with "
                       f"-retentionPeriod={need // DAY_MS + 1}d or more")
        if newest_ms > now_ms + VM_FUTURE_MS:
            out.append(f"samples up to {format_rfc3339(newest_ms)} are more than 2 days ahead of now: "
                       "VictoriaMetrics drops them silently (check the log's clock and time zone)")
    elif info.kind == "prometheus":
        if info.head_max_ms is not None and oldest_ms < info.head_max_ms - HOUR_MS:
            age = info.head_max_ms - oldest_ms
            if age > info.ooo_window_ms:
                out.append(f"{span} are {_days(age)} older than the newest sample Prometheus holds: it refuses "
                           f"them unless storage.tsdb.out_of_order_time_window ≥ {age // DAY_MS + 1}d in its config "
                           f"file (now {info.ooo_window_ms // DAY_MS}d), or import the history with "
                           "`promtool tsdb create-blocks-from openmetrics`")
        if info.retention_ms is not None and oldest_ms < now_ms - info.retention_ms:
            out.append(f"{span} are older than Prometheus keeps ({info.retention_setting}, "
                       f"{_days(info.retention_ms)}): the next compaction deletes them; raise "
                       "--storage.tsdb.retention.time")
    return out
