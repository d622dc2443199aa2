"""Archive replay on several processes (runs/replay_workers.py) equals the one-process replay: the same
Outputs in the same order through ``on_output``, the same tally, merged counters, caps and dead-letter
samples, and the same files from ``truesli replay --workers N``; archives whose partitions the footers
cannot prove fall back to one process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streams.config import load_config
from streams.runs.replay import replay_archive
from streams.runs.replay_workers import partition_groups, replay_groups, worker_count
from streams.sources.files import InputError
from streams.sources.parquet import archive_files
from tests.unit.sources.test_archive_columns import _archive_rows, _write

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "examples" / "truesli.yaml"


def _archive(root: Path, partitions: int = 3, events: int = 1_500) -> list[Path]:
    """``partitions`` partitions of the generated mix (one seed each, every 97th record undecodable), two
    files each, in the archive's layout; the files in replay order."""
    for p in range(partitions):
        rows = _archive_rows(events, seed=20 + p, partition=p, bad_every=97)
        half = len(rows) // 2
        for chunk in (rows[:half], rows[half:]):
            folder = root / "date=2026-01-01" / f"hour={p:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            _write(folder / f"p{p:05d}-{chunk[0]['kafka_offset']:020d}.parquet", chunk, row_group_size=400)
    files = archive_files([str(root)])
    assert files is not None
    return files


def _run(files: list[Path], workers: int, config=None, **kw):
    seen: list = []
    result = replay_archive(config or load_config(CONFIG), files, workers=workers, on_output=seen.append, **kw)
    return result, seen


def test_worker_processes_give_the_one_process_outputs_in_its_order(tmp_path) -> None:
    files = _archive(tmp_path)
    assert [len(g) for g in partition_groups(files)] == [2, 2, 2]
    assert worker_count(2, 3) == 2 and worker_count(None, 1) == 1 and worker_count(8, 3) == 3
    one, one_seen = _run(files, 1)
    assert one.tally.consumed == 4_500
    assert sum(one.tally.dead_lettered.values()) == 3 * 16  # k % 97 == 3 for k < 1,500: 16 per partition
    one.tally.check_conservation()
    for workers in (2, 3):
        got, got_seen = _run(files, workers)
        assert got_seen == one_seen
        assert got.tally == one.tally
        assert got.book.merged() == one.book.merged()
        assert got.dead_letter_samples == one.dead_letter_samples
        assert got.capped == one.capped
        assert got.inputs == one.inputs
    # The flushes come last, partition by partition, as one process gives them.
    assert [o.counters[0].partition for o in one_seen[-3:] if o.counters] == [0, 1, 2]


def test_caps_and_a_time_range_are_per_file_as_in_one_process(tmp_path) -> None:
    files = _archive(tmp_path)
    base = load_config(CONFIG)
    # Each file stops after 500 of its 750 rows.
    config = base.model_copy(update={"limits": base.limits.model_copy(update={"max_input_lines": 500})})
    lo = 1_767_225_600_000 + 60_000
    one, one_seen = _run(files, 1, config, from_ms=lo)
    got, got_seen = _run(files, 2, config, from_ms=lo)
    assert [c.limit for c in one.capped] == ["max_input_lines"] * 6
    assert got.capped == one.capped
    assert got_seen == one_seen
    assert got.tally == one.tally


def test_partitions_the_footers_do_not_prove_replay_in_one_process(tmp_path) -> None:
    files = _archive(tmp_path / "a", partitions=2, events=300)
    # A file holding two partitions.
    mixed = _write(tmp_path / "p00000-00000000000000000001.parquet",
                   _archive_rows(10, 1, 0) + _archive_rows(10, 2, 1))
    assert partition_groups([mixed]) is None
    # A partition whose files are not contiguous in replay order.
    assert partition_groups([files[0], files[2], files[1]]) is None
    # A file without rows joins the run it is in.
    empty = _write(tmp_path / "p00000-00000000000000000002.parquet", [])
    assert [len(g) for g in partition_groups([empty, *files])] == [3, 2]
    # Not an archive file at all.
    plain = tmp_path / "plain.parquet"
    plain.write_bytes(b"not parquet")
    assert partition_groups([plain]) is None
    # The fallback replays exactly as one process does.
    shuffled = [files[0], files[2], files[1], files[3]]
    assert _run(shuffled, 2)[1] == _run(shuffled, 1)[1]


def test_groups_run_in_other_processes_and_come_back_in_order() -> None:
    got = list(replay_groups([[Path("a")], [Path("b")], [Path("c")]], 2, lambda g: (os.getpid(), g)))
    assert [g for _, g in got] == [[Path("a")], [Path("b")], [Path("c")]]
    assert os.getpid() not in {pid for pid, _ in got}

    def fail(group):
        if group == [Path("b")]:
            raise InputError("cannot read b: broken")
        return group

    with pytest.raises(InputError, match="cannot read b: broken"):
        list(replay_groups([[Path("a")], [Path("b")]], 2, fail))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_workers_write_the_same_files(tmp_path) -> None:
    _archive(tmp_path / "archive")
    outs = {}
    for workers in ("1", "3"):
        d = tmp_path / f"w{workers}"
        d.mkdir()
        r = _cli("replay", "--config", str(CONFIG), "--parquet", str(tmp_path / "archive"), "--workers", workers,
                 "--counters", str(d / "c.jsonl"), "--dead-letters", str(d / "d.jsonl"),
                 "--summary-json", str(d / "s.json"))
        assert r.returncode == 0, r.stderr
        # The run's wall-clock stamps (emitted_at, a dead letter's ts) masked.
        texts = [re.sub(r'"(emitted_at|ts)":"[^"]*"', "", (d / n).read_text()) for n in ("c.jsonl", "d.jsonl")]
        summary = {k: v for k, v in json.loads((d / "s.json").read_text()).items() if k != "inputs"}
        outs[workers] = [*texts, summary]
    assert outs["3"] == outs["1"]
    assert len(outs["1"][1].splitlines()) == 48
    r = _cli("replay", "--parquet", str(tmp_path / "archive"), "--workers", "0")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].endswith(
        "--workers must be at least 1 (got 0); leave it out to use every usable CPU")
