"""Coverage-guided fuzzing (atheris/libFuzzer) of the decoder and the whole pipeline.

Run by tests/fuzz/test_fuzz_atheris.py with a fixed seed and number of runs, so it is deterministic; run it
by hand for as long as you like:  python tests/fuzz/fuzz_core.py -max_total_time=600 CORPUS_DIR

Each input is a choice of decoder (preset × format, byte 0), bytes or text (byte 1), and the record itself
(the rest). The target fails (libFuzzer reports a crash, exit code ≠ 0) if the decoder
raises or returns something outside its contract, or the pipeline breaks conservation or dead-letters a
record without a documented reason.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["streams"]):
    from streams.config import FIELD_NAMES, InputConfig, config_from_dict
    from streams.core.decode import RAW_LIMIT, DecodeFailure, Decoder
    from streams.core.pipeline import Pipeline
    from streams.core.model import Request

NOW = 1_767_225_660_000
REASONS = {"oversized", "empty", "invalid_utf8", "malformed_json", "not_an_object", "bad_timestamp",
           "unparseable_line", "future_timestamp", "too_late"}
DECODERS = [Decoder(InputConfig(preset=p, format=f)) for p in ("truesli", "nginx", "envoy", "alb")
            for f in ("auto", "jsonl", "combined")]
DECODERS.append(Decoder(InputConfig(max_line_bytes=256, max_user_agent_chars=16, max_path_chars=64)))
PIPELINE = Pipeline(config_from_dict({
    "input": {"trusted_proxies": ["10.0.0.0/8"]},
    "exclusions": [{"reason": "probe", "user_agent_regex": r"(a|aa)+$"}],
    "filters": {"bot_ua": {"patterns": [r"(a+)+$", r"(x+x+)+y"]}},
    "state": {"max_tracked_ips": 64, "ip_ttl_s": 1200},
}))


def documented(reason: str) -> bool:
    prefix, _, field = reason.partition(":")
    return reason in REASONS or (prefix in ("missing_field", "bad_type") and field in FIELD_NAMES)


def target(data: bytes) -> None:
    # Byte 0 picks the decoder, bit 0 of byte 1 bytes-or-text, the rest is the record (seeds are easy to write).
    decoder = DECODERS[data[0] % len(DECODERS)] if data else DECODERS[0]
    as_text = len(data) > 1 and bool(data[1] & 1)
    raw = data[2:]
    item = raw.decode("utf-8", "surrogateescape") if as_text else raw
    out = decoder.decode(item)
    if type(out) is DecodeFailure:
        assert documented(out.reason) and out.error, out
    else:
        assert type(out) is Request, out
        assert type(out.status) is int and 0 <= out.status <= 999
        assert out.duration_ms is None or out.duration_ms >= 0
        assert out.path and len(out.user_agent) <= 512
    res = PIPELINE.process([raw, item], now_ms=NOW)
    res.tally.check_conservation()
    assert res.tally.consumed == 2
    assert len(res.dead_letters) == sum(res.tally.dead_lettered.values())
    assert all(documented(d.reason) and len(d.raw) <= RAW_LIMIT for d in res.dead_letters), res.dead_letters
    assert len(PIPELINE.filters.store) <= 64


if __name__ == "__main__":
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
