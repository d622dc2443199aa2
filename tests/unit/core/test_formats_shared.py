"""The shared public samples (../shared/data/formats, read in place, never copied): every line through
``format: auto`` with no config, each with its exact format name and mapped fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import Config, InputConfig
from streams.core.decode import DecodeFailure, Decoder
from streams.core.pipeline import Pipeline
from streams.core.timeparse import format_rfc3339

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "formats"

# (format, ts, client_ip, method, host, path, status, duration_ms, user_agent, forwarded_for) per line,
# or (format, (reason, error)) for a line that must be dead-lettered.
EXPECTED = {
    "alb_plaso-aws_elb_access.log": [
        ('aws_alb', '2020-01-11T16:55:20.356Z', '192.168.1.10', 'GET', 'www.domain.name', '/', 200,
         164.0, 'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)', None),
        ('aws_alb', '2020-01-11T16:56:05.917Z', '192.168.1.10', 'GET', 'www.domain.name', '/', 200,
         30.0, 'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)', None),
        ('aws_alb', '2020-01-11T16:55:32.115Z', '192.168.1.10', 'GET', 'www.domain.name', '/banner/test.png', 302,
         4.0, 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_4_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148  Safari//ncdkkdmsgvtxrndqffyfatjvbytwlqak', None),
        ('aws_alb', '2020-01-11T16:55:34.397Z', '192.168.1.10', 'GET', 'www.domain.name', '/images/test.png', 301,
         8.0, 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_4_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148  Safari//ncdkkdmsgvtxrndqffyfatjvbytwlqak', None),
        ('aws_elb', '2021-05-13T23:39:43.945Z', '192.168.131.39', 'GET', 'www.example.com', '/', 200,
         1.048, 'curl/7.38.0', None),
        ('aws_elb', '2021-05-13T23:39:44.945Z', '192.168.131.39', 'GET', 'www.example.com', '/', 200,
         1.048, 'curl/7.38.0', None),
        ('aws_elb', ('missing_field:status', "aws_elb: no HTTP status ('-'): a TCP listener, or a client that sent no request")),
    ],
    "haproxy-httplog_elastic-beats.log": [
        ('syslog > haproxy', '2018-07-30T09:03:52.726Z', '1.2.3.4', 'GET', '', '/component---src-pages-index-js-4b15624544f97cf0bb8f.js', 304,
         2.0, '', None),
        ('syslog > haproxy', '2021-05-22T02:22:22.222Z', '', 'OPTIONS', 'site.domain.com', '/api/v2/app/', 200,
         18.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:02:53.473Z', '', 'GET', 'app.domain.com', '/', 302,
         18.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:03:01.501Z', '', 'GET', 'app.domain.com', '/app/login/', 200,
         56.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:03:01.427Z', '', 'GET', 'app.domain.com', '/23rfsa/', 200,
         31.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:02:59.590Z', '', 'GET', 'app.domain.com', '/app/event/', 403,
         35.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:02:55.202Z', '', 'GET', 'app.domain.com', '/static/files/3rsdfas3.js', 200,
         2606.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:03:08.833Z', '', 'GET', 'app.domain.com', '/favicon.ico', 404,
         30.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:03:04.060Z', '', 'GET', 'app.domain.com', '/qfe32/', 200,
         41.0, '', None),
        ('syslog > haproxy', '2021-06-22T12:03:08.339Z', '', 'GET', 'app.domain.eu', '/dsffdssdf', 404,
         47.0, '', None),
    ],
    "nginx-combined-variants_elastic-beats.log": [
        ('combined/xff_list', '2016-12-07T10:05:07.000Z', '127.0.0.1', 'GET', '', '/ocelot', 200,
         None, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0', '10.0.0.2, 10.0.0.1'),
        ('combined/plain', '2017-05-29T19:02:48.000Z', '172.17.0.1', 'GET', '', '/stringpatch', 404,
         None, 'Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2', None),
        ('combined/xff_list', '2016-12-07T10:05:07.000Z', '85.181.35.98', 'GET', '', '/ocelot', 200,
         None, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0', '10.0.0.2, 10.0.0.1'),
        ('combined/plain', '2016-12-07T10:05:07.000Z', '85.181.35.98', 'GET', '', '/ocelot', 200,
         None, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36', None),
        ('combined/xff_list', '2016-01-22T13:18:29.000Z', '10.2.1.185', 'GET', '', '/assets/xxxx', 200,
         None, 'Amazon CloudFront', '10.5.102.222, 199.96.1.1, 204.246.1.1'),
        ('combined/xff_list', '2016-12-30T06:47:09.000Z', '10.2.2.121', 'GET', '', '/test.html', 404,
         None, 'Mozilla/5.0 (compatible; Facebot 1.0; https://developers.facebook.com/docs/sharing/webmasters/crawler)', '2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17'),
        ('combined/plain', '2018-04-12T07:48:40.000Z', '127.0.0.1', '-', '', '-', 400,
         None, '', None),
    ],
    "traefik-clf_elastic-beats.log": [
        ('combined/traefik', '2017-10-02T20:22:07.000Z', '192.168.33.1', 'GET', '', '/ui/favicons/favicon-16x16.png', 304,
         2.0, 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/61.0.3163.100 Safari/537.36', None),
        ('combined/traefik', '2017-10-02T20:22:08.000Z', '85.181.35.98', 'GET', '', '/ui/favicons/favicon.ico', 304,
         3.0, 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/61.0.3163.100 Safari/537.36', None),
    ],
}


def _lines(name: str) -> list[bytes]:
    return [line for line in (SAMPLES / name).read_bytes().split(b"\n") if line.strip()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_sample_decoded_in_full(name: str) -> None:
    decoder = Decoder(InputConfig())
    got = []
    for line in _lines(name):
        fmt, r = decoder.classify(line)
        assert decoder.decode(line) == r  # the inlined fast paths agree with the general one
        if type(r) is DecodeFailure:
            got.append((fmt, tuple(r)))
        else:
            got.append((fmt, format_rfc3339(r.ts_ms), r.client_ip, r.method, r.host, r.path, r.status,
                        r.duration_ms, r.user_agent, r.forwarded_for))
    assert got == EXPECTED[name]


def test_trusted_proxies_resolve_the_logged_forwarded_for_lists() -> None:
    # nginx variants with 127.0.0.0/8 and 10.0.0.0/8 trusted: the pipeline's rule (right to left, skipping
    # trusted hops) applied to the peer and X-Forwarded-For each line logged.
    from streams.core.decode import normalize_ip
    from streams.core.filters.ip_lists import CidrSet, resolve_forwarded

    proxies = CidrSet(["127.0.0.0/8", "10.0.0.0/8"])
    decoder = Decoder(InputConfig(trusted_proxies=("127.0.0.0/8", "10.0.0.0/8")))
    clients = []
    for line in _lines("nginx-combined-variants_elastic-beats.log"):
        r = decoder.decode(line)
        trusted = r.forwarded_for and r.client_ip in proxies
        clients.append(resolve_forwarded(r.client_ip, r.forwarded_for, proxies, normalize_ip) if trusted
                       else r.client_ip)
    assert clients == ["10.0.0.2", "172.17.0.1", "85.181.35.98", "85.181.35.98", "204.246.1.1",
                       "2a03:0:10ff:f00f::8000", "127.0.0.1"]


def test_requests_without_a_client_address_are_counted_and_keep_no_ip_state() -> None:
    pipeline = Pipeline(Config())
    lines = _lines("haproxy-httplog_elastic-beats.log")
    out = pipeline.process(lines, now_ms=None)
    assert (out.tally.consumed, out.tally.counted, out.tally.dead_lettered) == (10, 10, {})
    assert "" not in pipeline.filters.store._states
    unknown, known = Pipeline(Config()), Pipeline(Config())
    unknown.process(lines[1:], now_ms=None)   # "-:port": no client address
    known.process(lines[:1], now_ms=None)     # 1.2.3.4:38862
    assert (list(unknown.filters.store._states), list(known.filters.store._states)) == ([], ["1.2.3.4"])


def test_real_logs_read_as_before_plus_the_empty_request_lines() -> None:
    # The two real Apache/nginx logs of ../shared/data/logs: every line that read before reads the same way
    # (checked against main's decoder when this changed); the only new reads are Apache's `"-" 408` lines
    # (a connection that timed out before sending a request: method and path "-"). The 24 TLS handshakes
    # sent to the plain-HTTP port stay dead letters.
    from collections import Counter

    decoder = Decoder(InputConfig())
    logs = SAMPLES.parent / "logs"
    seen = {}
    for name in ("rootly_apache_access.log", "nielsbasjes_hackers-access.log"):
        tally: Counter = Counter()
        for line in (logs / name).read_bytes().split(b"\n"):
            if line.strip():
                fmt, r = decoder.classify(line)
                tally[(fmt, r.reason if type(r) is DecodeFailure else ("no_request" if r.method == "-" else "ok"))] += 1
        seen[name] = dict(tally)
    assert seen == {
        "rootly_apache_access.log": {("combined/plain", "ok"): 4747, ("combined/plain", "no_request"): 4,
                                     ("combined", "unparseable_line"): 24},
        "nielsbasjes_hackers-access.log": {("combined/plain", "ok"): 3456}}
