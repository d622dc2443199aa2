"""remote_write settings are validated once, at load (and for a --remote-write URL): protocol headers, one auth
method, TLS needing https — and no secret in the config or on the command line (issue 18, item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streams.config import ConfigError, RemoteWriteConfig, config_from_dict
from streams.config.secrets import read_secret, redact_url
from streams.sinks.publish import PublishError, make_sink

ROOT = Path(__file__).resolve().parents[3]
SECRET = "RWTOKEN-unit-7f3a9c"
URL = "https://rw.example:9443/api/v1/write"
INSTEAD = ("bearer_token_file/bearer_token_env or basic_auth_username with basic_auth_password_file/"
           "basic_auth_password_env")


def _error(rw: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"remote_write": rw}, "t.yaml")
    msg = str(exc.value)
    assert SECRET not in msg
    return msg


@pytest.mark.parametrize("name", ["Content-Encoding", "content-type", "X-Prometheus-Remote-Write-Version",
                                  "user-agent"])
def test_protocol_headers_cannot_be_overridden(name: str) -> None:
    assert _error({"url": URL, "headers": {name: "x"}}) == (
        f"t.yaml: invalid configuration:\n  remote_write.headers: {name} is set by the protocol and cannot be "
        "overridden")


@pytest.mark.parametrize("name, value", [
    ("Authorization", f"Bearer {SECRET}"),
    ("authorization", SECRET),
    ("Proxy-Authorization", f"Basic {SECRET}"),
    ("X-API-Key", SECRET),
    ("Cookie", f"session={SECRET}"),
    ("X-Auth-Token", SECRET),
    ("X-Amz-Security-Token", SECRET),
    ("X-Api-Secret", SECRET),
    ("X-Custom", f"Bearer {SECRET}"),  # an innocent name, but the value is a credential
])
def test_credential_bearing_headers_are_rejected_pointing_to_files_and_env(name: str, value: str) -> None:
    assert _error({"url": URL, "headers": {name: value}}) == (
        f"t.yaml: invalid configuration:\n  remote_write.headers: {name} carries a credential and secrets are not "
        f"accepted in the config file — put it in a file or an environment variable named by {INSTEAD}")


def test_ordinary_headers_are_accepted() -> None:
    headers = {"X-Scope-OrgID": "tenant-1", "X-Prometheus-Tenant": "a", "THANOS-TENANT": "b", "X-Monkey": "c"}
    assert config_from_dict({"remote_write": {"url": URL, "headers": headers}}).remote_write.headers == headers


@pytest.mark.parametrize("query, names", [
    (f"api_key={SECRET}", "api_key"),
    (f"tenant=a&token={SECRET}", "token"),
    (f"access_token={SECRET}&apikey={SECRET}", "access_token, apikey"),
    (f"X-Amz-Signature={SECRET}", "X-Amz-Signature"),
    (f"key={SECRET}", "key"),
    (f"sig={SECRET}", "sig"),
])
def test_url_query_secrets_are_rejected_with_the_url_redacted(query: str, names: str) -> None:
    shown = redact_url(f"{URL}?{query}")
    assert _error({"url": f"{URL}?{query}"}) == (
        f"t.yaml: invalid configuration:\n  remote_write.url: query parameter {names} looks like a secret and "
        f"secrets are not accepted in the config or on the command line ({shown}) — use {INSTEAD}")


def test_url_user_info_and_bad_urls_are_rejected_without_echoing_secrets() -> None:
    assert _error({"url": f"https://alice:{SECRET}@rw.example/api/v1/write?tenant=x"}) == (
        "t.yaml: invalid configuration:\n  remote_write.url: credentials are not accepted in the URL "
        f"(https://<redacted>@rw.example/api/v1/write?tenant=<redacted>) — use {INSTEAD}")
    assert _error({"url": f"ftp://rw.example/?tenant={SECRET}"}) == (
        "t.yaml: invalid configuration:\n  remote_write.url: must be http(s)://host[:port]/path, got "
        "ftp://rw.example/?tenant=<redacted>")
    assert _error({"url": f"http://rw.example:99999/?tenant={SECRET}"}) == (
        "t.yaml: invalid configuration:\n  remote_write.url: not a URL: <redacted>")


def test_redact_url_keeps_names_and_drops_values() -> None:
    assert redact_url("http://u:p@[::1]:9090/api/v1/write?a=1&b&c=3#frag") == \
        "http://<redacted>@[::1]:9090/api/v1/write?a=<redacted>&b=<redacted>&c=<redacted>"
    assert redact_url("http://127.0.0.1:9090/api/v1/write") == "http://127.0.0.1:9090/api/v1/write"


def test_one_auth_method_and_tls_needs_https() -> None:
    assert _error({"url": URL, "bearer_token_env": "T", "basic_auth_username": "a",
                   "basic_auth_password_env": "P"}) == (
        "t.yaml: invalid configuration:\n  remote_write: basic_auth_username and bearer_token_env: configure at "
        "most one of basic_auth_username, bearer_token_file, bearer_token_env")
    assert _error({"url": URL, "basic_auth_username": "a"}) == (
        "t.yaml: invalid configuration:\n  remote_write: basic_auth_username needs exactly one of "
        "basic_auth_password_file or basic_auth_password_env")
    assert _error({"url": URL, "basic_auth_password_file": "/p"}) == (
        "t.yaml: invalid configuration:\n  remote_write: basic_auth_password_file: needs basic_auth_username")
    assert _error({"url": "http://rw.example/api/v1/write", "ca_file": "/ca.pem", "insecure_skip_verify": True}) == (
        "t.yaml: invalid configuration:\n  remote_write: ca_file and insecure_skip_verify: TLS options need an "
        "https:// url")


def test_a_command_line_url_is_validated_like_the_config() -> None:
    rw = RemoteWriteConfig(ca_file="/ca.pem")
    with pytest.raises(PublishError) as exc:
        make_sink(rw, f"http://rw.example/api/v1/write?api_key={SECRET}")
    assert str(exc.value) == (
        "--remote-write: query parameter api_key looks like a secret and secrets are not accepted in the config or "
        f"on the command line (http://rw.example/api/v1/write?api_key=<redacted>) — use {INSTEAD}")
    with pytest.raises(PublishError) as exc:
        make_sink(rw, "http://rw.example/api/v1/write")
    assert str(exc.value) == "--remote-write: ca_file: TLS options need an https:// url"


def test_read_secret_is_the_one_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s"
    f.write_text(f"{SECRET}\r\n")
    assert read_secret(file=str(f), env="IGNORED", what="x.y").get_secret_value() == SECRET
    monkeypatch.setenv("TRUESLI_UNIT_RS", SECRET)
    assert read_secret(file=None, env="TRUESLI_UNIT_RS", what="x.y").get_secret_value() == SECRET
    assert read_secret(file=None, env=None, what="x.y") is None
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as exc:
        read_secret(file=str(f), env=None, what="x.y")
    assert str(exc.value) == f"x.y_file: cannot read {f}: not UTF-8 text"
    f.write_text("\n")
    with pytest.raises(ConfigError) as exc:
        read_secret(file=str(f), env=None, what="x.y")
    assert str(exc.value) == f"x.y_file: {f} is empty"


def _process(tmp_path: Path, rw: dict, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"remote_write": rw}))
    log = tmp_path / "one.jsonl"
    log.write_text('{"ts": "2026-01-01T00:00:00Z", "client_ip": "203.0.113.7", "method": "GET", "host": "a.example", '
                   '"path": "/", "status": 200, "duration_ms": 5, "user_agent": "Mozilla/5.0"}\n')
    return subprocess.run([sys.executable, "-m", "streams.cli", "process", "--config", str(cfg), str(log), *args],
                          cwd=ROOT, capture_output=True, timeout=120, env={**os.environ, **(env or {})})


def test_cli_inline_secrets_are_one_line_exit_2(tmp_path: Path) -> None:
    r = _process(tmp_path, {"url": URL, "headers": {"Authorization": f"Bearer {SECRET}"}})
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.decode() == (
        f"truesli: error: {tmp_path / 'c.yaml'}: invalid configuration:\n  remote_write.headers: Authorization "
        "carries a credential and secrets are not accepted in the config file — put it in a file or an environment "
        f"variable named by {INSTEAD}\n")
    # A command-line URL is refused too (after the run's report: the URL is only needed to push).
    r = _process(tmp_path, {"deadline_s": 1}, "--remote-write", f"http://127.0.0.1:1/api/v1/write?api_key={SECRET}")
    assert r.returncode == 2 and SECRET.encode() not in r.stdout
    assert r.stderr.decode() == (
        "truesli: error: --remote-write: query parameter api_key looks like a secret and secrets are not accepted "
        "in the config or on the command line (http://127.0.0.1:1/api/v1/write?api_key=<redacted>) — use "
        f"{INSTEAD}\n")


@pytest.mark.parametrize("rw, message", [
    ({"bearer_token_file": "/nonexistent/rw.token"},
     "remote_write.bearer_token_file: cannot read /nonexistent/rw.token: No such file or directory"),
    ({"bearer_token_env": "TRUESLI_UNIT_RW_UNSET"},
     "remote_write.bearer_token_env: environment variable TRUESLI_UNIT_RW_UNSET is not set"),
    ({"basic_auth_username": "alice", "basic_auth_password_file": "/nonexistent/rw.pw"},
     "remote_write.basic_auth_password_file: cannot read /nonexistent/rw.pw: No such file or directory"),
    ({"basic_auth_username": "alice", "basic_auth_password_env": "TRUESLI_UNIT_RW_EMPTY"},
     "remote_write.basic_auth_password_env: environment variable TRUESLI_UNIT_RW_EMPTY is empty"),
])
def test_cli_missing_remote_write_secret_is_one_line_exit_2(tmp_path: Path, rw: dict, message: str) -> None:
    env = {"TRUESLI_UNIT_RW_EMPTY": ""}
    r = _process(tmp_path, {"url": "http://127.0.0.1:1/api/v1/write", **rw}, env=env)
    assert (r.returncode, r.stderr.decode()) == (2, f"truesli: error: {message}\n")
