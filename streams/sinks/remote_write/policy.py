"""What to do with each answer: retry, split, or drop — and the accounting of every sample given up on.

Rules (remote-write 1.0 and what Prometheus 2.42 / VictoriaMetrics 1.79 do):

- batches go out one after another (a series split over two requests is never in flight twice);
- 5xx and 429 are retried with capped exponential backoff (``Retry-After`` of a 429 honoured, capped at
  ``max_backoff_s``) up to ``max_retries``, then the batch is dropped (``retries_exhausted``) — Prometheus
  answers 500 "too old sample" forever for a sample older than its out-of-order window;
- connection errors are retried until the flush's deadline; past it, every sample of the flush not yet
  delivered is dropped (``receiver_unreachable``) without further attempts;
- other 4xx are never retried. A 400/413 on a request of several samples is split in halves, recursively,
  so the good samples get through (Prometheus rejects a whole batch for one bad sample); a single rejected
  sample is dropped (``rejected_4xx``); any other non-2xx answer drops the batch (``rejected_other``).

Every dropped sample is counted under exactly one reason. Warnings are logged once per cause (reason and
error text) per flush, with the number of samples — never once per sample.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.sinks.remote_write.encode import compress, encode_series
from streams.sinks.remote_write.send import Answer

log = logging.getLogger("truesli.remote_write")

# Drop reasons (keys of DeliveryReport.dropped and RemoteWriteSink.dropped_total).
RETRIES_EXHAUSTED = "retries_exhausted"
REJECTED_4XX = "rejected_4xx"
REJECTED_OTHER = "rejected_other"  # a non-2xx answer that is neither 4xx nor retryable (1xx, 3xx)
RECEIVER_UNREACHABLE = "receiver_unreachable"

_SPLIT_STATUSES = frozenset((400, 413))

SeriesKey = tuple[tuple[str, str], ...]
# A batch: [(series key, encoded labels, [(ts, value), ...]), ...]
Batch = list[tuple[SeriesKey, bytes, list[tuple[int, float]]]]


@dataclass
class DeliveryReport:
    """What one ``flush`` (and the automatic flushes from ``add`` since the previous ``flush``) did.

    ``requests``: HTTP attempts (retries and split halves included, failed connections too);
    ``samples_sent``: samples acknowledged with 2xx; ``retries``: attempts that repeated a request;
    ``dropped``: samples given up on, by reason; ``last_error``: the most recent failure ("" if none), safe
    to print (see :meth:`.send.Sender.echo`).
    """

    requests: int = 0
    samples_sent: int = 0
    retries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    last_error: str = ""

    @property
    def samples_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def ok(self) -> bool:
        return not self.dropped

    def merge(self, other: DeliveryReport) -> None:
        self.requests += other.requests
        self.samples_sent += other.samples_sent
        self.retries += other.retries
        for reason, n in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n
        if other.last_error:
            self.last_error = other.last_error


def batch_samples(batch: Batch) -> int:
    return sum(len(s) for _, _, s in batch)


def make_batches(pending: dict[SeriesKey, tuple[bytes, dict[int, float]]], max_samples: int) -> list[Batch]:
    """``pending`` (series key → (encoded labels, {ts: value})) cut into batches of at most ``max_samples``
    samples: series sorted by labels, each series' samples in time order, a series may span two batches."""
    batches: list[Batch] = []
    batch: Batch = []
    room = max_samples
    for key in sorted(pending):
        lb, by_ts = pending[key]
        samples = sorted(by_ts.items())
        while samples:
            take, samples = samples[:room], samples[room:]
            batch.append((key, lb, take))
            room -= len(take)
            if room == 0:
                batches.append(batch)
                batch, room = [], max_samples
    if batch:
        batches.append(batch)
    return batches


def halves(batch: Batch) -> tuple[Batch, Batch]:
    """Split a batch of n >= 2 samples into two of n//2 and n - n//2, keeping order (a series may be
    cut in two; the halves are sent one after the other)."""
    want = batch_samples(batch) // 2
    first: Batch = []
    second: Batch = []
    for key, lb, samples in batch:
        if want <= 0:
            second.append((key, lb, samples))
        elif len(samples) <= want:
            first.append((key, lb, samples))
            want -= len(samples)
        else:
            first.append((key, lb, samples[:want]))
            second.append((key, lb, samples[want:]))
            want = 0
    return first, second


class _GiveUp(Exception):
    """The flush's deadline passed with the receiver unreachable: stop sending."""


@dataclass
class _Cause:
    samples: int = 0
    first: tuple[SeriesKey, int] | None = None  # the first single sample rejected for this cause


class DeliveryPolicy:
    """Delivers batches through ``post(body, deadline) -> Answer`` by the rules of the module docstring.

    ``clock`` (monotonic seconds) times the deadline; ``sleep`` waits between retries. Owns the cumulative
    counters the sink exposes: ``samples_sent_total``, ``dropped_total`` {reason: n}, ``retries_total``,
    ``requests_total``, ``last_error``.
    """

    def __init__(self, post: Callable[[bytes, float], Answer], *, max_retries: int, min_backoff_s: float,
                 max_backoff_s: float, deadline_s: float, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self._post = post
        self.max_retries = max_retries
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.deadline_s = deadline_s
        self._clock = clock
        self._sleep = sleep
        self.samples_sent_total = 0
        self.dropped_total: dict[str, int] = {}
        self.retries_total = 0
        self.requests_total = 0
        self.last_error = ""
        self._causes: dict[tuple[str, str], _Cause] = {}

    def deliver(self, batches: list[Batch]) -> DeliveryReport:
        """Send ``batches`` in order within one deadline of ``deadline_s``; returns what happened."""
        report = DeliveryReport()
        self._causes = {}
        deadline = self._clock() + self.deadline_s
        for i, b in enumerate(batches):
            try:
                self._deliver(b, report, deadline)
            except _GiveUp:
                rest = sum(batch_samples(x) for x in batches[i + 1:])
                if rest:
                    self._drop(report, RECEIVER_UNREACHABLE, rest, f"{self.last_error} (deadline passed)")
                break
        for (reason, error), cause in self._causes.items():
            first = ""
            if cause.first is not None:
                first = f"; first: {dict(cause.first[0])} @{cause.first[1]}"
            log.warning("remote write: %d samples dropped (%s): %s%s", cause.samples, reason, error, first)
        self._causes = {}
        return report

    def _drop(self, report: DeliveryReport, reason: str, n: int, error: str,
              sample: tuple[SeriesKey, int] | None = None) -> None:
        report.dropped[reason] = report.dropped.get(reason, 0) + n
        self.dropped_total[reason] = self.dropped_total.get(reason, 0) + n
        cause = self._causes.setdefault((reason, error), _Cause())
        cause.samples += n
        if cause.first is None and sample is not None:
            cause.first = sample

    def _fail(self, report: DeliveryReport, error: str) -> None:
        report.last_error = error
        self.last_error = error

    def _deliver(self, batch: Batch, report: DeliveryReport, deadline: float) -> None:
        """Send one batch with retries; split it on 400/413. Raises _GiveUp (after counting this batch)
        when the deadline passed with the receiver unreachable."""
        n = batch_samples(batch)
        body = compress(b"".join(encode_series(lb, samples) for _, lb, samples in batch))
        backoff = self.min_backoff_s
        retries = 0
        while True:
            ans = self._post(body, deadline)
            report.requests += 1
            self.requests_total += 1
            status = ans.status
            if status is not None and 200 <= status < 300:
                report.samples_sent += n
                self.samples_sent_total += n
                return
            self._fail(report, ans.error)
            if status is not None and status != 429 and not 500 <= status < 600:
                if status in _SPLIT_STATUSES and n > 1:
                    first, second = halves(batch)
                    try:
                        self._deliver(first, report, deadline)
                    except _GiveUp:
                        self._drop(report, RECEIVER_UNREACHABLE, batch_samples(second),
                                   f"{self.last_error} (deadline passed)")
                        raise
                    self._deliver(second, report, deadline)
                    return
                sample = (batch[0][0], batch[0][2][0][0]) if n == 1 else None
                self._drop(report, REJECTED_4XX if 400 <= status < 500 else REJECTED_OTHER, n, ans.error, sample)
                return
            unreachable = status is None
            if not unreachable and retries >= self.max_retries:
                self._drop(report, RETRIES_EXHAUSTED, n, f"{ans.error} (after {retries} retries)")
                return
            wait = backoff
            if ans.retry_after_s is not None:
                wait = min(ans.retry_after_s, self.max_backoff_s)
            remaining = deadline - self._clock()
            if remaining <= 0:
                reason = RECEIVER_UNREACHABLE if unreachable else RETRIES_EXHAUSTED
                self._drop(report, reason, n, f"{ans.error} (deadline passed)")
                if unreachable:
                    raise _GiveUp
                return
            self._sleep(min(wait, remaining))
            retries += 1
            report.retries += 1
            self.retries_total += 1
            backoff = min(backoff * 2, self.max_backoff_s)
