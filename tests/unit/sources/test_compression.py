"""Compressed inputs are recognised by their first bytes, not their names."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.sources.files import InputError, iter_line_batches

ROOT = Path(__file__).resolve().parents[3]
LINES = [b'{"ts":"2026-08-01T00:00:00Z","n":1}', b'{"ts":"2026-08-01T00:00:01Z","n":2}', b"127.0.0.1 - - x"]


def _read(path: Path) -> list[bytes]:
    return [line for batch, _ in iter_line_batches(str(path)) for line in batch]


@pytest.mark.parametrize("name", ["access.log.1", "access.jsonl", "rotated", "access.log.gz"])
def test_gzip_is_read_whatever_the_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"\n".join(LINES) + b"\n"))
    assert _read(path) == LINES


def test_a_gz_name_on_plain_text_is_read_as_text(tmp_path):
    path = tmp_path / "not-really.gz"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    assert _read(path) == LINES


@pytest.mark.parametrize("magic,kind,tool", [(b"\x28\xb5\x2f\xfd", "zstd", "zstdcat"), (b"BZh91AY", "bzip2", "bzcat"),
                                             (b"\xfd7zXZ\x00\x00", "xz", "xzcat")])
def test_other_compressions_are_named_with_the_fix(tmp_path, magic, kind, tool):
    path = tmp_path / "access.log"
    path.write_bytes(magic + b"\x00" * 32)
    with pytest.raises(InputError) as exc:
        _read(path)
    assert str(exc.value) == (f"{path} is {kind}-compressed, which truesli does not read: "
                              f"`{tool} {path} | truesli process -`")


@pytest.mark.parametrize("arrow", [False, True])
def test_a_gzip_cut_short_is_an_input_error_naming_the_file_from_either_reader(tmp_path, arrow):
    path = tmp_path / "access.log.gz"
    path.write_bytes(gzip.compress(b"\n".join(LINES * 2_000) + b"\n")[:-12])  # no end-of-stream marker
    with pytest.raises(InputError) as exc:
        list(iter_line_batches(str(path), arrow=arrow))
    assert str(exc.value) == (f"cannot read {path}: Compressed file ended before the end-of-stream marker "
                              "was reached")


def test_gzip_on_stdin_and_in_a_file_without_gz_name_count_the_same(tmp_path):
    plain = (b'{"ts":"2026-08-01T00:00:00Z","client_ip":"10.0.0.1","method":"GET","path":"/","status":200}\n'
             b'{"ts":"2026-08-01T00:00:01Z","client_ip":"10.0.0.2","method":"GET","path":"/","status":500}\n')
    rotated = tmp_path / "access.log.1"
    rotated.write_bytes(gzip.compress(plain))
    for args, stdin in ((["-"], gzip.compress(plain)), ([str(rotated)], None)):
        r = subprocess.run([sys.executable, "-m", "streams.cli", "process", *args, "--summary-json", "-"],
                           cwd=ROOT, input=stdin, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        summary = orjson.loads(r.stdout)
        assert (summary["consumed"], summary["dead_letter_reasons"]) == (2, {})
        assert summary["journeys"]["all"]["slos"]["availability"]["raw_total"] == 2
