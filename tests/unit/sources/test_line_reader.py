"""The line reader (per read, in C) against the line-at-a-time reader it replaced: the same batches, the
same positions, the same over-long lines and caps, whatever the read size and the batch bounds."""

from __future__ import annotations

import gzip
import itertools
import random

import pytest

import streams.sources.files as files
from streams.core.batch_columns import KnownLines
from streams.core.line_arrays import ArrowLines
from streams.sources.files import OverlongLine, iter_line_batches
from streams.sources.limits import Cap, GuardedReader, InputLimits


def _old_bounded_lines(f, cap):
    keep = cap + 1
    pending, seen = b"", 0
    while True:
        chunk = f.read(files._READ_HINT)
        if not chunk:
            break
        parts = chunk.split(b"\n")
        last = len(parts) - 1
        for i, part in enumerate(parts):
            if seen:
                seen += len(part)
                if i < last:
                    yield OverlongLine(pending, seen)
                    pending, seen = b"", 0
                continue
            if pending:
                part = pending + part
            if i < last:
                pending = b""
                yield part + b"\n" if len(part) < keep else OverlongLine(part[:keep], len(part))
            elif len(part) >= keep:
                pending, seen = part[:keep], len(part)
            else:
                pending = part
    if seen:
        yield OverlongLine(pending, seen)
    elif pending:
        yield pending


def _old_iter(path, batch_lines, max_line_bytes, limits, caps):
    """The reader as it was before lists (kept here as the reference)."""
    name = path
    f = files._open(path)
    guarded = GuardedReader(f, name, limits, caps, None)
    line_no, batch, numbers, contiguous, held = 0, [], [], True, 0
    lines = _old_bounded_lines(guarded, max_line_bytes + 2)
    try:
        while True:
            chunk = list(itertools.islice(lines, min(256, limits.max_lines - line_no)))
            if not chunk:
                if line_no >= limits.max_lines and next(lines, None) is not None:
                    caps.append(Cap(name, "max_input_lines", f"not read past line {line_no:,}"))
                break
            for raw in chunk:
                line_no += 1
                line = raw if type(raw) is OverlongLine else raw.rstrip(b"\r\n")
                if not line.strip():
                    contiguous = False
                    continue
                batch.append(line)
                numbers.append(line_no)
                held += len(line)
                if len(batch) >= batch_lines or held >= files.BATCH_BYTES:
                    yield batch, files._origin(name, numbers, contiguous)
                    batch, numbers, contiguous, held = [], [], True, 0
        if batch:
            yield batch, files._origin(name, numbers, contiguous)
    finally:
        f.close()


def _shape(batches):
    return [([(bytes(x), type(x).__name__, getattr(x, "size", None)) for x in b], o) for b, o in batches]


def _lines(rng: random.Random, n: int, blanks: bool = True) -> bytes:
    out = []
    for i in range(n):
        kind = rng.random() if blanks else 0.08 + 0.92 * rng.random()
        if kind < 0.05:
            out.append(b"")
        elif kind < 0.08:
            out.append(b"  \t")
        elif kind < 0.12:
            out.append(b"x" * rng.choice([99, 100, 101, 102, 103, 250]))
        elif kind < 0.2:
            out.append(b'{"a":%d}\r' % i)
        else:
            out.append(b'{"ts":"2026-01-01T00:00:00Z","i":%d,"p":"%s"}' % (i, b"/" * rng.randrange(40)))
    body = b"\n".join(out)
    return body if rng.random() < 0.5 else body + b"\n"


@pytest.mark.parametrize("arrow", [False, True])
@pytest.mark.parametrize("seed, blanks", [(s, True) for s in range(12)] + [(s, False) for s in range(12, 24)])
def test_same_batches_as_the_line_at_a_time_reader(tmp_path, monkeypatch, seed, blanks, arrow) -> None:
    """Without blank lines most reads take the whole-slice path, its byte bound and the exact count it
    falls back to near ``BATCH_BYTES``; each batch's facts for the screen (KnownLines) hold. With
    ``arrow`` the plain start of the input is split by Arrow and the list reader takes over where it
    stops being plain: the same batches, origins and caps either way."""
    rng = random.Random(seed)
    path = tmp_path / "in.log"
    data = _lines(rng, rng.choice([0, 1, 7, 300, 2_000]), blanks)
    if seed % 3 == 0:
        with gzip.open(path, "wb") as g:
            g.write(data)
    else:
        path.write_bytes(data)
    monkeypatch.setattr(files, "_READ_HINT", rng.choice([1, 5, 64, 997, 1 << 20]))
    monkeypatch.setattr(files, "BATCH_BYTES", rng.choice([50, 1_000, 16 << 20]))
    batch_lines = rng.choice([1, 3, 50, 5_000])
    limits = InputLimits(max_lines=rng.choice([5, 333, 500_000_000]))
    new_caps, old_caps = [], []
    batches = list(iter_line_batches(str(path), batch_lines, 100, limits, new_caps, arrow=arrow))
    got = _shape(batches)
    want = _shape(_old_iter(str(path), batch_lines, 100, limits, old_caps))
    assert got == want
    for batch, _ in batches:  # the facts may be conservative, never wrong
        assert type(batch) is KnownLines or arrow and type(batch) is ArrowLines
        assert not batch.plain or all(type(x) is bytes for x in batch)
        assert batch.longest >= max(map(len, batch))
        if type(batch) is ArrowLines:  # exact, and the item-at-a-time reading agrees with the list
            assert batch.longest == max(map(len, batch)) and batch.nbytes == sum(map(len, batch))
            assert [batch[i] for i in range(len(batch))] == list(batch) == batch[:]
    if batches and not any(type(x) is OverlongLine for b, _ in batches for x in b):
        assert all(b.plain for b, _ in batches)
    assert [(c.source, c.limit, c.detail) for c in new_caps] == [(c.source, c.limit, c.detail) for c in old_caps]


_DEFECTS = [b"", b"  \t", b" {\"a\":1}", b'{"a":1}\r', b"x" * 101, b"y" * 5_000, b"\x0c"]


@pytest.mark.parametrize("seed", range(40))
def test_arrow_reader_hands_over_at_the_first_line_that_is_not_plain(tmp_path, monkeypatch, seed) -> None:
    """Plain lines with one defect (blank, whitespace-led, CR, over the cap) at a random place, or none:
    Arrow's batches up to the batch holding it, the list reader's from there — together exactly the list
    reader's batches — and only ArrowLines when there is no defect."""
    rng = random.Random(seed)
    n = rng.choice([1, 2, 9, 40, 400, 3_000])
    lines = [b'{"i":%d,"p":"%s"}' % (i, b"/" * rng.randrange(30)) for i in range(n)]
    defect = rng.choice(_DEFECTS + [None, None])
    at = rng.randrange(n + 1)
    if defect is not None:
        lines.insert(at, defect)
    data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
    path = tmp_path / "in.log"
    if seed % 4 == 0:
        with gzip.open(path, "wb") as g:
            g.write(data)
    else:
        path.write_bytes(data)
    monkeypatch.setattr(files, "_READ_HINT", rng.choice([7, 64, 997, 1 << 20]))
    batch_lines = rng.choice([1, 3, 50, 5_000])
    limits = InputLimits(max_lines=rng.choice([n // 2 + 1, 500_000_000]))
    new_caps, old_caps = [], []
    batches = list(iter_line_batches(str(path), batch_lines, 100, limits, new_caps, arrow=True))
    assert _shape(batches) == _shape(_old_iter(str(path), batch_lines, 100, limits, old_caps))
    assert [(c.limit, c.detail) for c in new_caps] == [(c.limit, c.detail) for c in old_caps]
    kinds = [type(b) for b, _ in batches]
    assert kinds == sorted(kinds, key=lambda k: k is KnownLines)  # Arrow's first, then the list reader's
    if defect is None and limits.max_lines > n and files._READ_HINT > 64:
        assert set(kinds) == {ArrowLines}
    if defect is not None and seed % 4 and limits.max_lines > n:
        # Lines ended in reads before the one where the defect starts: a batch of them is Arrow's.
        start = len(b"\n".join(lines[:at])) + (1 if at else 0)
        before = (start // files._READ_HINT) * files._READ_HINT
        if data[:before].count(b"\n") >= batch_lines:
            assert kinds[0] is ArrowLines


def test_overlong_line_across_reads_is_one_record_with_its_size(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(files, "_READ_HINT", 16)
    path = tmp_path / "in.log"
    path.write_bytes(b"a\n" + b"y" * 1_000 + b"\r\nb\n")
    [(batch, origin)] = list(iter_line_batches(str(path), 10, 100))
    assert [bytes(x)[:3] for x in batch] == [b"a", b"yyy", b"b"]
    assert type(batch[1]) is OverlongLine and batch[1].size == 1_001 and len(batch[1]) == 103
    assert origin.first == 1 and origin.offsets is None


@pytest.mark.parametrize("arrow", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_the_screen_answers_the_readers_batches_as_plain_lists(tmp_path, seed, arrow) -> None:
    """The screen trusts a batch's facts (no per-item type and length pass): it must answer exactly as
    for a plain list of the same items — long lines, deep nesting, over-long lines and all; for Arrow's
    batches (ArrowLines) its checks run in Arrow's kernels and it answers with an Arrow buffer of the
    same bytes."""
    from streams.core.batch_columns import arrow_screen

    rng = random.Random(seed)
    out = []
    for i in range(3_000):
        kind = rng.random()
        if kind < 0.01:
            out.append(b'{"a":' + b"[" * 1_020 + b"]" * 1_020 + b"}")  # nested past orjson's limit
        elif kind < 0.02:
            out.append(b'{"ua":"' + b"x" * rng.choice([990, 1_200, 70_000 if not arrow else 60_000]) + b'"}')
        elif kind < 0.025:
            out.append(b'{"ua":"\xc3\xa9"}' if rng.random() < 0.5 else b'{"d":NaN}')
        else:
            out.append(b'{"ts":"2026-01-01T00:00:00Z","i":%d}' % i)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(out) + b"\n")
    seen = set()
    kinds = set()
    for batch, _ in iter_line_batches(str(path), [7, 60][seed % 2], 65_536, arrow=arrow):
        got = arrow_screen(batch, 65_536)
        want = arrow_screen(list(batch), 65_536)
        kinds.add(type(batch))
        assert (got.to_pybytes() if type(batch) is ArrowLines and got is not None else got) == want
        seen.add(got is None)
    assert seen == {True, False}  # batches the screen takes, and batches it refuses
    assert kinds == {ArrowLines if arrow else KnownLines}


def test_non_ascii_utf8_keeps_the_batch_whole_and_invalid_utf8_declines_it(tmp_path) -> None:
    """The screen asks for valid UTF-8, not ASCII: a batch of the Arrow reader holding an "é" is read
    whole; one holding a byte that is not UTF-8 goes per record — the answers of plain lists either way."""
    from streams.core.batch_columns import arrow_screen

    lines = [b'{"ts":"2026-01-01T00:00:00Z","i":%d,"pad":"%s"}' % (i, b"p" * 40) for i in range(30_000)]
    lines[12_000] = '{"ua":"caf\u00e9 \u5fae\u4fe1 \U0001f600"}'.encode().decode("unicode_escape").encode()
    lines[25_000] = b'{"ua":"\xff"}'
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    declined = []
    for batch, _ in iter_line_batches(str(path), 5_000, 65_536, arrow=True):
        assert type(batch) is ArrowLines
        got = arrow_screen(batch, 65_536)
        assert (got.to_pybytes() if got is not None else None) == arrow_screen(list(batch), 65_536)
        declined.append(got is None)
    assert declined == [k == 5 for k in range(6)]  # only the batch holding line 25,001
