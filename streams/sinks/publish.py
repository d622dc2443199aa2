"""Push a run's merged counters to a remote-write receiver (embedded and replay runs).

The receiver gets the series of ``streams.sinks.series`` with event-time stamps, so processing an old log
backfills history (Prometheus needs ``storage.tsdb.out_of_order_time_window`` for that; see
docs/remote-write.md). Secrets are read from files or environment variables named in the config.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from streams.config import RemoteWriteConfig
from streams.core.merge import CounterBook
from streams.sinks.backfill import Target, confirm, prepare, target
from streams.sinks.readback import Expected, ReadbackReport
from streams.sinks.receiver_limits import ReceiverInfo
from streams.sinks.remote_write import DeliveryReport, RemoteWriteSink
from streams.sinks.series import Sample, counter_samples


class PublishError(Exception):
    """Remote-write settings that cannot work (missing secret file/env, bad URL…); message names the fix."""


def _basic_auth(rw: RemoteWriteConfig) -> tuple[str, str] | None:
    if rw.basic_auth_username is None:
        return None
    if rw.basic_auth_password_file:
        try:
            return rw.basic_auth_username, Path(rw.basic_auth_password_file).read_text().strip()
        except OSError as exc:
            raise PublishError(f"cannot read remote_write.basic_auth_password_file: {exc.strerror}") from None
    if rw.basic_auth_password_env:
        value = os.environ.get(rw.basic_auth_password_env)
        if value is None:
            raise PublishError(f"environment variable {rw.basic_auth_password_env} "
                               "(remote_write.basic_auth_password_env) is not set")
        return rw.basic_auth_username, value
    raise PublishError("remote_write.basic_auth_username needs basic_auth_password_file or _env")


def make_sink(rw: RemoteWriteConfig, url: str | None = None) -> RemoteWriteSink:
    target = url or rw.url
    if not target:
        raise PublishError("no remote-write URL: pass --remote-write URL or set remote_write.url")
    try:
        return RemoteWriteSink(
            target, max_samples_per_request=rw.max_samples_per_request, max_retries=rw.max_retries,
            deadline_s=rw.deadline_s, timeout_s=rw.timeout_s, headers=rw.headers, basic_auth=_basic_auth(rw),
            bearer_token_file=rw.bearer_token_file, bearer_token_env=rw.bearer_token_env, ca_file=rw.ca_file,
            insecure_skip_verify=rw.insecure_skip_verify)
    except ValueError as exc:
        raise PublishError(f"remote-write: {exc}") from None


def push_counters(book: CounterBook, rw: RemoteWriteConfig, url: str | None = None,
                  extra: Iterable[Sample] = ()) -> DeliveryReport:
    """Send every exported sample of ``book`` (and ``extra``: the detectors' gauges); returns what was
    delivered and what was dropped, by reason."""
    sink = make_sink(rw, url)
    for labels, ts_ms, value in counter_samples(book.merged()):
        sink.add(labels, ts_ms, value)
    for labels, ts_ms, value in extra:
        sink.add(labels, ts_ms, value)
    return sink.close()


def _bearer(rw: RemoteWriteConfig) -> str | None:
    if rw.bearer_token_file:
        try:
            return Path(rw.bearer_token_file).read_text().strip()
        except OSError as exc:
            raise PublishError(f"cannot read remote_write.bearer_token_file: {exc.strerror}") from None
    if rw.bearer_token_env:
        return os.environ.get(rw.bearer_token_env)
    return None


@dataclass
class BackfillResult:
    """A push with its checks: warnings given before, the delivery, and the read-back after."""

    warnings: list[str]
    delivery: DeliveryReport
    readback: ReadbackReport
    target: Target


def backfill(book: CounterBook, rw: RemoteWriteConfig, url: str | None, extra: Iterable[Sample],
             now_ms: int, readback_timeout_s: float = 15.0) -> BackfillResult:
    """:func:`push_counters` between a probe of the receiver (warnings naming its settings) and a read-back
    of every series sent (streams/sinks/backfill.py). The read-back runs only when every sample was
    delivered (otherwise the delivery report already says what is missing)."""
    extra = list(extra)
    target_url = url or rw.url or ""
    expected = Expected()
    expected.add_all(counter_samples(book.merged()))
    expected.add_all(extra)
    t = target(rw, target_url, _basic_auth(rw), _bearer(rw)) if target_url else Target(None, ReceiverInfo("unknown"))
    found = prepare(t, expected, now_ms)
    delivery = push_counters(book, rw, url, extra)
    readback = confirm(t, expected, readback_timeout_s) if delivery.ok else ReadbackReport(skipped="not delivered")
    return BackfillResult(found, delivery, readback, t)
