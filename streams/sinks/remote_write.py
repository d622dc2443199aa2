"""Prometheus remote-write 1.0 sink: hand-encoded protobuf ``WriteRequest``, snappy block compression, HTTP.

``RemoteWriteSink.add`` collects samples (one series = one sorted label set), ``flush`` sends them and
returns a ``DeliveryReport``. Rules follow the remote-write 1.0 spec and what the real receivers do
(Prometheus 2.42, VictoriaMetrics 1.79):

- every request carries the four protocol headers; extra headers never override them;
- series go out sorted by labels, the samples of one series in time order, requests one after another
  (a series split over two requests is never in flight twice);
- 5xx and 429 are retried with capped exponential backoff (``Retry-After`` of a 429 honoured, capped) up
  to ``max_retries``, then the batch is dropped (``retries_exhausted``) — Prometheus 2.42 answers 500
  "too old sample" forever for a sample older than its out-of-order window;
- connection errors are retried until the flush's ``deadline_s``; past it, every sample of the flush not
  yet delivered is dropped (``receiver_unreachable``) without further attempts;
- other 4xx are never retried. A 400/413 on a request of several samples is split in halves,
  recursively, so the good samples get through (Prometheus rejects a whole batch for one bad sample);
  a single rejected sample is dropped (``rejected_4xx``).

The sink is not thread-safe: one owner calls ``add``/``flush``.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import logging
import math
import os
import re
import ssl
import struct
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cramjam

log = logging.getLogger("truesli.remote_write")

Labels = Sequence[tuple[str, str]]
Samples = Sequence[tuple[int, float]]

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_U64 = (1 << 64) - 1

# Drop reasons (keys of DeliveryReport.dropped and RemoteWriteSink.dropped_total).
RETRIES_EXHAUSTED = "retries_exhausted"
REJECTED_4XX = "rejected_4xx"
REJECTED_OTHER = "rejected_other"  # a non-2xx answer that is neither 4xx nor retryable (1xx, 3xx)
RECEIVER_UNREACHABLE = "receiver_unreachable"

_PROTOCOL_HEADERS = ("Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version", "User-Agent")
_SPLIT_STATUSES = frozenset((400, 413))


# --------------------------------------------------------------------------------------------- encoding

def _varint(n: int) -> bytes:
    """Unsigned base-128 varint of ``n`` (0 <= n < 2**64)."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_pack_double = struct.Struct("<d").pack


def validate_labels(labels: Labels) -> None:
    """Raise ValueError unless ``labels`` are remote-write valid: ``__name__`` present, names sorted and
    unique, names and values non-empty, metric and label names well-formed."""
    prev = None
    has_name = False
    for item in labels:
        if len(item) != 2:
            raise ValueError(f"label {item!r} is not a (name, value) pair")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"label {name!r}={value!r}: name and value must be str")
        if not name:
            raise ValueError("empty label name")
        if not value:
            raise ValueError(f"label {name!r} has an empty value")
        if not LABEL_NAME_RE.fullmatch(name):
            raise ValueError(f"invalid label name {name!r}")
        if prev is not None:
            if name == prev:
                raise ValueError(f"duplicate label name {name!r}")
            if name < prev:
                raise ValueError(f"labels not sorted by name: {prev!r} before {name!r}")
        if name == "__name__":
            has_name = True
            if not METRIC_NAME_RE.fullmatch(value):
                raise ValueError(f"invalid metric name {value!r}")
        prev = name
    if not has_name:
        raise ValueError("labels have no __name__")


def encode_labels(labels: Labels) -> bytes:
    """The ``labels`` fields (TimeSeries field 1, repeated) of one series, after validation."""
    validate_labels(labels)
    parts = []
    for name, value in labels:
        nb = name.encode()
        vb = value.encode()  # UnicodeEncodeError (a ValueError) for lone surrogates
        body = b"\x0a" + _varint(len(nb)) + nb + b"\x12" + _varint(len(vb)) + vb
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(parts)


def _encode_samples(samples: Samples) -> bytes:
    """The ``samples`` fields (TimeSeries field 2, repeated); timestamps must strictly increase.

    proto3 leaves out fields equal to their default (value bits 0, timestamp 0), as the protobuf
    package does — the output is byte-identical to its serialization.
    """
    parts = []
    prev = None
    for item in samples:
        ts, value = item
        if type(ts) is not int:
            if isinstance(ts, bool) or not isinstance(ts, int):
                raise ValueError(f"timestamp {ts!r} is not an int (milliseconds)")
            ts = int(ts)
        if ts < _INT64_MIN or ts > _INT64_MAX:
            raise ValueError(f"timestamp {ts} out of int64 range")
        if prev is not None and ts <= prev:
            raise ValueError(f"samples not in strictly increasing timestamp order: {prev} then {ts}")
        prev = ts
        vbytes = _pack_double(float(value))
        body = b"" if vbytes == b"\x00" * 8 else b"\x09" + vbytes
        if ts:
            body += b"\x10" + _varint(ts & _U64)
        parts.append(b"\x12" + _varint(len(body)) + body)
    return b"".join(parts)


def _encode_series(label_bytes: bytes, samples: Samples) -> bytes:
    body = label_bytes + _encode_samples(samples)
    return b"\x0a" + _varint(len(body)) + body


def encode_write_request(series: Sequence[tuple[Labels, Samples]]) -> bytes:
    """A protobuf-encoded remote-write 1.0 ``WriteRequest`` of ``(labels, samples)`` pairs.

    ``labels``: (name, value) pairs already sorted by name; ``samples``: (timestamp_ms, value) pairs in
    strictly increasing timestamp order. Raises ValueError for anything the spec forbids.
    """
    return b"".join(_encode_series(encode_labels(labels), samples) for labels, samples in series)


def compress(body: bytes) -> bytes:
    """Snappy *block* format, as remote-write requires (the framed format is rejected as corrupt)."""
    return bytes(cramjam.snappy.compress_raw(body))


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("truesli")
        except PackageNotFoundError:
            return "0.0.0"
    except Exception:  # pragma: no cover - importlib.metadata always exists on 3.11
        return "0.0.0"


USER_AGENT = f"truesli/{_version()}"


# ----------------------------------------------------------------------------------------------- report

@dataclass
class DeliveryReport:
    """What one ``flush`` (and the automatic flushes from ``add`` since the previous ``flush``) did.

    ``requests``: HTTP attempts (retries and split halves included, failed connections too);
    ``samples_sent``: samples acknowledged with 2xx; ``retries``: attempts that repeated a request;
    ``dropped``: samples given up on, by reason; ``last_error``: the most recent failure ("" if none).
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


# A batch: [(series key, encoded labels, [(ts, value), ...]), ...]
_Batch = list[tuple[tuple[tuple[str, str], ...], bytes, list[tuple[int, float]]]]


def _batch_samples(batch: _Batch) -> int:
    return sum(len(s) for _, _, s in batch)


def _halves(batch: _Batch) -> tuple[_Batch, _Batch]:
    """Split a batch of n >= 2 samples into two of n//2 and n - n//2, keeping order (a series may be
    cut in two; the halves are sent one after the other)."""
    want = _batch_samples(batch) // 2
    first: _Batch = []
    second: _Batch = []
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
class _Answer:
    status: int | None  # None: no HTTP answer (connection error, timeout)
    error: str
    retry_after_s: float | None = None


def _parse_retry_after(value: str | None, now_wall: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
        return max(secs, 0.0) if math.isfinite(secs) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - now_wall, 0.0)


# ------------------------------------------------------------------------------------------------- sink

class RemoteWriteSink:
    """Collects samples and delivers them to a remote-write 1.0 receiver (see the module docstring).

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
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"remote-write url must be http(s)://host[:port]/path, got {url!r}")
        if parts.username or parts.password:
            raise ValueError("remote-write url must not carry credentials: use basic_auth")
        if max_samples_per_request < 1:
            raise ValueError("max_samples_per_request must be >= 1")
        if max_retries < 0 or min_backoff_s < 0 or max_backoff_s < min_backoff_s:
            raise ValueError("need max_retries >= 0 and 0 <= min_backoff_s <= max_backoff_s")
        if deadline_s <= 0 or timeout_s <= 0 or max_age_s < 0:
            raise ValueError("deadline_s and timeout_s must be > 0, max_age_s >= 0")
        auths = [a for a in (basic_auth, bearer_token, bearer_token_file, bearer_token_env) if a is not None]
        if len(auths) > 1:
            raise ValueError("configure at most one of basic_auth, bearer_token, bearer_token_file, "
                             "bearer_token_env")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.max_samples_per_request = max_samples_per_request
        self.max_age_s = max_age_s
        self.max_retries = max_retries
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.deadline_s = deadline_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._sleep = sleep

        reserved = {h.lower() for h in _PROTOCOL_HEADERS}
        extra = dict(headers or {})
        for name in extra:
            if name.lower() in reserved:
                raise ValueError(f"header {name!r} is set by the protocol and cannot be overridden")
            if name.lower() == "authorization" and auths:
                raise ValueError("an Authorization header conflicts with the configured auth")
        self._extra_headers = extra

        self._auth_header: str | None = None
        self._token_file = bearer_token_file
        if basic_auth is not None:
            user, password = basic_auth
            self._auth_header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        elif bearer_token is not None:
            self._auth_header = f"Bearer {bearer_token}"
        elif bearer_token_env is not None:
            token = os.environ.get(bearer_token_env)
            if not token:
                raise ValueError(f"bearer token environment variable {bearer_token_env} is not set")
            self._auth_header = f"Bearer {token.strip()}"
        elif bearer_token_file is not None:
            self._auth_header = f"Bearer {self._read_token_file()}"

        self._ssl: ssl.SSLContext | None = None
        if self._https:
            ctx = ssl.create_default_context(cafile=ca_file)
            if cert_file:
                ctx.load_cert_chain(cert_file, key_file)
            if insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        elif ca_file or cert_file or insecure_skip_verify:
            raise ValueError("TLS options need an https:// url")
        self._conn: http.client.HTTPConnection | None = None
        self._conn_used = False

        # pending: series key -> (encoded labels, {ts: value})
        self._pending: dict[tuple[tuple[str, str], ...], tuple[bytes, dict[int, float]]] = {}
        self._pending_count = 0
        self._oldest_pending_at: float | None = None
        self._report = DeliveryReport()

        self.samples_sent_total = 0
        self.dropped_total: dict[str, int] = {}
        self.retries_total = 0
        self.requests_total = 0
        self.replaced_total = 0
        self.last_error = ""

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
        if isinstance(ts_ms, bool) or not isinstance(ts_ms, int) or not _INT64_MIN <= ts_ms <= _INT64_MAX:
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
            if _pack_double(old) != _pack_double(value):
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
        self._close_conn()
        return report

    # ------------------------------------------------------------------ sending

    def _send_pending(self) -> DeliveryReport:
        report = DeliveryReport()
        if not self._pending_count:
            return report
        pending = self._pending
        self._pending = {}
        self._pending_count = 0
        self._oldest_pending_at = None
        batches: list[_Batch] = []
        batch: _Batch = []
        room = self.max_samples_per_request
        for key in sorted(pending):
            lb, by_ts = pending[key]
            samples = sorted(by_ts.items())
            while samples:
                take, samples = samples[:room], samples[room:]
                batch.append((key, lb, take))
                room -= len(take)
                if room == 0:
                    batches.append(batch)
                    batch, room = [], self.max_samples_per_request
        if batch:
            batches.append(batch)
        deadline = self._clock() + self.deadline_s
        for i, b in enumerate(batches):
            try:
                self._deliver(b, report, deadline)
            except _GiveUp:
                rest = sum(_batch_samples(x) for x in batches[i + 1:])
                if rest:
                    self._drop(report, RECEIVER_UNREACHABLE, rest)
                break
        return report

    def _drop(self, report: DeliveryReport, reason: str, n: int) -> None:
        report.dropped[reason] = report.dropped.get(reason, 0) + n
        self.dropped_total[reason] = self.dropped_total.get(reason, 0) + n

    def _fail(self, report: DeliveryReport, error: str) -> None:
        report.last_error = error
        self.last_error = error

    def _deliver(self, batch: _Batch, report: DeliveryReport, deadline: float) -> None:
        """Send one batch with retries; split it on 400/413. Raises _GiveUp (after counting this batch)
        when the deadline passed with the receiver unreachable."""
        n = _batch_samples(batch)
        body = compress(b"".join(_encode_series(lb, samples) for _, lb, samples in batch))
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
                    first, second = _halves(batch)
                    try:
                        self._deliver(first, report, deadline)
                    except _GiveUp:
                        self._drop(report, RECEIVER_UNREACHABLE, _batch_samples(second))
                        raise
                    self._deliver(second, report, deadline)
                    return
                if n == 1:
                    key, _, samples = batch[0]
                    log.warning("remote write: sample %s @%d rejected: %s", dict(key), samples[0][0], ans.error)
                self._drop(report, REJECTED_4XX if 400 <= status < 500 else REJECTED_OTHER, n)
                return
            unreachable = status is None
            if not unreachable and retries >= self.max_retries:
                log.warning("remote write: %d samples dropped after %d retries: %s", n, retries, ans.error)
                self._drop(report, RETRIES_EXHAUSTED, n)
                return
            wait = backoff
            if ans.retry_after_s is not None:
                wait = min(ans.retry_after_s, self.max_backoff_s)
            remaining = deadline - self._clock()
            if remaining <= 0:
                reason = RECEIVER_UNREACHABLE if unreachable else RETRIES_EXHAUSTED
                log.warning("remote write: deadline passed, %d samples dropped (%s): %s", n, reason, ans.error)
                self._drop(report, reason, n)
                if unreachable:
                    raise _GiveUp
                return
            self._sleep(min(wait, remaining))
            retries += 1
            report.retries += 1
            self.retries_total += 1
            backoff = min(backoff * 2, self.max_backoff_s)

    def _headers(self, length: int) -> dict[str, str]:
        headers = dict(self._extra_headers)
        if self._token_file is not None:
            try:
                self._auth_header = f"Bearer {self._read_token_file()}"  # re-read: tokens rotate
            except (OSError, ValueError) as exc:
                log.warning("remote write: keeping the previous bearer token: %s", exc)
        if self._auth_header is not None:
            headers["Authorization"] = self._auth_header
        headers["Content-Encoding"] = "snappy"
        headers["Content-Type"] = "application/x-protobuf"
        headers["X-Prometheus-Remote-Write-Version"] = "0.1.0"
        headers["User-Agent"] = USER_AGENT
        headers["Content-Length"] = str(length)
        return headers

    def _read_token_file(self) -> str:
        with open(self._token_file, encoding="utf-8") as f:  # type: ignore[arg-type]
            token = f.read().strip()
        if not token:
            raise ValueError(f"bearer token file {self._token_file} is empty")
        return token

    def _new_conn(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: bytes, deadline: float) -> _Answer:
        timeout = max(min(self.timeout_s, deadline - self._clock()), 0.1)
        headers = self._headers(len(body))
        for fresh_retry in (False, True):
            reused = self._conn is not None and self._conn_used
            if self._conn is None:
                self._conn = self._new_conn(timeout)
                self._conn_used = False
            elif self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            conn = self._conn
            conn.timeout = timeout
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._close_conn()
                if reused and not fresh_retry:
                    continue  # the receiver closed an idle keep-alive connection: once more, fresh
                return _Answer(None, f"connection to {self.url} failed: {type(exc).__name__}: {exc}")
            except (OSError, http.client.HTTPException) as exc:
                self._close_conn()
                return _Answer(None, f"connection to {self.url} failed: {type(exc).__name__}: {exc}")
            self._conn_used = True
            if resp.will_close:
                self._close_conn()
            status = resp.status
            if 200 <= status < 300:
                return _Answer(status, "")
            text = payload[:512].decode("utf-8", "replace").strip()
            retry_after = _parse_retry_after(resp.getheader("Retry-After"), time.time()) if status == 429 else None
            return _Answer(status, f"HTTP {status}: {text}", retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
