"""Authenticated brokers: every Kafka client truesli creates works over SASL (SCRAM-SHA-512/256, PLAIN),
SSL and SASL_SSL against a real broker; a wrong password or an untrusted certificate stops `run`, `replay`
and `archive` at once with one line naming the fix; secrets never reach any output; the worker's HTTP
endpoints bind where configured and show no configuration."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import yaml
from confluent_kafka.admin import AdminClient, NewTopic

from streams.config import Config, load_config
from streams.kafka.clients import client_conf
from streams.tools.loaders import produce_request_logs
from tests.support.live_harness import ROOT, Worker, expected_counters, live_config, mix, wait_for_counters
from tests.support.secure_broker import SecureBroker

PASSWORD_ENV = "TRUESLI_TEST_KAFKA_PASSWORD"


@dataclass
class Secured:
    """A test config for one listener/mechanism, where its password lives, and the env to run truesli in."""

    path: Path
    config: Config
    password: str
    env: dict[str, str]


def secured(tmp_path: Path, secure: SecureBroker, listener: str, mechanism: str | None = None, *,
            via_env: bool = False, ca: str = "ca", password: str | None = None, partitions: int = 2,
            extra: dict | None = None, worker: dict | None = None, client_cert: bool = True,
            monkeypatch: pytest.MonkeyPatch | None = None) -> Secured:
    """A live_config() for ``listener`` of the secure broker, with a kafka.security section. With ``via_env``
    the password is in $TRUESLI_TEST_KAFKA_PASSWORD (set here through ``monkeypatch`` too, for in-process
    clients)."""
    protocol = {"SASL": "SASL_PLAINTEXT", "SSL": "SSL", "SASLSSL": "SASL_SSL", "MTLS": "SSL"}[listener]
    path = live_config(tmp_path, secure.address(listener), partitions=partitions)
    doc = yaml.safe_load(path.read_text())
    sec: dict = {"protocol": protocol}
    env = dict(os.environ)
    env.pop(PASSWORD_ENV, None)
    secret = ""
    if mechanism is not None:
        user, real = secure.users[mechanism]
        secret = real if password is None else password
        sec.update(sasl_mechanism=mechanism, username=user)
        if via_env:
            sec["password_env"] = PASSWORD_ENV
            env[PASSWORD_ENV] = secret
        else:
            pw_file = tmp_path / f"{mechanism.lower()}-{uuid.uuid4().hex[:6]}.password"
            pw_file.write_text(secret + "\n")
            pw_file.chmod(0o600)
            sec["password_file"] = str(pw_file)
    if protocol in ("SSL", "SASL_SSL"):
        sec["ca_file"] = str(secure.tls.ca_pem if ca == "ca" else secure.tls.rogue_ca_pem)
    if listener == "MTLS" and client_cert:
        sec.update(cert_file=str(secure.tls.client_cert), key_file=str(secure.tls.client_key),
                   key_password_file=str(secure.tls.client_key_password_file))
    doc["kafka"]["security"] = sec
    doc["kafka"].update(extra or {})
    doc["worker"].update(worker or {})
    path.write_text(yaml.safe_dump(doc))
    if via_env and monkeypatch is not None:
        monkeypatch.setenv(PASSWORD_ENV, secret)
    return Secured(path, load_config(path), secret, env)


def _cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          timeout=timeout)


def _create_topic(s: Secured, partitions: int) -> str:
    """Created through truesli's own client settings (the admin client path), not the plaintext listener."""
    topic = f"sec-{uuid.uuid4().hex[:12]}"
    admin = AdminClient(client_conf(s.config.kafka))
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                  config={"retention.ms": "-1"})])[topic].result(30)
    return topic


def _summary(args: list[str], s: Secured, out: Path) -> dict:
    r = _cli([*args, "--summary-json", str(out)], s.env)
    assert r.returncode == 0, r.stderr.decode()
    sec = s.config.kafka.security
    key_password = Path(sec.key_password_file).read_text().strip() if sec.key_password_file else ""
    for secret in filter(None, (s.password, key_password)):
        assert secret.encode() not in r.stdout + r.stderr
    return orjson.loads(out.read_bytes())


@pytest.mark.parametrize(("listener", "mechanism", "via_env"), [
    ("SASL", "SCRAM-SHA-512", False),
    ("SASL", "PLAIN", True),
    ("SSL", None, False),
    ("SASLSSL", "SCRAM-SHA-256", False),
    ("MTLS", None, False),
], ids=["sasl-scram512-file", "sasl-plain-env", "ssl", "sasl_ssl-scram256-file", "ssl-client-certificate"])
def test_replay_over_secured_listener_equals_process(secure_kafka, tmp_path, monkeypatch, listener, mechanism,
                                                      via_env):
    s = secured(tmp_path, secure_kafka, listener, mechanism, via_env=via_env, monkeypatch=monkeypatch)
    topic = _create_topic(s, partitions=2)
    lines = mix(3_000, seed=61)
    produce_request_logs(client_conf(s.config.kafka), topic, lines)  # truesli's producer settings
    (tmp_path / "all.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    expected = _summary(["process", "--config", str(s.path), str(tmp_path / "all.jsonl")], s, tmp_path / "p.json")
    got = _summary(["replay", "--config", str(s.path), "--topic", topic], s, tmp_path / "r.json")
    assert got["consumed"] == expected["consumed"] == len(lines)
    got.pop("late"), expected.pop("late")  # delivery order (per partition), not the SLI
    assert got == expected


def _run_args(s: Secured, tmp_path: Path, command: str, topic: str = "requests.raw") -> list[str]:
    return {"run": ["run", "--config", str(s.path), "--worker-id", "auth", "--web-port", "0"],
            "replay": ["replay", "--config", str(s.path), "--topic", topic],
            "archive": ["archive", "--config", str(s.path), "--topic", topic, "--out", str(tmp_path / "a")],
            }[command]


# connect_timeout_s is far above the subprocess timeout: passing proves the failure did not wait it out.
SLOW_CONNECT = {"connect_timeout_s": 300}


@pytest.mark.parametrize("command", ["run", "replay", "archive"])
def test_wrong_password_fails_fast_with_one_line(secure_kafka, tmp_path, command):
    wrong = "wrong-" + uuid.uuid4().hex
    s = secured(tmp_path, secure_kafka, "SASL", "SCRAM-SHA-512", password=wrong, extra=SLOW_CONNECT)
    r = _cli(_run_args(s, tmp_path, command), s.env, timeout=60)
    sec = s.config.kafka.security
    assert r.returncode == 2
    assert r.stdout == b""
    assert r.stderr.decode() == (
        f"truesli: error: Kafka authentication failed for user alice via SCRAM-SHA-512 at "
        f"{secure_kafka.address('SASL')} — check kafka.security.username and the password in "
        f"kafka.security.password_file ({sec.password_file})\n")
    assert wrong.encode() not in r.stderr and secure_kafka.users["SCRAM-SHA-512"][1].encode() not in r.stderr


def test_wrong_plain_password_from_env_names_the_variable(secure_kafka, tmp_path):
    wrong = "wrong-" + uuid.uuid4().hex
    s = secured(tmp_path, secure_kafka, "SASLSSL", "PLAIN", via_env=True, password=wrong, extra=SLOW_CONNECT)
    r = _cli(_run_args(s, tmp_path, "replay"), s.env, timeout=60)
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.decode() == (
        f"truesli: error: Kafka authentication failed for user carol via PLAIN at {secure_kafka.address('SASLSSL')}"
        f" — check kafka.security.username and the password in kafka.security.password_env (environment variable "
        f"{PASSWORD_ENV})\n")
    assert wrong.encode() not in r.stderr


@pytest.mark.parametrize("command", ["run", "replay", "archive"])
def test_untrusted_certificate_fails_fast_with_one_line(secure_kafka, tmp_path, command):
    s = secured(tmp_path, secure_kafka, "SSL", ca="rogue", extra=SLOW_CONNECT)
    r = _cli(_run_args(s, tmp_path, command), s.env, timeout=60)
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.decode() == (
        f"truesli: error: Kafka TLS: the broker certificate at {secure_kafka.address('SSL')} is not trusted "
        "(self-signed certificate in certificate chain) — set kafka.security.ca_file to the CA certificate that "
        f"signed it (now {secure_kafka.tls.rogue_ca_pem})\n")


def test_certificate_for_another_host_name_is_refused_unless_verify_hostname_is_off(secure_kafka, tmp_path):
    # localhost reaches the broker, but its certificate lists only IP:127.0.0.1.
    by_name = "localhost:" + secure_kafka.address("SSL").rsplit(":", 1)[1]
    s = secured(tmp_path, secure_kafka, "SSL", extra={**SLOW_CONNECT, "bootstrap_servers": by_name})
    r = _cli(_run_args(s, tmp_path, "replay"), s.env, timeout=60)
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.decode() == (
        f"truesli: error: Kafka TLS: the broker certificate at {by_name} does not name that host — connect by a "
        "name the certificate lists (kafka.bootstrap_servers), or set kafka.security.verify_hostname: false\n")
    doc = yaml.safe_load(s.path.read_text())
    doc["kafka"]["security"]["verify_hostname"] = False
    s.path.write_text(yaml.safe_dump(doc))
    s.config = load_config(s.path)
    topic = _create_topic(s, partitions=1)
    lines = mix(300, seed=63)
    produce_request_logs(client_conf(s.config.kafka), topic, lines)
    summary = _summary(["replay", "--config", str(s.path), "--topic", topic], s, tmp_path / "r.json")
    assert summary["consumed"] == len(lines)


def test_broker_requiring_a_client_certificate_refuses_a_client_without_one(secure_kafka, tmp_path):
    s = secured(tmp_path, secure_kafka, "MTLS", client_cert=False, extra=SLOW_CONNECT)
    r = _cli(_run_args(s, tmp_path, "replay"), s.env, timeout=60)
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.decode() == (f"truesli: error: Kafka TLS: the broker at {secure_kafka.address('MTLS')} requires "
                                 "a client certificate — set kafka.security.cert_file and key_file\n")


def test_tls_client_against_a_sasl_plaintext_listener_names_the_protocol(secure_kafka, tmp_path):
    s = secured(tmp_path, secure_kafka, "SSL", extra={**SLOW_CONNECT,
                                                      "bootstrap_servers": secure_kafka.address("SASL")})
    r = _cli(_run_args(s, tmp_path, "replay"), s.env, timeout=60)
    assert (r.returncode, r.stdout) == (2, b"")
    err = r.stderr.decode()
    assert err.startswith(f"truesli: error: Kafka TLS handshake with {secure_kafka.address('SASL')} failed (")
    assert err.endswith("— check that kafka.security.protocol (SSL) matches the broker's listener\n")
    assert err.count("\n") == 1 and "Traceback" not in err


@dataclass
class SecureWorker(Worker):
    """``truesli run`` at debug log level, with the test's environment and web host."""

    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    def start(self) -> "SecureWorker":
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run", "--config", str(self.config_path), "--worker-id",
             self.worker_id, "--web-port", str(self.web_port), "--loglevel", "debug"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**self.env, "PYTHONUNBUFFERED": "1"})
        return self

    def get(self, path: str, host: str | None = None) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://{host or self.host}:{self.web_port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics(self) -> dict[str, float]:
        out = {}
        for line in self.get("/metrics")[1].decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


def _refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(3)
        return sock.connect_ex((host, port)) != 0


@pytest.mark.parametrize(("listener", "mechanism", "via_env", "web_host"), [
    ("SASLSSL", "PLAIN", True, "127.0.0.2"),
    ("SASL", "SCRAM-SHA-512", False, None),
    ("MTLS", None, False, None),
], ids=["sasl_ssl-plain-env-web127.0.0.2", "sasl-scram512-file-default-web", "ssl-client-certificate"])
def test_live_worker_over_secured_listener(secure_kafka, tmp_path, monkeypatch, listener, mechanism, via_env,
                                          web_host):
    s = secured(tmp_path, secure_kafka, listener, mechanism, via_env=via_env, monkeypatch=monkeypatch,
                worker={"web_host": web_host} if web_host else None)
    lines = mix(6_000, seed=62)
    expected = expected_counters(s.config, lines)
    w = SecureWorker(s.path, "sec", tmp_path / "worker.log", env=s.env, host=s.config.worker.web_host).start()
    try:
        w.wait_metrics(lambda m: m.get("truesli_assigned_partitions") == 2)
        produce_request_logs(client_conf(s.config.kafka), s.config.kafka.topics.requests, lines)
        # Read back through the broker's own plaintext listener: the reader is the test, not truesli.
        got = wait_for_counters(secure_kafka.address("PLAINTEXT"), s.config.kafka.topics.counters, expected)
        assert got == expected, w.tail()
        m = w.wait_metrics(lambda m: m.get("truesli_consumed_total") == len(lines))
        assert m["truesli_broker_errors_total"] == 0
        # The endpoints answer on the configured host only, and say nothing about the configuration.
        other = "127.0.0.1" if web_host else "127.0.0.2"
        assert _refused(other, w.web_port)
        metrics_status, metrics_body = w.get("/metrics")
        health_status, health_body = w.get("/health")
        assert (metrics_status, health_status) == (200, 200)
        assert orjson.loads(health_body)["assigned_partitions"] == [0, 1]
        k = s.config.kafka
        tls = secure_kafka.tls
        private = [s.password, k.security.username, k.bootstrap_servers, k.group_id, k.topics.requests,
                   str(tls.ca_pem), k.security.password_file or PASSWORD_ENV, str(tls.client_key),
                   tls.client_key_password_file.read_text().strip()]
        for body in (metrics_body, health_body):
            for value in filter(None, private):
                assert value.encode() not in body, value
        # faust's own pages would show table contents and partition routing: switched off.
        for path in ("/router/", "/table/latest-partials/", "/graph/", "/stats/"):
            assert w.get(path)[0] == 404, path
    finally:
        w.stop()
    assert w.proc.returncode == 0, w.tail()
    log = w.log_path.read_bytes()
    if mechanism is not None:
        # aiokafka logged its SASL requests at DEBUG (PLAIN's carry the password in clear)…
        assert b"SaslAuthenticateRequest_v1(sasl_auth_bytes=<redacted>)" in log
        assert s.password.encode() not in log  # …and the password is nowhere in the log
    else:
        key_password = secure_kafka.tls.client_key_password_file.read_text().strip()
        assert b"[DEBUG]" in log and key_password.encode() not in log
