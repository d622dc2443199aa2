"""``RemoteWriteSink``: collects samples and hands them, batched, to the delivery policy.

``add`` collects samples (one series = one sorted label set), ``flush`` sends them and returns a
``DeliveryReport``. Encoding is :mod:`.encode`, HTTP/TLS/auth :mod:`.send`, retry/split/drop :mod:`.policy`.
The settings are trusted: :class:`~streams.config.RemoteWriteConfig` validated them (URL, headers, one auth
method, TLS needing https, positive limits) — build sinks from a config with ``streams.sinks.publish.make_sink``.
The sink is not thread-safe: one owner calls ``add``/``flush``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from streams.sinks.remote_write.encode import INT64_MAX, INT64_MIN, encode_labels, pack_double
from streams.sinks.remote_write.policy import DeliveryPolicy, DeliveryReport, SeriesKey, make_batches
from streams.sinks.remote_write.send import Sender


class RemoteWriteSink:
    """Collects samples and delivers them to a remote-write 1.0 receiver.

    ``clock`` (monotonic seconds) times ``max_age_s`` and ``deadline_s``; ``sleep`` waits between
    retries — inject both for tests. Counters (cumulative, for /metrics): ``samples_sent_total``,
    ``dropped_total`` {reason: n}, ``retries_total``, ``requests_total``, ``replaced_total`` (pending
    samples overwritten by a different value for the same series and timestamp — the newer wins).
    """

    def __init__(
        self,
        url: str,
        *,
        max_samples_per_request: int = 2_000,
        max_age_s: float = 5.0,
        max_retries: int = 8,
        min_backoff_s: float = 0.030,
        max_backoff_s: float = 5.0,
        deadline_s: float = 60.0,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        bearer_token_file: str | None = None,
        bearer_token_env: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        insecure_skip_verify: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.max_samples_per_request = max_samples_per_request
        self.max_age_s = max_age_s
        self._clock = clock
        self.sender = Sender(url, timeout_s=timeout_s, headers=headers, basic_auth=basic_auth,
                             bearer_token=bearer_token, bearer_token_file=bearer_token_file,
                             bearer_token_env=bearer_token_env, ca_file=ca_file, cert_file=cert_file,
                             key_file=key_file, insecure_skip_verify=insecure_skip_verify, clock=clock)
        self.policy = DeliveryPolicy(self.sender.post, max_retries=max_retries, min_backoff_s=min_backoff_s,
                                     max_backoff_s=max_backoff_s, deadline_s=deadline_s, clock=clock, sleep=sleep)
        # pending: series key -> (encoded labels, {ts: value})
        self._pending: dict[SeriesKey, tuple[bytes, dict[int, float]]] = {}
        self._pending_count = 0
        self._oldest_pending_at: float | None = None
        self._report = DeliveryReport()
        self.replaced_total = 0

    # ------------------------------------------------------------------ counters (the policy's)

    @property
    def samples_sent_total(self) -> int:
        return self.policy.samples_sent_total

    @property
    def dropped_total(self) -> dict[str, int]:
        return self.policy.dropped_total

    @property
    def retries_total(self) -> int:
        return self.policy.retries_total

    @property
    def requests_total(self) -> int:
        return self.policy.requests_total

    @property
    def last_error(self) -> str:
        return self.policy.last_error

    # ------------------------------------------------------------------ collecting

    @property
    def pending(self) -> int:
        """Samples collected and not yet sent."""
        return self._pending_count

    def add(self, labels: Mapping[str, str], ts_ms: int, value: float) -> None:
        """Collect one sample of the series ``labels`` (must include ``__name__``). An identical sample
        (same series, timestamp and value) already pending is ignored; a different value for a pending
        (series, timestamp) replaces it. May flush (and so block on the network) when
        ``max_samples_per_request`` samples are pending or the oldest pending one waited ``max_age_s``.
        Raises ValueError for invalid labels or timestamps (nothing is collected then)."""
        if isinstance(ts_ms, bool) or not isinstance(ts_ms, int) or not INT64_MIN <= ts_ms <= INT64_MAX:
            raise ValueError(f"timestamp {ts_ms!r} is not an int64 of milliseconds")
        value = float(value)
        key = tuple(sorted(labels.items()))
        entry = self._pending.get(key)
        if entry is None:
            entry = (encode_labels(key), {})
            self._pending[key] = entry
        samples = entry[1]
        old = samples.get(ts_ms)
        if old is not None:
            if pack_double(old) != pack_double(value):
                samples[ts_ms] = value
                self.replaced_total += 1
            return
        samples[ts_ms] = value
        self._pending_count += 1
        now = self._clock()
        if self._oldest_pending_at is None:
            self._oldest_pending_at = now
        if (self._pending_count >= self.max_samples_per_request
                or now - self._oldest_pending_at >= self.max_age_s):
            self._report.merge(self._send_pending())

    def flush_if_due(self) -> DeliveryReport | None:
        """Flush when the oldest pending sample waited ``max_age_s`` (for callers with quiet periods);
        returns the report as ``flush`` would, or None when nothing was due."""
        if self._oldest_pending_at is not None and self._clock() - self._oldest_pending_at >= self.max_age_s:
            return self.flush()
        return None

    def flush(self) -> DeliveryReport:
        """Send everything pending. Returns what this call and the automatic flushes since the previous
        ``flush`` did."""
        report = self._report
        report.merge(self._send_pending())
        self._report = DeliveryReport()
        return report

    def close(self) -> DeliveryReport:
        report = self.flush()
        self.sender.close()
        return report

    def _send_pending(self) -> DeliveryReport:
        if not self._pending_count:
            return DeliveryReport()
        pending = self._pending
        self._pending = {}
        self._pending_count = 0
        self._oldest_pending_at = None
        return self.policy.deliver(make_batches(pending, self.max_samples_per_request))
