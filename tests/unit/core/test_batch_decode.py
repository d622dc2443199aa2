"""The msgspec batch path equals the per-record decoder, item for item, and the pipeline's outputs with it
equal the pipeline's outputs without it (the per-record decoder as oracle): generated mixes at 90% bots,
a mangled mix holding every dead-letter reason, and arbitrary objects under hypothesis."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config import Config, InputConfig
from streams.core.batch_decode import batch_is_clean, fast_struct_decoder
from streams.core.decode import PRESETS, DecodeFailure, Decoder
from streams.core.pipeline import Pipeline
from streams.core.timeparse import format_rfc3339
from streams.tools.gen import generate
from tests.unit.helpers import BROWSER, T0_MS, req

NOW = T0_MS + 3_600_000


def _mix(events: int, seed: int) -> list[bytes]:
    buf = io.BytesIO()
    generate(buf, events=events, seed=seed, bot_share=0.9)
    return buf.getvalue().splitlines()


def _line(**over: Any) -> bytes:
    rec: dict[str, Any] = {"ts": "2026-01-01T00:00:01.250Z", "client_ip": "198.51.100.20", "method": "get",
                           "host": "Shop.Example.com:443", "path": "/checkout?step=2#top", "status": 200,
                           "duration_ms": 12, "user_agent": BROWSER, "bytes": 512}
    rec.update(over)
    return orjson.dumps({k: v for k, v in rec.items() if v is not _ABSENT})


_ABSENT = object()

# (line, the reason it must be dead-lettered with, or None for a Request). Every line is ASCII and free
# of suspect numbers, so a batch of them takes the msgspec path and each needs its exact outcome there.
MANGLED: list[tuple[bytes, str | None]] = [
    (_line(), None),
    (_line(ts=T0_MS + 5), None),                                   # epoch ms: the per-record way
    (_line(ts="2026-01-01T00:00:01Z"), None),                      # no fraction: per record
    (_line(ts="2026-01-01T00:00:01.250+00:00"), None),
    (_line(status="404"), None),
    (_line(duration_ms="12.5"), None),
    (_line(duration_ms=-1), None),                                 # -1 = no duration (ALB)
    (_line(duration_ms=None), None),
    (_line(host=None, path="https://Other.example.com:8443/x?y=1"), None),
    (_line(host="-", user_agent="-"), None),
    (_line(user_agent=None), None),
    (_line(rate_limited=True, synthetic=False), None),
    (_line(rate_limited="yes", synthetic=1), None),
    (_line(forwarded_for="203.0.113.9, 10.0.0.1"), None),
    (_line(forwarded_for="-"), None),
    (_line(client_ip="[2001:db8::1]:443"), None),
    (_line(method="PROPFIND"), None),
    (_line(path="/a#frag"), None),
    (_line(extra={"nested": [1, 2, {"k": None}]}), None),
    (b"   ", "empty"),
    (b"{not json", "malformed_json"),
    (b'{"ts": 1} trailing', "malformed_json"),
    (b"[1, 2]", "unparseable_line"),                               # format auto: not JSON-object-shaped
    (b"this is no log line", "unparseable_line"),
    (_line(ts=_ABSENT), "missing_field:ts"),
    (_line(ts="-"), "missing_field:ts"),
    (_line(ts="2026-13-01T00:00:00.000Z"), "bad_timestamp"),
    (_line(ts="2026-01-01T25:00:00.000Z"), "bad_timestamp"),
    (_line(ts=[1]), "bad_type:ts"),
    (_line(client_ip=_ABSENT), "missing_field:client_ip"),
    (_line(client_ip="not-an-ip"), "bad_type:client_ip"),
    (_line(client_ip=17), "bad_type:client_ip"),
    (_line(method=""), "missing_field:method"),
    (_line(method="X" * 17), "bad_type:method"),
    (_line(method=7), "bad_type:method"),
    (_line(path=""), "missing_field:path"),
    (_line(path={"p": 1}), "bad_type:path"),
    (_line(host=5), "bad_type:host"),
    (_line(status=_ABSENT), "missing_field:status"),
    (_line(status=1000), "bad_type:status"),
    (_line(status=-1), "bad_type:status"),
    (_line(status=200.0), "bad_type:status"),
    (_line(status=True), "bad_type:status"),
    (_line(duration_ms="slow"), "bad_type:duration_ms"),
    (_line(duration_ms=-5), "bad_type:duration_ms"),
    (_line(duration_ms=[1]), "bad_type:duration_ms"),
    (_line(user_agent=3), "bad_type:user_agent"),
    (_line(rate_limited="maybe"), "bad_type:rate_limited"),
    (_line(synthetic=2.5), "bad_type:synthetic"),
    (_line(forwarded_for=5), "bad_type:forwarded_for"),
    (_line(ts="2099-01-01T00:00:00.000Z"), "future_timestamp"),   # the pipeline's, with now_ms
]

# Lines msgspec would read differently from orjson (numbers it skips unchecked, integers past 64 bits,
# bytes outside ASCII): the screen must send their whole batch the per-record way.
SUSPECT: list[tuple[bytes, str | None]] = [
    (_line()[:-1] + b',"x":1e400}', "malformed_json"),
    (_line()[:-1] + b',"x":-2.5E+308}', "malformed_json"),
    (_line()[:-1] + b',"x":[' + b"9" * 400 + b"]}", "malformed_json"),
    (_line(ts=_ABSENT)[:-1] + b',"ts":123456789012345678901234567890}', "bad_timestamp"),
    (_line()[:-1] + b',"x":"\xed\xa0\x80"}', "invalid_utf8"),
    (_line()[:-1] + b',"x":"\xff"}', "invalid_utf8"),
    (_line(user_agent="Mozilla/5.0 é"), None),
]


def _reasons(results: list) -> list[str | None]:
    return [r.reason if type(r) is DecodeFailure else None for r in results]


def _both(decoder: Decoder, batch: list) -> tuple[list, list]:
    fast = decoder.batch_decoder(batch)
    return [fast(x) for x in batch], [decoder.decode(x) for x in batch]


def test_generated_mix_takes_the_fast_path_and_equals_the_per_record_decoder() -> None:
    decoder = Decoder(InputConfig())
    lines = _mix(20_000, seed=3)
    for i in range(0, len(lines), 5_000):
        batch = lines[i:i + 5_000]
        assert decoder.batch_decoder(batch) == decoder._decode_fast
        got, want = _both(decoder, batch)
        assert got == want
        assert all(type(r) is not DecodeFailure for r in got)


def test_mangled_mix_every_reason_exact_on_the_fast_path() -> None:
    decoder = Decoder(InputConfig())
    batch = [line for line, _ in MANGLED]
    assert batch_is_clean(batch)
    got, want = _both(decoder, batch)
    assert got == want
    expected = [None if r == "future_timestamp" else r for _, r in MANGLED]  # decoding alone accepts 2099
    assert _reasons(got) == expected


@pytest.mark.parametrize("line,reason", SUSPECT)
def test_suspect_line_sends_its_batch_the_per_record_way(line: bytes, reason: str | None) -> None:
    decoder = Decoder(InputConfig())
    batch = [_line(), line, _line(status=500)]
    assert decoder.batch_decoder(batch) == decoder.decode
    assert _reasons([decoder.batch_decoder(batch)(x) for x in batch]) == [None, reason, None]


@pytest.mark.parametrize("index", [0, 1, 2, 4, 5])
def test_msgspec_alone_would_accept_what_the_oracle_dead_letters(index: int) -> None:
    """Why the screen exists: msgspec skips these unknown fields unchecked, orjson rejects the line."""
    line, reason = SUSPECT[index]
    decoder = Decoder(InputConfig())
    decoder.decode(_line())  # the timestamp's second is now known, as in a running stream
    assert decoder.decode(line).reason == reason
    assert decoder._from_clean(decoder._fast(line)) is not None


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_equals_the_per_record_decoder(preset: str) -> None:
    keys = PRESETS[preset]
    decoder = Decoder(InputConfig(preset=preset))
    assert fast_struct_decoder(keys) is not None
    batch = []
    for line, _ in MANGLED:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            batch.append(line)
            continue
        if isinstance(obj, dict):
            obj = {keys.get(k, k): v for k, v in obj.items()}
        batch.append(orjson.dumps(obj))
    got, want = _both(decoder, batch)
    assert got == want
    assert sum(type(r) is not DecodeFailure for r in got) >= 15


def test_nested_field_map_has_no_fast_path() -> None:
    decoder = Decoder(InputConfig(fields={"path": "request.path"}))
    batch = [orjson.dumps({"ts": "2026-01-01T00:00:01.000Z", "client_ip": "10.0.0.1", "method": "GET",
                           "request": {"path": "/a"}, "status": 200})]
    assert decoder.batch_decoder(batch) == decoder.decode
    assert decoder.decode(batch[0]).path == "/a"


def test_jsonl_format_not_an_object_on_the_fast_path() -> None:
    decoder = Decoder(InputConfig(format="jsonl"))
    batch = [_line(), b"[1, 2]", b'"just a string"', b"{broken"]
    assert decoder.batch_decoder(batch) == decoder._decode_fast
    got, want = _both(decoder, batch)
    assert got == want
    assert _reasons(got) == [None, "not_an_object", "not_an_object", "malformed_json"]


def test_combined_format_has_no_fast_path() -> None:
    decoder = Decoder(InputConfig(format="combined"))
    assert decoder.batch_decoder([_line()]) == decoder.decode


def _outputs(p: Pipeline, batches: list[list[bytes]]) -> dict:
    counters, dead, verdicts, flags = [], [], [], []
    for k, b in enumerate(batches):
        out = p.process(b, now_ms=NOW + k)
        counters += out.counters
        dead += out.dead_letters
        verdicts += out.verdicts or []
        flags += out.flags
    out = p.flush()
    counters += out.counters
    p.tally.check_conservation()
    return {"counters": counters, "dead": dead, "verdicts": verdicts, "flags": flags,
            "tally": p.tally.to_dict()}


def _oracle(config: Config) -> Pipeline:
    p = Pipeline(config, collect_verdicts=True)
    p.decoder._fast = None  # the per-record decoder for every item: the oracle
    return p


@pytest.mark.parametrize("seed", [7, 11])
def test_pipeline_with_fast_path_equals_the_oracle_on_generated_and_mangled_mixes(seed: int) -> None:
    config = Config()
    lines = _mix(30_000, seed=seed)
    mangled = [line for line, _ in MANGLED] + [line for line, _ in SUSPECT]
    batches = [lines[i:i + 4_000] for i in range(0, len(lines), 4_000)]
    batches.insert(3, mangled)
    batches.insert(5, [line for line, _ in MANGLED] * 3)
    fast = _outputs(Pipeline(config, collect_verdicts=True), batches)
    oracle = _outputs(_oracle(config), batches)
    assert fast == oracle
    reasons = {d.reason for d in fast["dead"]}
    assert {r for _, r in MANGLED + SUSPECT if r} <= reasons
    assert fast["tally"]["counted"] > 0 and fast["tally"]["filtered"]


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 1_100), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["", "-", "GET", "/x?y", "200", "12.5", "yes",
                                                                        "10.0.0.1", "2026-01-01T00:00:00.500Z"]),
    st.integers(T0_MS - 600_000, T0_MS + 600_000).map(format_rfc3339), st.text(max_size=8),
    st.lists(st.integers(), max_size=2), st.lists(st.sampled_from(["a", "10.0.0.2", "-"]), max_size=2),
    st.sampled_from(["0.25s", "250µs", "3ms", "1e400", "12345678901234567890123"]),
)
_KEYS = st.sampled_from(["ts", "client_ip", "method", "host", "path", "status", "duration_ms", "user_agent",
                         "rate_limited", "synthetic", "forwarded_for", "bytes", "other"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_KEYS, _VALUES, max_size=13), min_size=1, max_size=8),
       st.sampled_from(sorted(PRESETS)))
def test_arbitrary_objects_equal_the_per_record_decoder(objs: list[dict], preset: str) -> None:
    decoder = Decoder(InputConfig(preset=preset))
    base = orjson.loads(req(ts="2026-01-01T00:00:00.250Z"))
    keys = PRESETS[preset]
    # stdlib json: it writes integers past 64 bits (orjson cannot) and escapes lone surrogates
    batch = [json.dumps({keys.get(k, k): v for k, v in {**base, **o}.items()}).encode() for o in objs]
    got, want = _both(decoder, batch)
    assert got == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([line for line, _ in MANGLED + SUSPECT])),
                min_size=1, max_size=12))
def test_pipeline_conservation_and_oracle_equality_on_arbitrary_batches(batch: list[bytes]) -> None:
    config = Config()
    fast = _outputs(Pipeline(config, collect_verdicts=True), [batch])
    assert fast == _outputs(_oracle(config), [batch])
    assert fast["tally"]["consumed"] == len(batch)
