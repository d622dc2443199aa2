"""Push a run's merged counters to a remote-write receiver (embedded and replay runs).

The receiver gets the series of ``streams.sinks.series`` with event-time stamps, so processing an old log
backfills history (Prometheus needs ``storage.tsdb.out_of_order_time_window`` for that; see
docs/remote-write.md). Secrets are read from files or environment variables named in the config.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from streams.config import RemoteWriteConfig
from streams.config.secrets import read_secret
from streams.core.merge import CounterBook
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
