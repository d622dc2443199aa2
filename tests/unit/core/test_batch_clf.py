"""The whole-batch Common/Combined decode (core/batch_clf.py) equals the per-record decoder, every column
value, every null, every failure: the two real logs and the format samples of ../shared/data (read in
place), each odd line of the family placed among ordinary ones, a batch as a plain list (a Kafka consume
call's values), and arbitrary lines built from the family's pieces under hypothesis. Which rows take the
split (``ok``) and which batches are declined whole is asserted directly."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config import InputConfig
from streams.core.batch_clf import ClfFields, _tail_columns, read_clf
from streams.core.columns import from_decoded
from streams.core.decode import Decoder
from streams.core.formats.clf import read_tail
from streams.core.line_arrays import ArrowLines
from streams.sources.files import iter_line_batches
from tests.unit.core.test_columns import assert_columns_equal

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def _line(i: int, tail: str = " 0.042") -> bytes:
    return (f'198.51.100.{i % 250 + 1} - - [01/Jan/2026:00:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"GET /products/{i % 37}?page={i % 3} HTTP/1.1" {(200, 404, 503)[i % 3]} {512 + i} "-" "{UA}"{tail}').encode()


def _lines(batch: list[bytes]) -> ArrowLines:
    """The batch as the file reader hands it over (sources/line_arrays.py)."""
    return ArrowLines.of([pa.array(batch, pa.large_binary())])


def _check(decoder: Decoder, batch, whole: bool | None) -> ClfFields | None:
    """The split (or per record) equals the per-record decoder; ``whole``: whether the split must be taken."""
    raw = decoder.read_raw(batch)
    if whole is not None:
        assert (type(raw) is ClfFields) == whole
    assert_columns_equal(decoder.finish_raw(raw, batch), from_decoded([decoder.decode(x) for x in batch]))
    return raw


@pytest.mark.parametrize("fmt", ["auto", "combined"])
@pytest.mark.parametrize("name, rows, split", [("rootly_apache_access.log", 4_775, 4_554),
                                               ("nielsbasjes_hackers-access.log", 3_456, 3_443)])
def test_the_real_logs_equal_the_per_record_decoder(fmt: str, name: str, rows: int, split: int) -> None:
    # Not split: Apache's "OPTIONS *" dummy connections, absolute-URL targets, an escaped quote, the TLS
    # handshakes and "-" requests: decoded per record, and patched in at their rows.
    decoder = Decoder(InputConfig(format=fmt))
    [(batch, _origin)] = list(iter_line_batches(str(DATA / "logs" / name), arrow=True))
    raw = _check(decoder, batch, True)
    assert (len(batch), raw.ok.to_pylist().count(True)) == (rows, split)


@pytest.mark.parametrize("name, split", [("traefik-clf_elastic-beats.log", [True, True]),
                                         ("nginx-combined-variants_elastic-beats.log",
                                          [True, True, True, True, False, False, False])])
def test_the_format_samples_equal_the_per_record_decoder(name: str, split: list[bool]) -> None:
    decoder = Decoder(InputConfig())
    [(batch, _origin)] = list(iter_line_batches(str(DATA / "formats" / name), arrow=True))
    assert _check(decoder, batch, True).ok.to_pylist() == split


ODD = [
    # (line, takes the split)
    (_line(1, ""), True),                                                     # no request time
    (_line(2, ' 7 "router@docker" "http://10.0.0.3:80" 12ms'), True),       # Traefik
    (_line(3, " 345 0.120 [default-svc-80] [] 10.0.0.9:80 512 0.118 200 abc"), True),  # ingress-nginx
    (_line(4, ' "203.0.113.9, 10.0.0.1"'), True),                             # nginx main: X-Forwarded-For
    (_line(5, ' "' + "203.0.113.9, " * 200 + '10.0.0.1"'), True),             # ... past the 1,024 cap
    (_line(6, " -"), True), (_line(7, " -0.5"), True), (_line(8, " nan"), True), (_line(9, " 1e999"), True),
    (_line(10, "\r"), True), (_line(11, " 0.1\r\r"), True),                   # CRLF
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0', True),   # Apache common
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0\r', True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 - -', False),  # bare referer/agent
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" -', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /" 200 0 "-" "-"', True),     # no protocol
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / " 200 0 "-" "-"', True),    # an empty one
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1 x" 200 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "-" 408 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET http://a.example/x?y HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "OPTIONS * HTTP/1.0" 200 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "get /a#frag?x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "ABCDEFGHIJKLMNOPQ / HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /a\tb HTTP/1.1" 200 0 "-" "-"', True),
    ('198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /caf\u00e9/\u65e5 HTTP/1.1" 200 0 "-" "Br\u00f6wser"'.encode(), True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /' + b"p" * 3000 + b' HTTP/1.1" 200 0 "-" "' + b"u" * 900 + b'"', True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "a \\"quoted\\" agent"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /\\x16\\x03 HTTP/1.1" 400 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 1"2 "-" "-"', False),  # quote in bytes
    (b'198.51.100.1 - "x [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1 - [u] [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:60 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),  # second 60
    (b'198.51.100.1 - - [31/Feb/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [01/Foo/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +2400] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [01/Jan/0001:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1 - - [ 1/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'2001:db8::1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'[2001:DB8::1]:443 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.001:80 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'not-an-ip - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    # Address lists first (clf.parse_variant): the right-most the peer, the rest X-Forwarded-For.
    (b'10.0.0.2, 198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'10.0.0.2, 10.0.0.1, 198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-" "203.0.113.9"', True),
    (b'2001:db8::1, ::1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-" 0.5', True),
    (b'Dec, 198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),  # a "vhost"
    (b'198.51.100.1, abc - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),  # declined
    (b'198.51.100.1, 10.0.0.1:80 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b'198.51.100.1, 198.51.100.2 - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),  # PLAIN's:
    # "198.51.100.1," as the address (not one: its row is then decoded per record, as every row whose
    # address or time does not read; ``ok`` here is the split's mask, before those checks)
    (b'198.51.100.1,198.51.100.2 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),  # PLAIN's
    (b'198.51.100.1, 198.51.100.2 - [u] [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1, 198.51.100.2 - - [01/jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b", ".join([b"10.0.0.1"] * 9) + b' - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b", ".join([b"10.0.0.1"] * 10) + b' - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b", ".join([b"1111:2222:3333:4444:5555:6666:7777:8888"] * 9) + b" " + b"i" * 32 + b" " + b"u" * 32
     + b' [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', True),
    (b"10.0.0.1, " + b"1" * 46 + b' - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'www.example.com 198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'{"ts": "2026-01-01T00:00:00.000Z", "client_ip": "198.51.100.1", "method": "GET", "path": "/", "status": 200}', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-" "a\\"b"', False),
    (b'\xc2\xa0198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1\xc2\xa0- - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0\xc2\xa0"-" "-"', False),
    (b'198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" \xd9\xa200 0 "-" "-"', False),
    (b"just some text", False),
]


@pytest.mark.parametrize("index", range(len(ODD)))
def test_each_odd_line_among_ordinary_ones(index: int) -> None:
    line, split = ODD[index]
    decoder = Decoder(InputConfig())
    batch = [_line(i) for i in range(40)]
    batch[17] = line
    raw = _check(decoder, _lines(batch), True)
    assert raw.ok.to_pylist() == [True] * 17 + [split] + [True] * 22


def test_a_list_batch_with_line_ends_as_a_consume_call_hands_it_over() -> None:
    # Kafka values are bytes, possibly ending in "\n" or "\r\n", possibly empty; the per-record path strips
    # the line end, and so does the split.
    decoder = Decoder(InputConfig())
    batch = [_line(i) + (b"\n", b"\r\n", b"")[i % 3] for i in range(30)] + [b""]
    raw = _check(decoder, batch, True)
    assert raw.ok.to_pylist() == [True] * 30 + [False]


@pytest.mark.parametrize("batch", [
    [_line(i) for i in range(5)] + [_line(5) + b"\xff"],                       # not UTF-8: per record, whole
    [b"just some text"] * 3,                                                   # no line of the shape
    [b'{"a": 1}', _line(1)],                                                   # a JSON first line
    [_line(1), bytearray(_line(2))],                                           # not exactly bytes
])
def test_batches_declined_whole(batch: list) -> None:
    _check(Decoder(InputConfig()), batch, False)


def test_a_line_over_the_record_cap_declines_the_batch() -> None:
    decoder = Decoder(InputConfig(max_line_bytes=300))
    batch = [_line(i) for i in range(5)] + [_line(5, " " + "1" * 200)]
    _check(decoder, _lines(batch), False)
    assert read_clf(_lines(batch[:5]), 300) is not None


@pytest.mark.parametrize("cfg", [InputConfig(format="jsonl"),
                                 InputConfig(line_regex=r"^(?P<client_ip>\S+) \S+ \S+ \[(?P<ts>[^]]+)\] \"(?P<request>[^\"]*)\" (?P<status>\d+)")])
def test_formats_that_do_not_read_clf_first_never_split(cfg: InputConfig) -> None:
    _check(Decoder(cfg), _lines([_line(i) for i in range(10)]), False)


def test_caps_apply_as_per_record() -> None:
    decoder = Decoder(InputConfig(max_path_chars=64, max_user_agent_chars=16))
    batch = _lines([_line(i, ' "' + "203.0.113.9, " * 100 + '10.0.0.1"').replace(b"/products/", b"/" + b"p" * 80)
                    for i in range(10)])
    cols = decoder.finish_raw(_check(decoder, batch, True), batch)
    assert (cols.path[0].as_py(), cols.user_agent[0].as_py(), len(cols.forwarded_for[0].as_py())) == (
        "/" + "p" * 63, "Mozilla/5.0 (X11", 1024)


_PIECES = st.sampled_from([
    "198.51.100.7", "::1", "[::1]:80", "1.2.3.4:5", "x", "-", " ", "  ", "{", '"', "\\", "\\\"", "[", "]",
    "01/Jan/2026:00:00:00 +0000", "31/Dec/1969:23:59:59 -0100", "GET", "post", "/", "/a?b#c", "*",
    "HTTP/1.1", "200", "099", "1000", "\r", "\n", "\t", "é", "日", "\u00a0", "\u0662", "0.5", "-1", "12ms",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["", "10.0.0.2, 10.0.0.1, ", "2025-01-29T00:00:00.5Z stdout F "]),
       st.lists(st.tuples(st.lists(_PIECES, max_size=8), st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=6))
def test_lines_built_from_the_family_s_pieces(prefix: str, edits) -> None:
    # Each line: an ordinary line (plain, after an address list, in a CRI envelope) with pieces spliced in
    # at one of its separators: whatever the result, the columns equal the per-record decoder's.
    decoder = Decoder(InputConfig())
    batch = [prefix.encode() + _line(i) for i in range(3)]
    for k, (pieces, where, cut) in enumerate(edits):
        base = prefix + _line(k).decode()
        seps = [i for i, ch in enumerate(base) if ch in ' "[]']
        at = seps[where * len(seps) // 10]
        out = base[:at] + "".join(pieces) + base[at + cut % 3:]
        batch.append(out.encode())
    _check(decoder, _lines(batch) if all(x and x[:1] not in b" \t\x0b\x0c" and b"\n" not in x for x in batch)
           else batch, None)


def _tails_as_read_tail(tails: list[str]) -> list[tuple]:
    return [read_tail(t)[:2] if t else (None, None) for t in tails]


def _tails_split(tails: list[str]) -> list[tuple]:
    duration, fwd = _tail_columns(pa.array(tails, pa.string()))
    return list(zip(duration.to_pylist(), fwd.to_pylist()))


def test_tails_read_in_arrow_equal_read_tail() -> None:
    # Request times, ingress-nginx and Traefik tails are read by Arrow (the number cast as Python's float()
    # reads it: both round correctly); every other tail by read_tail itself.
    rng = random.Random(5)
    tails = ["", " 0.049", " 7", " 0", " 123456789012345.123456789012345", " 1234567890123456", " -1", " 0.1 x",
             " 345 0.120 [default-svc-80] [] 10.0.0.9:80 512 0.118 200 abc", " 345 - [x] y",
             " 345 0.120 [a] ends", " 1 2.5 [", ' 7 "r@docker" "http://10.0.0.3:80" 12ms',
             " 7 12ms", " 7  1.5s", "  7 12ms", " 7 12ns", " 7 12µs", " x 12ms", ' "203.0.113.9, 10.0.0.1"',
             ' "-"', ' "a" 0.5', " 1e3", " nan", " inf", " 0.5s", " 12 0.5 [x]s"]
    for _ in range(2_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17)))
        frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 17)))
        number = digits + ("." + frac if frac else "")
        tails += [f" {number}", f" {rng.randint(0, 999)} {number} [up] 0.1 ab",
                  f' {rng.randint(0, 9)} "r" "u" {number}{rng.choice(["ms", "s", "us"])}']
    assert _tails_split(tails) == _tails_as_read_tail(tails)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.sampled_from(" 0123456789.-[]\"msnuµxe"), max_size=24), min_size=1, max_size=20))
def test_arbitrary_tails_equal_read_tail(tails: list[str]) -> None:
    assert _tails_split(tails) == _tails_as_read_tail(tails)


_CRI = ["2025-01-29T00:00:00.123456789Z stdout F ", "2025-01-29T00:00:00Z stderr P ",
        "2025-01-29T00:00:00.5+01:00 stdout F "]


@pytest.mark.parametrize("fmt, whole", [("auto", True), ("combined", False)])
def test_a_cri_enveloped_real_log_equals_the_per_record_decoder(fmt: str, whole: bool) -> None:
    # format: auto removes the CRI envelope (containerd/CRI-O node logs) before reading the line; so does
    # the split. format: combined reads no envelope: the per-record path decides those lines alone.
    decoder = Decoder(InputConfig(format=fmt))
    lines = (DATA / "logs" / "rootly_apache_access.log").read_bytes().splitlines()
    batch = [_CRI[i % 3].encode() + line for i, line in enumerate(lines)]
    raw = _check(decoder, _lines(batch), True if whole else None)
    if whole:
        assert raw.ok.to_pylist().count(True) == 4_554


@pytest.mark.parametrize("line, split", [
    (_CRI[0] + '198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-" 0.1', True),
    (_CRI[0] + '198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0', True),
    (_CRI[0] + '[2001:db8::1]:80 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (_CRI[0] + ' 198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),
    (_CRI[0] + '{"log": 1}', False),
    (_CRI[0], False),
    ("2025-01-29T00:00:00.1Z stdout X " + '198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0', False),
    ('198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 0 "-" "-"', False),  # not enveloped
    ("\u0662025-01-29T00:00:00Z stdout F " + '198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 0', False),
])
def test_odd_lines_in_a_cri_batch(line: str, split: bool) -> None:
    decoder = Decoder(InputConfig())
    batch = [_CRI[0].encode() + _line(i) for i in range(20)]
    batch[7] = line.encode()
    raw = _check(decoder, _lines(batch), True)
    assert raw.ok.to_pylist() == [True] * 7 + [split] + [True] * 12


@pytest.mark.parametrize("odd, whole", [(63, True), (64, False)])
def test_a_batch_is_probed_on_its_first_64_lines(odd: int, whole: bool) -> None:
    # A log of another format (HAProxy here) is not passed over whole; a combined line among the first
    # 64 keeps the batch on the split.
    haproxy = (b"Jan  1 00:00:00 lb1 haproxy[1]: 198.51.100.1:4000 [01/Jan/2026:00:00:00.000] fe be/s1 "
               b'0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"')
    _check(Decoder(InputConfig()), _lines([haproxy] * odd + [_line(i) for i in range(100)]), whole)
