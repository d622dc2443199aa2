"""Push a run's merged counters to a remote-write receiver (embedded and replay runs).

The receiver gets the series of ``streams.sinks.series`` with event-time stamps, so processing an old log
backfills history (Prometheus needs ``storage.tsdb.out_of_order_time_window`` for that; see
docs/remote-write.md). Secrets are read from files or environment variables named in the config.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from streams.config import RemoteWriteConfig
from streams.config.secrets import read_secret
from streams.core.merge import CounterBook
from streams.sinks.backfill import Target, confirm, prepare, target
from streams.sinks.readback import Expected, ReadbackReport
from streams.sinks.remote_write import DeliveryReport, RemoteWriteSink
from streams.sinks.series import Sample, counter_samples


class PublishError(Exception):
    """Remote-write settings that cannot work (no URL, a bad ``--remote-write`` URL…); message names the fix.
    A missing or unreadable secret is a :class:`~streams.config.ConfigError` (from ``read_secret``)."""


def _basic_auth(rw: RemoteWriteConfig) -> tuple[str, str] | None:
    if rw.basic_auth_username is None:
        return None
    # RemoteWriteConfig guarantees exactly one of the password file or variable.
    password = read_secret(file=rw.basic_auth_password_file, env=rw.basic_auth_password_env,
                           what="remote_write.basic_auth_password")
    assert password is not None
    return rw.basic_auth_username, password.get_secret_value()


def make_sink(rw: RemoteWriteConfig, url: str | None = None) -> RemoteWriteSink:
    """A sink for ``rw``, aimed at ``url`` (``--remote-write``) when given — validated like the config's."""
    try:
        rw = rw.with_url(url)
    except ValidationError as exc:
        # The problems only, never str(exc): pydantic would repeat the input, URL secrets included.
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise PublishError(f"--remote-write: {problems}") from None
    if not rw.url:
        raise PublishError("no remote-write URL: pass --remote-write URL or set remote_write.url")
    return RemoteWriteSink(
        rw.url, max_samples_per_request=rw.max_samples_per_request, max_retries=rw.max_retries,
        deadline_s=rw.deadline_s, timeout_s=rw.timeout_s, headers=rw.headers, basic_auth=_basic_auth(rw),
        bearer_token_file=rw.bearer_token_file, bearer_token_env=rw.bearer_token_env, ca_file=rw.ca_file,
        insecure_skip_verify=rw.insecure_skip_verify)


def _bearer(rw: RemoteWriteConfig) -> str | None:
    token = read_secret(file=rw.bearer_token_file, env=rw.bearer_token_env, what="remote_write.bearer_token")
    return None if token is None else token.get_secret_value()


@dataclass
class BackfillResult:
    """A push with its checks: warnings given before, the delivery, and the read-back after."""

    warnings: list[str]
    delivery: DeliveryReport
    readback: ReadbackReport
    target: Target


def backfill(book: CounterBook, rw: RemoteWriteConfig, url: str | None, extra: Iterable[Sample],
             now_ms: int, readback_timeout_s: float = 15.0) -> BackfillResult:
    """Send every exported sample of ``book`` and ``extra`` (the detectors' gauges and anomalies) between a
    probe of the receiver (warnings naming its settings) and a read-back of every series sent
    (streams/sinks/backfill.py). The read-back runs only when every sample was
    delivered (otherwise the delivery report already says what is missing)."""
    extra = list(extra)
    sink = make_sink(rw, url)  # validates the URL (and refuses inline credentials) before anything is sent
    merged = book.merged()
    expected = Expected()
    expected.add_all(counter_samples(merged))
    expected.add_all(extra)
    t = target(rw, sink.url, _basic_auth(rw), _bearer(rw))
    found = prepare(t, expected, now_ms)
    for labels, ts_ms, value in counter_samples(merged):
        sink.add(labels, ts_ms, value)
    for labels, ts_ms, value in extra:
        sink.add(labels, ts_ms, value)
    delivery = sink.close()
    readback = confirm(t, expected, readback_timeout_s) if delivery.ok else ReadbackReport(skipped="not delivered")
    return BackfillResult(found, delivery, readback, t)
