"""kafka.security: one typed section for every Kafka client, secrets only from files or environment variables,
never in the config, its errors, its repr or the logs. (Against a real broker: tests/integration/
test_kafka_security.py.)"""

from __future__ import annotations

import logging
import ssl
import subprocess
import sys
from pathlib import Path

import faust
import pytest
import yaml

from streams.config import ConfigError, config_from_dict, load_config
from streams.kafka.clients import client_conf, consumer_conf
from streams.kafka.security import RedactSecrets, faust_credentials, librdkafka_settings, redact_client_logs

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Tr0ub4dor&3-unit-secret"
CA_PEM = Path(__file__).resolve().parent / "data" / "test-ca.pem"


def _error(kafka: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"kafka": kafka}, "t.yaml")
    return str(exc.value)


def _kafka(security: dict, **extra):
    return config_from_dict({"kafka": {"security": security, **extra}}).kafka


@pytest.fixture
def pw_file(tmp_path) -> Path:
    path = tmp_path / "kafka.password"
    path.write_text(SECRET + "\n")
    return path


def test_default_is_plaintext_and_adds_only_the_protocol():
    k = config_from_dict({}).kafka
    assert k.security.protocol == "PLAINTEXT"
    assert client_conf(k) == {"bootstrap.servers": "127.0.0.1:9092", "client.id": "truesli-truesli",
                              "security.protocol": "PLAINTEXT"}
    assert faust_credentials(k.security) is None


def test_consumers_fetch_again_soon_after_a_full_queue_unless_kafka_client_says_otherwise():
    k = config_from_dict({}).kafka
    assert consumer_conf(k, **{"group.id": "g"}) == {
        "bootstrap.servers": "127.0.0.1:9092", "client.id": "truesli-truesli", "fetch.queue.backoff.ms": 10,
        "security.protocol": "PLAINTEXT", "group.id": "g"}
    assert "fetch.queue.backoff.ms" not in client_conf(k)  # a producer would log it as a consumer property
    k = config_from_dict({"kafka": {"client": {"fetch.queue.backoff.ms": "250"}}}).kafka
    assert consumer_conf(k)["fetch.queue.backoff.ms"] == "250"


def test_inline_passwords_are_rejected_naming_file_and_env():
    msg = _error({"security": {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "u",
                               "password": SECRET}})
    assert msg == ("t.yaml: invalid configuration:\n  kafka.security: password: secrets are not accepted in the "
                   "config file — put it in a file or an environment variable and name it with password_file or "
                   "password_env")
    msg = _error({"security": {"protocol": "SSL", "key_password": SECRET}})
    assert "key_password_file or key_password_env" in msg and SECRET not in msg


def test_secrets_and_security_keys_in_the_librdkafka_passthrough_are_rejected_without_their_values():
    msg = _error({"client": {"sasl.password": SECRET, "ssl.keystore.password": SECRET + "2",
                             "security.protocol": "SASL_SSL", "linger.ms": "5"}})
    assert msg == (
        "t.yaml: invalid configuration:\n  kafka.client: sasl.password is a secret and secrets are not accepted in "
        "the config file — put it in a file or an environment variable named by kafka.security.password_file or "
        "password_env; ssl.keystore.password is a secret and secrets are not accepted in the config file — put it "
        "in a file or an environment variable named by kafka.security (password_file/password_env, "
        "key_password_file/key_password_env); security.protocol is set by kafka.security.protocol (which also "
        "reaches the faust worker): move it there")
    assert SECRET not in msg
    # Certificate checks cannot be switched off behind kafka.security's back.
    assert _error({"client": {"enable.ssl.certificate.verification": "false"}}).endswith(
        "kafka.client: enable.ssl.certificate.verification: security settings come only from kafka.security (they "
        "must reach every client, the faust worker included); this one is not supported")
    # Other librdkafka settings still pass through to every confluent client.
    k = config_from_dict({"kafka": {"client": {"linger.ms": "5"}}}).kafka
    assert client_conf(k)["linger.ms"] == "5"


@pytest.mark.parametrize(("security", "problem"), [
    ({"protocol": "SASL_PLAINTEXT"}, "protocol SASL_PLAINTEXT needs sasl_mechanism (PLAIN, SCRAM-SHA-256 or "
     "SCRAM-SHA-512); protocol SASL_PLAINTEXT needs username; protocol SASL_PLAINTEXT needs exactly one of "
     "password_file or password_env"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "u", "password_file": "/a", "password_env": "B"},
     "protocol SASL_SSL needs exactly one of password_file or password_env"),
    ({"protocol": "PLAINTEXT", "username": "u", "ca_file": "/ca.pem", "verify_hostname": False},
     "username: only for protocol SASL_PLAINTEXT or SASL_SSL (protocol is PLAINTEXT); ca_file, verify_hostname: "
     "only for protocol SSL or SASL_SSL (protocol is PLAINTEXT)"),
    ({"protocol": "SSL", "cert_file": "/c.pem"}, "cert_file and key_file (a client certificate) go together"),
    ({"protocol": "SSL", "key_password_env": "K"}, "key_password_file/key_password_env need key_file"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "username": "u", "password_env": "P"},
     "Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"),
])
def test_inconsistent_security_sections_name_the_problem(security, problem):
    msg = _error({"security": security})
    assert msg.startswith("t.yaml: invalid configuration:\n  kafka.security")
    assert msg.endswith(problem)


def test_sasl_scram_settings_read_the_password_file_when_a_client_is_made(pw_file):
    k = _kafka({"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": "alice",
                "password_file": str(pw_file)})
    assert SECRET not in repr(k) and SECRET not in str(k.model_dump())
    assert librdkafka_settings(k.security) == {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
        "sasl.password": SECRET}  # the file's trailing newline is not part of the password
    pw_file.write_text("rotated\n")  # the next client sees a rotated secret
    assert librdkafka_settings(k.security)["sasl.password"] == "rotated"


def test_sasl_ssl_from_env_with_ca_and_hostname_check(monkeypatch):
    monkeypatch.setenv("KAFKA_PW", SECRET)
    k = _kafka({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "carol", "password_env": "KAFKA_PW",
                "ca_file": str(CA_PEM)})
    assert librdkafka_settings(k.security) == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "carol", "sasl.password": SECRET,
        "ssl.endpoint.identification.algorithm": "https", "ssl.ca.location": str(CA_PEM)}
    creds = faust_credentials(k.security)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value, creds.protocol.value) == (
        "carol", SECRET, "PLAIN", "SASL_SSL")
    assert creds.ssl_context.check_hostname is True and creds.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert SECRET not in repr(creds)


def test_ssl_without_hostname_check_still_verifies_the_chain():
    k = _kafka({"protocol": "SSL", "ca_file": str(CA_PEM), "verify_hostname": False})
    assert librdkafka_settings(k.security) == {"security.protocol": "SSL", "ssl.ca.location": str(CA_PEM),
                                               "ssl.endpoint.identification.algorithm": "none"}
    creds = faust_credentials(k.security)
    assert isinstance(creds, faust.SSLCredentials)
    assert creds.context.check_hostname is False and creds.context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(("security", "env", "message"), [
    ({"password_file": "/nonexistent/kafka.pw"}, {},
     "kafka.security.password_file: cannot read /nonexistent/kafka.pw: No such file or directory"),
    ({"password_env": "TRUESLI_UNIT_UNSET"}, {},
     "kafka.security.password_env: environment variable TRUESLI_UNIT_UNSET is not set"),
    ({"password_env": "TRUESLI_UNIT_EMPTY"}, {"TRUESLI_UNIT_EMPTY": ""},
     "kafka.security.password_env: environment variable TRUESLI_UNIT_EMPTY is empty"),
])
def test_missing_secret_is_one_config_error_naming_it(monkeypatch, security, env, message):
    monkeypatch.delenv("TRUESLI_UNIT_UNSET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    k = _kafka({"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256", "username": "bob", **security})
    with pytest.raises(ConfigError) as exc:
        client_conf(k)
    assert str(exc.value) == message
    with pytest.raises(ConfigError):
        faust_credentials(k.security)


def test_empty_password_file_and_unreadable_ca_are_config_errors(tmp_path):
    empty = tmp_path / "empty.pw"
    empty.write_text("\n")
    k = _kafka({"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "u", "password_file": str(empty)})
    with pytest.raises(ConfigError, match=r"^kafka.security.password_file: .*empty.pw is empty$"):
        client_conf(k)
    k = _kafka({"protocol": "SSL", "ca_file": str(tmp_path / "missing-ca.pem")})
    with pytest.raises(ConfigError, match=r"^kafka.security.ca_file: cannot read .*missing-ca.pem: No such file"):
        client_conf(k)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    k = _kafka({"protocol": "SSL", "ca_file": str(not_pem)})
    with pytest.raises(ConfigError, match=r"^kafka.security.ca_file: .*not.pem is not a PEM CA certificate"):
        faust_credentials(k.security)


def test_redaction_filter_removes_sasl_payloads_and_secret_values(pw_file):
    k = _kafka({"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "carol",
                "password_file": str(pw_file)})
    redact_client_logs(k.security)
    redact_client_logs(k.security)  # idempotent: replaces, does not stack
    logger = logging.getLogger("aiokafka.conn")
    assert sum(isinstance(f, RedactSecrets) for f in logger.filters) == 1
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        payload = f"SaslAuthenticateRequest_v1(sasl_auth_bytes=b'carol\\x00carol\\x00{SECRET}')"
        logger.debug("Request to %s:%d %d: %s", "127.0.0.1", 9093, 3, payload)
        logger.warning("odd: %s", f"…{SECRET}…")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert [r.getMessage() for r in records] == [
        "Request to 127.0.0.1:9093 3: SaslAuthenticateRequest_v1(sasl_auth_bytes=<redacted>)", "odd: …<redacted>…"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_missing_secret_is_one_line_exit_2_and_process_does_not_need_it(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text(yaml.safe_dump({"kafka": {"bootstrap_servers": "127.0.0.1:1", "security": {
        "protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": "alice",
        "password_env": "TRUESLI_UNIT_NOT_SET"}}}))
    for args in (["replay", "--topic", "requests.raw"], ["archive", "--out", str(tmp_path / "a")],
                 ["run", "--worker-id", "x"]):
        r = _cli(args[0], "--config", str(cfg), *args[1:])
        assert (r.returncode, r.stdout) == (2, b""), r.stderr
        assert r.stderr.decode() == ("truesli: error: kafka.security.password_env: environment variable "
                                     "TRUESLI_UNIT_NOT_SET is not set\n")
    # Embedded mode never talks to Kafka, so its secrets are not needed.
    log = tmp_path / "one.jsonl"
    log.write_text('{"ts": "2026-01-01T00:00:00Z", "client_ip": "203.0.113.7", "method": "GET", "host": "a.example", '
                   '"path": "/", "status": 200, "duration_ms": 5, "user_agent": "Mozilla/5.0"}\n')
    r = _cli("process", "--config", str(cfg), str(log))
    assert r.returncode == 0, r.stderr


def test_example_config_documents_the_security_section_and_keeps_kafka_defaults():
    text = (ROOT / "examples" / "truesli.yaml").read_text()
    assert "#   protocol: SASL_SSL" in text and "#   password_file:" in text
    assert load_config(ROOT / "examples" / "truesli.yaml").kafka == config_from_dict({}).kafka
