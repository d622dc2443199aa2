"""RemoteWriteSink on the wire: cases ported from the prometheus/compliance sender suite, against an
in-process HTTP receiver that records every request (decoded with the official protobuf package) and
answers with scripted statuses. A fake clock makes backoffs and deadlines instant and exact."""

from __future__ import annotations

import base64
import http.server
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import cramjam
import pytest

from streams.config import ConfigError
from streams.sinks.remote_write import DeliveryReport, RemoteWriteSink
from tests.unit.sinks.test_remote_write_encoding import write_request_class

WriteRequest = write_request_class()
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PROTOCOL_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"truesli/{version('truesli')}",
}

Series = tuple[tuple[tuple[str, str], ...], tuple[tuple[int, float], ...]]


@dataclass
class Received:
    headers: dict[str, str]
    series: list[Series]
    status: int = 0

    @property
    def samples(self) -> list[tuple[tuple[tuple[str, str], ...], int, float]]:
        return [(labels, ts, v) for labels, samples in self.series for ts, v in samples]


Reply = tuple[int, dict[str, str]]


@dataclass
class Receiver:
    """A remote-write receiver in a thread. ``reply(request) -> (status, headers)``; by default the
    statuses in ``script`` are used in order, then 204. Status 0: close the connection, no answer.
    ``body(request)``, when set, is the body of every non-204 answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    reply: Callable[[Received], Reply] | None = None
    body: Callable[[Received], bytes] | None = None  # the answer's body (default: "status N")

    def accepted(self) -> list[tuple[tuple[tuple[str, str], ...], int, float]]:
        """Every sample of every 2xx-answered request, in arrival order."""
        return [s for r in self.requests if 200 <= r.status < 300 for s in r.samples]


def _decode(body: bytes) -> list[Series]:
    req = WriteRequest()
    req.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
    return [(tuple((lb.name, lb.value) for lb in ts.labels), tuple((s.timestamp, s.value) for s in ts.samples))
            for ts in req.timeseries]


class _QuietServer(http.server.ThreadingHTTPServer):
    """The test receiver: a client refusing its certificate or hanging up mid-request is what some tests
    make the sink do, not a server error to print (socketserver prints a traceback for each)."""

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _start_receiver(tls: tuple[str, str] | None = None) -> tuple[Receiver, http.server.HTTPServer]:
    rec = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            r = Received(headers=dict(self.headers.items()), series=_decode(body))
            if rec.reply is not None:
                status, headers = rec.reply(r)
            elif rec.script:
                status, headers = rec.script.pop(0)
            else:
                status, headers = 204, {}
            r.status = status
            rec.requests.append(r)
            if status == 0:  # hang up without an answer
                self.close_connection = True
                return
            payload = b"" if status == 204 else rec.body(r) if rec.body else f"status {status}".encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client read what it wanted of a long body and hung up

        def log_message(self, *args) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    rec.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/api/v1/write"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return rec, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = _start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 9))
        self.now += s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_sink(url: str, clock: FakeClock, **kw) -> RemoteWriteSink:
    kw.setdefault("max_age_s", 1e9)
    return RemoteWriteSink(url, clock=clock, sleep=clock.sleep, **kw)


def L(name: str, **labels: str) -> tuple[tuple[str, str], ...]:  # noqa: N802
    return tuple(sorted({"__name__": name, **labels}.items()))


def report(requests=0, samples_sent=0, retries=0, dropped=None, last_error="") -> DeliveryReport:
    return DeliveryReport(requests=requests, samples_sent=samples_sent, retries=retries, dropped=dropped or {},
                          last_error=last_error)


# ------------------------------------------------------------------------------------------ wire format

def test_protocol_headers_exact_and_extra_headers(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock, headers={"X-Scope-OrgID": "tenant-1"})
    sink.add({"__name__": "up"}, T0, 1.0)
    assert sink.flush() == report(requests=1, samples_sent=1)
    (req,) = receiver.requests
    for name, value in PROTOCOL_HEADERS.items():
        assert req.headers[name] == value
    assert req.headers["X-Scope-OrgID"] == "tenant-1"
    assert "Authorization" not in req.headers
    assert PROTOCOL_HEADERS["User-Agent"] == "truesli/0.1.0"


def test_labels_sorted_unique_nonempty_with_name(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock)
    sink.add({"zone": "eu", "slo": "availability", "__name__": "truesli_sli_total", "journey": "checkout"}, T0, 5.0)
    sink.flush()
    (req,) = receiver.requests
    ((labels, samples),) = req.series
    assert labels == (("__name__", "truesli_sli_total"), ("journey", "checkout"), ("slo", "availability"),
                      ("zone", "eu"))
    assert samples == ((T0, 5.0),)


@pytest.mark.parametrize("labels, message", [
    ({"job": "a"}, "no __name__"),
    ({"__name__": "m", "job": ""}, "empty value"),
    ({"__name__": "m", "": "x"}, "empty label name"),
    ({"__name__": "0m"}, "invalid metric name"),
    ({"__name__": "m", "bad-name": "x"}, "invalid label name"),
])
def test_invalid_labels_rejected_at_add(labels: dict, message: str, clock: FakeClock) -> None:
    sink = make_sink("http://127.0.0.1:9/api/v1/write", clock)
    with pytest.raises(ValueError, match=message):
        sink.add(labels, T0, 1.0)
    assert sink.pending == 0


def test_invalid_timestamp_rejected_at_add(clock: FakeClock) -> None:
    sink = make_sink("http://127.0.0.1:9/api/v1/write", clock)
    for ts in (1.5, True, 1 << 63):
        with pytest.raises(ValueError, match="int64 of milliseconds"):
            sink.add({"__name__": "m"}, ts, 1.0)  # type: ignore[arg-type]
    assert sink.pending == 0


def test_series_order_and_per_series_time_order(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock, max_samples_per_request=4)
    adds = [("b", 3), ("a", 2), ("b", 1), ("a", 1), ("c", 1), ("b", 2), ("a", 3), ("b", 2), ("c", 1)]
    for s, i in adds[:3]:
        sink.add({"__name__": "m", "s": s}, T0 + i * 1000, float(i))
    assert sink.pending == 3 and receiver.requests == []
    for s, i in adds[3:]:  # the 4th distinct sample fills a request: automatic flush
        sink.add({"__name__": "m", "s": s}, T0 + i * 1000, float(i))
    rep = sink.flush()
    assert rep == report(requests=2, samples_sent=7)
    got = [[(dict(lb)["s"], [(ts - T0) // 1000 for ts, _ in smp]) for lb, smp in r.series] for r in receiver.requests]
    # first request: the four samples pending when it filled up (a1, a2, b1, b3), sorted by labels and time;
    # second: the rest. The identical duplicates of pending samples (b@2, c@1 again) were ignored.
    assert got == [[("a", [1, 2]), ("b", [1, 3])], [("a", [3]), ("b", [2]), ("c", [1])]]


def test_series_split_over_sequential_requests(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock, max_samples_per_request=1000)
    for i in range(5):
        sink.add({"__name__": "m", "s": "b"}, T0 + i, float(i))
    for i in range(4, -1, -1):
        sink.add({"__name__": "m", "s": "a"}, T0 + i, float(i))
    sink.max_samples_per_request = 3
    assert sink.flush() == report(requests=4, samples_sent=10)
    sizes = [[(dict(lb)["s"], len(smp)) for lb, smp in r.series] for r in receiver.requests]
    assert sizes == [[("a", 3)], [("a", 2), ("b", 1)], [("b", 3)], [("b", 1)]]
    per_series: dict[str, list[int]] = {}
    for labels, ts, _ in receiver.accepted():
        per_series.setdefault(dict(labels)["s"], []).append(ts - T0)
    assert per_series == {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3, 4]}


def test_same_timestamp_new_value_replaces_pending(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    sink.add({"__name__": "m"}, T0, 1.0)
    sink.add({"__name__": "m"}, T0, 2.0)
    assert sink.pending == 1 and sink.replaced_total == 1
    sink.flush()
    assert receiver.accepted() == [(L("m"), T0, 2.0)]


def test_flush_on_max_age(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock, max_age_s=5.0)
    sink.add({"__name__": "m"}, T0, 1.0)
    clock.now += 4.9
    sink.add({"__name__": "m"}, T0 + 1, 2.0)
    assert sink.flush_if_due() is None and receiver.requests == []
    clock.now += 0.1
    sink.add({"__name__": "m"}, T0 + 2, 3.0)  # the oldest pending sample is now 5 s old
    assert [r.samples for r in receiver.requests] == [[(L("m"), T0, 1.0), (L("m"), T0 + 1, 2.0), (L("m"), T0 + 2, 3.0)]]
    sink.add({"__name__": "m"}, T0 + 3, 4.0)
    clock.now += 5.0
    assert sink.flush_if_due() == report(requests=2, samples_sent=4)  # the automatic flush is reported too
    assert sink.flush() == report()


def test_empty_flush_sends_nothing(receiver: Receiver, clock: FakeClock) -> None:
    assert make_sink(receiver.url, clock).flush() == report()
    assert receiver.requests == []


# -------------------------------------------------------------------------------------------- retries

def test_500_retried_and_sample_arrives_exactly_once(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(500, {}), (503, {})]
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 7.0)
    assert sink.flush() == report(requests=3, samples_sent=1, retries=2, last_error="HTTP 503: status 503")
    assert [r.status for r in receiver.requests] == [500, 503, 204]
    assert receiver.accepted() == [(L("m"), T0, 7.0)]
    assert clock.sleeps == [0.03, 0.06]
    assert (sink.requests_total, sink.retries_total, sink.samples_sent_total, sink.dropped_total) == (3, 2, 1, {})


def test_429_retried_honouring_retry_after_capped(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(429, {"Retry-After": "2"}), (429, {"Retry-After": "3600"}), (429, {})]
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    assert sink.flush() == report(requests=4, samples_sent=1, retries=3, last_error="HTTP 429: status 429")
    assert clock.sleeps == [2.0, 5.0, 0.12]  # Retry-After, Retry-After capped at max_backoff_s, backoff
    assert receiver.accepted() == [(L("m"), T0, 1.0)]


def test_backoff_doubles_to_cap_then_drops(receiver: Receiver, clock: FakeClock) -> None:
    receiver.reply = lambda r: (500, {})
    sink = make_sink(receiver.url, clock, max_retries=10)
    for i in range(3):
        sink.add({"__name__": "m", "i": str(i)}, T0, 1.0)
    assert sink.flush() == report(requests=11, retries=10, dropped={"retries_exhausted": 3},
                                  last_error="HTTP 500: status 500")
    assert clock.sleeps == [0.03, 0.06, 0.12, 0.24, 0.48, 0.96, 1.92, 3.84, 5.0, 5.0]
    assert sink.dropped_total == {"retries_exhausted": 3}


def test_default_retry_cap_is_8(receiver: Receiver, clock: FakeClock) -> None:
    receiver.reply = lambda r: (500, {})
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    rep = sink.flush()
    assert (rep.requests, rep.retries, rep.dropped) == (9, 8, {"retries_exhausted": 1})
    # the next flush starts afresh: a recovered receiver gets the new samples
    receiver.reply = None
    sink.add({"__name__": "m"}, T0 + 1, 2.0)
    assert sink.flush() == report(requests=1, samples_sent=1)
    assert receiver.accepted() == [(L("m"), T0 + 1, 2.0)]


def test_400_not_retried_and_never_resent(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(400, {})]
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    assert sink.flush() == report(requests=1, dropped={"rejected_4xx": 1}, last_error="HTTP 400: status 400")
    sink.add({"__name__": "m"}, T0 + 1, 2.0)
    sink.flush()
    assert [r.samples for r in receiver.requests] == [[(L("m"), T0, 1.0)], [(L("m"), T0 + 1, 2.0)]]
    assert clock.sleeps == []


def test_400_splits_batch_and_delivers_the_good_samples(receiver: Receiver, clock: FakeClock) -> None:
    bad = (L("m", s="b"), T0 + 3, 3.0)
    receiver.reply = lambda r: (400, {}) if bad in r.samples else (204, {})
    sink = make_sink(receiver.url, clock)
    for s in "ab":
        for i in range(4):
            sink.add({"__name__": "m", "s": s}, T0 + i, float(i))
    assert sink.flush() == report(requests=7, samples_sent=7, dropped={"rejected_4xx": 1},
                                  last_error="HTTP 400: status 400")
    assert [(len(r.samples), r.status) for r in receiver.requests] == [(8, 400), (4, 204), (4, 400), (2, 204),
                                                                       (2, 400), (1, 204), (1, 400)]
    good = [(L("m", s=s), T0 + i, float(i)) for s in "ab" for i in range(4) if (s, i) != ("b", 3)]
    assert receiver.accepted() == good
    assert clock.sleeps == []


def test_other_4xx_dropped_whole_without_split(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(401, {})]
    sink = make_sink(receiver.url, clock)
    for i in range(3):
        sink.add({"__name__": "m"}, T0 + i, 1.0)
    assert sink.flush() == report(requests=1, dropped={"rejected_4xx": 3}, last_error="HTTP 401: status 401")


def test_split_halves_are_retried_on_5xx(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(400, {}), (503, {})]
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    sink.add({"__name__": "m"}, T0 + 1, 2.0)
    assert sink.flush() == report(requests=4, samples_sent=2, retries=1, last_error="HTTP 503: status 503")
    assert receiver.accepted() == [(L("m"), T0, 1.0), (L("m"), T0 + 1, 2.0)]


def _closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/api/v1/write"


def test_unreachable_receiver_past_deadline(clock: FakeClock) -> None:
    sink = make_sink(_closed_port_url(), clock, deadline_s=1.0, max_retries=2)
    for i in range(3):
        sink.add({"__name__": "m"}, T0 + i, 1.0)
    sink.add({"__name__": "n"}, T0, 1.0)
    sink.add({"__name__": "n", "x": "1"}, T0, 1.0)
    sink.max_samples_per_request = 2  # three requests: 2 + 2 + 1 samples
    rep = sink.flush()
    # Connection errors are retried until the deadline, not bounded by max_retries: attempts at
    # t = 0, .03, .09, .21, .45, .93 and, the last wait cut to the deadline, 1.0; then the flush gives up
    # and the two requests not attempted yet are counted too.
    assert clock.sleeps == [0.03, 0.06, 0.12, 0.24, 0.48, 0.07]
    assert (rep.requests, rep.retries, rep.samples_sent, rep.dropped) == (7, 6, 0, {"receiver_unreachable": 5})
    assert rep.last_error.startswith("connection to http://127.0.0.1:")
    assert "ConnectionRefusedError" in rep.last_error
    assert (sink.requests_total, sink.retries_total, sink.dropped_total) == (7, 6, {"receiver_unreachable": 5})
    assert sink.pending == 0


def test_unreachable_reported_by_the_next_flush(clock: FakeClock) -> None:
    sink = make_sink(_closed_port_url(), clock, deadline_s=0.05, max_samples_per_request=2)
    for i in range(3):
        sink.add({"__name__": "m"}, T0 + i, 1.0)  # the first two fill a request: flushed from add
    assert sink.pending == 1
    rep = sink.flush()
    assert (rep.requests, rep.retries, rep.dropped) == (6, 4, {"receiver_unreachable": 3})
    assert sink.flush() == report()


def test_receiver_gone_while_splitting(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(400, {})]
    receiver.reply = lambda r: receiver.script.pop(0) if receiver.script else (0, {})
    sink = make_sink(receiver.url, clock, deadline_s=0.05)
    for i in range(4):
        sink.add({"__name__": "m"}, T0 + i, 1.0)
    rep = sink.flush()
    # 400 → split; the first half meets a receiver that hangs up (t = 0, .03, .05), then gives up:
    # both halves are counted, the second without an attempt.
    assert (rep.requests, rep.retries, rep.samples_sent, rep.dropped) == (4, 2, 0, {"receiver_unreachable": 4})
    assert "RemoteDisconnected" in rep.last_error
    assert clock.sleeps == [0.03, 0.02]


def test_deadline_bounds_5xx_retries(receiver: Receiver, clock: FakeClock) -> None:
    receiver.reply = lambda r: (503, {})
    sink = make_sink(receiver.url, clock, deadline_s=0.1, max_retries=100)
    sink.add({"__name__": "m"}, T0, 1.0)
    assert sink.flush() == report(requests=4, retries=3, dropped={"retries_exhausted": 1},
                                  last_error="HTTP 503: status 503")
    assert clock.sleeps == [0.03, 0.06, 0.01]


# ----------------------------------------------------------------------------------------------- auth

def test_basic_auth(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock, basic_auth=("alice", "s3cr:t"))
    sink.add({"__name__": "m"}, T0, 1.0)
    sink.flush()
    assert receiver.requests[0].headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cr:t").decode()


def test_bearer_literal_file_and_env(receiver: Receiver, clock: FakeClock, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("TRUESLI_TEST_RW_TOKEN", "from-env")
    sinks = [make_sink(receiver.url, clock, bearer_token="literal"),
             make_sink(receiver.url, clock, bearer_token_file=str(token_file)),
             make_sink(receiver.url, clock, bearer_token_env="TRUESLI_TEST_RW_TOKEN")]
    for sink in sinks:
        sink.add({"__name__": "m"}, T0, 1.0)
        sink.flush()
    token_file.write_text("rotated")  # the file is read again for every request
    sinks[1].add({"__name__": "m"}, T0 + 1, 1.0)
    sinks[1].flush()
    assert [r.headers["Authorization"] for r in receiver.requests] == [
        "Bearer literal", "Bearer from-file", "Bearer from-env", "Bearer rotated"]


def test_secret_sources_that_cannot_be_read_are_one_config_error(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/api/v1/write"
    monkeypatch.delenv("TRUESLI_TEST_RW_MISSING", raising=False)
    monkeypatch.setenv("TRUESLI_TEST_RW_BLANK", " \n")
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError) as exc:
        RemoteWriteSink(url, bearer_token_env="TRUESLI_TEST_RW_MISSING")
    assert str(exc.value) == ("remote_write.bearer_token_env: environment variable TRUESLI_TEST_RW_MISSING "
                              "is not set")
    with pytest.raises(ConfigError) as exc:
        RemoteWriteSink(url, bearer_token_env="TRUESLI_TEST_RW_BLANK")
    assert str(exc.value) == "remote_write.bearer_token_env: environment variable TRUESLI_TEST_RW_BLANK is empty"
    with pytest.raises(ConfigError) as exc:
        RemoteWriteSink(url, bearer_token_file=str(missing))
    assert str(exc.value) == f"remote_write.bearer_token_file: cannot read {missing}: No such file or directory"
    with pytest.raises(ConfigError) as exc:
        RemoteWriteSink("https://127.0.0.1:9/api/v1/write", ca_file=str(tmp_path / "ca.pem"))
    assert str(exc.value) == f"remote_write.ca_file: cannot load {tmp_path / 'ca.pem'}: No such file or directory"


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    # The TLS tests need the openssl command line tool (Debian's `openssl` package): without it they fail,
    # naming it — they never skip.
    try:
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, text=True)
    except FileNotFoundError:
        pytest.fail("the `openssl` command is missing: install Debian's openssl package to make the TLS test "
                    "certificate")
    if r.returncode != 0:
        pytest.fail(f"`openssl req -x509` could not make the TLS test certificate (exit {r.returncode}): {r.stderr}")
    return cert, key


def test_tls_with_custom_ca_and_insecure_skip_verify(tls_cert: tuple[str, str], clock: FakeClock) -> None:
    rec, server = _start_receiver(tls=tls_cert)
    try:
        trusted = make_sink(rec.url, clock, ca_file=tls_cert[0])
        trusted.add({"__name__": "m"}, T0, 1.0)
        assert trusted.flush() == report(requests=1, samples_sent=1)

        untrusted = make_sink(rec.url, clock, deadline_s=0.05)
        untrusted.add({"__name__": "m"}, T0 + 1, 2.0)
        rep = untrusted.flush()
        assert rep.dropped == {"receiver_unreachable": 1} and "CERTIFICATE_VERIFY_FAILED" in rep.last_error

        skip = make_sink(rec.url, clock, insecure_skip_verify=True)
        skip.add({"__name__": "m"}, T0 + 2, 3.0)
        assert skip.flush() == report(requests=1, samples_sent=1)
        assert rec.accepted() == [(L("m"), T0, 1.0), (L("m"), T0 + 2, 3.0)]
    finally:
        server.shutdown()
        server.server_close()


def test_keep_alive_connection_reused(receiver: Receiver, clock: FakeClock) -> None:
    sink = make_sink(receiver.url, clock)
    for i in range(3):
        sink.add({"__name__": "m"}, T0 + i, 1.0)
        sink.flush()
    assert sink.sender.connections_opened == 1
    assert len(receiver.accepted()) == 3


def test_receiver_down_then_up_loses_nothing() -> None:
    """Connection refused for a while, then the receiver comes up within the deadline: every sample
    arrives exactly once, in order."""
    rec, server = _start_receiver()
    port = server.server_address[1]
    server.shutdown()
    server.server_close()  # the port now refuses connections

    class ComesBack(FakeClock):
        def sleep(self, s: float) -> None:
            super().sleep(s)
            if len(self.sleeps) == 3:  # after three failed attempts the receiver is back on its port
                nonlocal server
                server = _QuietServer(("127.0.0.1", port), server.RequestHandlerClass)
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    clock = ComesBack()
    sink = make_sink(rec.url, clock, deadline_s=30.0, max_samples_per_request=2)
    for i in range(3):
        sink.add({"__name__": "m"}, T0 + i, float(i))
    rep = sink.flush()
    try:
        assert (rep.samples_sent, rep.dropped, rep.retries) == (3, {}, 3)
        assert rec.accepted() == [(L("m"), T0, 0.0), (L("m"), T0 + 1, 1.0), (L("m"), T0 + 2, 2.0)]
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------- hostile receiver answers

def test_hostile_400_body_is_escaped_redacted_and_logged_once_per_cause(
        receiver: Receiver, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 18, item 6: a receiver answering 400 with terminal escape sequences and the request's own
    Authorization header must not reach the terminal raw, nor once per rejected sample."""
    receiver.reply = lambda r: (400, {})
    receiver.body = lambda r: ("\x1b]0;pwned\x07\x1b[2J\u202eevil\u009b\r\nauth=" + r.headers["Authorization"]).encode()
    sink = make_sink(receiver.url, clock, bearer_token="RWTOKEN-1234")
    for i in range(48):
        sink.add({"__name__": "m", "i": f"{i:02d}"}, T0, 1.0)
    caplog.set_level("WARNING", logger="truesli.remote_write")
    error = "HTTP 400: \\x1b]0;pwned\\x07\\x1b[2J\\u202eevil\\x9b\\x0d\\x0aauth=Bearer <redacted>"
    assert sink.flush() == report(requests=95, dropped={"rejected_4xx": 48}, last_error=error)
    assert [r.headers["Authorization"] for r in receiver.requests][:1] == ["Bearer RWTOKEN-1234"]
    assert [rec.getMessage() for rec in caplog.records] == [
        f"remote write: 48 samples dropped (rejected_4xx): {error}; first: {{'__name__': 'm', 'i': '00'}} @{T0}"]


def test_basic_auth_credentials_echoed_back_are_redacted(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(401, {})]
    receiver.body = lambda r: f"bad {r.headers['Authorization']} for alice:s3cr:t".encode()
    sink = make_sink(receiver.url, clock, basic_auth=("alice", "s3cr:t"))
    sink.add({"__name__": "m"}, T0, 1.0)
    assert sink.flush().last_error == "HTTP 401: bad Basic <redacted> for alice:<redacted>"


def test_long_bodies_are_cut_and_only_their_start_is_read(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [(400, {}), (503, {})]
    receiver.body = lambda r: b"A" * 1_000_000
    sink = make_sink(receiver.url, clock)
    sink.add({"__name__": "m"}, T0, 1.0)
    rep = sink.flush()
    assert rep == report(requests=1, dropped={"rejected_4xx": 1}, last_error="HTTP 400: " + "A" * 256 + "…")
    sink.add({"__name__": "m"}, T0 + 1, 1.0)  # the unread rest of the body did not poison the connection
    assert sink.flush() == report(requests=2, samples_sent=1, retries=1, last_error="HTTP 503: " + "A" * 256 + "…")
    assert sink.sender.connections_opened == 3
