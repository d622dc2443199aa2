"""The CLI explains itself: --version, a description for every command, help (and defaults) for every
flag, and options that cannot apply rejected with one line instead of silently ignored."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from streams.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def truesli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_version():
    r = truesli("--version")
    assert (r.returncode, r.stdout) == (0, f"truesli {version('truesli')}\n")


def test_every_command_has_a_description_and_every_flag_a_help_text():
    commands = _commands()
    assert sorted(commands) == ["archive", "bench", "demo", "gen", "process", "replay", "report", "rules", "run",
                                "sniff"]
    for name, parser in commands.items():
        assert parser.description and parser.description.endswith("."), name
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help text"
                if action.default not in (None, False) and action.default != argparse.SUPPRESS:
                    assert "default" in action.help, f"{name} {action.option_strings[0]} hides its default"


@pytest.mark.parametrize("command,flag,words", [
    ("gen", "--seed", "(default: 1)"), ("demo", "--events", "(default: 500,000)"), ("demo", "--seed", "(default: 7)"),
    ("bench", "--events", "(default: 1,000,000)"), ("bench", "--seed", "(default: 1)"),
    ("process", "--format", "(default: auto"), ("run", "--loglevel", "(default: info"),
])
def test_flags_named_in_the_issue_say_their_default(command, flag, words):
    action = next(a for a in _commands()[command]._actions if flag in a.option_strings)
    assert words in action.help


@pytest.mark.parametrize("args,message", [
    (["gen", "--scenario", "burst", "--events", "10", "--out", "x"],
     "truesli: error: --events does not apply to --scenario burst (a scenario has a fixed length, seed and mix): "
     "drop it"),
    (["gen", "--scenario", "burst", "--seed", "3", "--bot-share", "0.5", "--out", "x"],
     "truesli: error: --seed, --bot-share do not apply to --scenario burst (a scenario has a fixed length, seed and "
     "mix): drop them"),
    (["gen", "--events", "10", "--changes-out", "c.jsonl", "--out", "x"],
     "truesli: error: --changes-out needs --scenario NAME: the traffic mix has no change events"),
])
def test_options_that_do_not_apply_are_rejected(args, message, tmp_path):
    r = subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert (r.returncode, r.stderr.splitlines()) == (2, [message])
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_gen_defaults_still_apply_without_scenario(tmp_path):
    out = tmp_path / "mix.jsonl"
    r = truesli("gen", "--events", "50", "--out", str(out))
    assert r.returncode == 0, r.stderr
    again = tmp_path / "again.jsonl"
    assert truesli("gen", "--events", "50", "--seed", "1", "--bot-share", "0.9", "--out", str(again)).returncode == 0
    assert out.read_bytes() == again.read_bytes()


def test_run_on_a_taken_web_port_is_one_line_before_any_kafka_work(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # No broker at all: the port is checked first, so the error names the port, not the broker.
        config = tmp_path / "c.yaml"
        config.write_text("kafka: {bootstrap_servers: '127.0.0.1:9', connect_timeout_s: 1}\n")
        r = truesli("run", "--config", str(config), "--web-port", str(port))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"truesli: error: cannot listen on 127.0.0.1:{port} for /metrics and /health (Address already in use): "
        "another worker may be running here; pass --web-port N or set worker.web_port"]
