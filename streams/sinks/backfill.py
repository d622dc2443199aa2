"""A backfill that cannot vanish: warn before the push, read back after it (embedded and replay runs).

Contract: :func:`prepare` probes the receiver behind a remote-write URL (streams/sinks/receiver_limits.py)
and returns the warnings for the samples about to be sent; :func:`confirm` reads them back
(streams/sinks/readback.py) and, when something did not arrive, :func:`failure_line` says what and which
receiver setting is the likely cause. The query API gets the same tenant header and credentials as the
writes. No state beyond the two calls; the caller owns printing and the exit status.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass

from streams.config import RemoteWriteConfig
from streams.sinks.query_api import QueryApi, query_base
from streams.sinks.readback import Expected, ReadbackReport, verify
from streams.sinks.receiver_limits import ReceiverInfo, probe, warnings


@dataclass
class Target:
    """The query side of one remote-write URL: the API (None when the URL names none) and what it is."""

    api: QueryApi | None
    info: ReceiverInfo
    why_not: str = ""


def _ssl_context(rw: RemoteWriteConfig) -> ssl.SSLContext | None:
    if rw.insecure_skip_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if rw.ca_file:
        return ssl.create_default_context(cafile=rw.ca_file)
    return None


def _auth_headers(rw: RemoteWriteConfig, basic: tuple[str, str] | None, bearer: str | None) -> dict[str, str]:
    headers = dict(rw.headers)
    if basic is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    elif bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return headers


def target(rw: RemoteWriteConfig, url: str, basic: tuple[str, str] | None = None,
           bearer: str | None = None) -> Target:
    base = query_base(url)
    if base is None:
        return Target(None, ReceiverInfo("unknown"),
                      "the URL does not end in /api/v1/write or /api/v1/push, so its query API is unknown")
    api = QueryApi(base, _auth_headers(rw, basic, bearer), timeout_s=rw.timeout_s, ssl_context=_ssl_context(rw))
    return Target(api, probe(api))


def prepare(t: Target, expected: Expected, now_ms: int) -> list[str]:
    """Warnings (one line each, naming the receiver setting) for the samples of ``expected``."""
    if expected.oldest_ms is None or expected.newest_ms is None:
        return []
    return warnings(t.info, expected.oldest_ms, expected.newest_ms, now_ms)


def confirm(t: Target, expected: Expected, timeout_s: float = 15.0) -> ReadbackReport:
    return verify(t.api, expected, timeout_s=timeout_s, why_not=t.why_not)


def failure_line(t: Target, report: ReadbackReport, url: str) -> str:
    """``truesli: …`` line for a read-back that found missing or different series."""
    hint = {
        "victoriametrics": (f"VictoriaMetrics drops samples outside its -retentionPeriod (now "
                            f"{t.info.retention_setting.split('=', 1)[-1]}) or more than 2 days ahead, and still "
                            "answers 204: raise -retentionPeriod"),
        "prometheus": ("Prometheus deletes samples older than --storage.tsdb.retention.time and refuses old ones "
                       "without storage.tsdb.out_of_order_time_window; for bulk history use "
                       "`promtool tsdb create-blocks-from openmetrics`"),
    }.get(t.info.kind, "the receiver accepted the samples but does not return them")
    return (f"truesli: remote-write: the receiver answered success but {report.missing + report.mismatched:,} of "
            f"{report.series:,} series did not read back as sent from {t.api.base if t.api else url} "
            f"({report.missing:,} missing, {report.mismatched:,} different; e.g. {report.examples[0]}); {hint}")
