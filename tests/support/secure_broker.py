"""A second real broker with secured listeners, for tests/integration/test_kafka_security.py.

Listeners (all on 127.0.0.1, free ports):
- ``SASL``    SASL_PLAINTEXT, mechanisms SCRAM-SHA-512 (user ``alice``), SCRAM-SHA-256 (user ``bob``), PLAIN
  (user ``carol``). SCRAM users are created by ``kafka-storage format --add-scram``; the PLAIN user is in the
  listener's JAAS config (Kafka's built-in PLAIN server has no other store).
- ``SSL``     TLS, server authentication only.
- ``SASLSSL`` SASL_SSL, the same SASL users over TLS.
- ``MTLS``    TLS that requires a client certificate signed by the CA.
- ``PLAINTEXT`` (the broker's own, used by its readiness probe only).

The TLS material is made during the session with the JDK's ``keytool``: a CA, a broker key pair whose
certificate the CA signs for ``IP:127.0.0.1`` only (so ``localhost`` is a name the certificate does not
list: the hostname check has something to catch), a second, unrelated CA (``rogue``) that a client
can wrongly trust, and a client certificate: its key is made by ``openssl`` (PEM, encrypted with a
password kept in a file; keytool cannot write PEM keys) and the CA signs its request with keytool. Passwords are random per session, so a test can assert that they never
appear in any output.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support import kafka_broker as kb

MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class TlsFiles:
    ca_pem: Path
    rogue_ca_pem: Path
    keystore: Path
    truststore: Path
    store_password: str
    client_cert: Path
    client_key: Path  # PEM, encrypted
    client_key_password_file: Path


@dataclass(frozen=True)
class SecureBroker:
    broker: kb.Broker
    tls: TlsFiles
    users: dict[str, tuple[str, str]]  # mechanism -> (user, password)

    def address(self, listener: str) -> str:
        return self.broker.listener_address(listener)


def _keytool(*args: str) -> None:
    keytool = shutil.which("keytool")
    if keytool is None:
        raise kb.KafkaSetupError("keytool (part of the JDK/JRE) is needed to make the test broker's keystore")
    r = subprocess.run([keytool, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise kb.KafkaSetupError(f"keytool {args[0]} failed: {r.stdout}{r.stderr}")


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise kb.KafkaSetupError("openssl is needed to make the test client's PEM key")
    r = subprocess.run([openssl, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise kb.KafkaSetupError(f"openssl {args[0]} failed: {r.stdout}{r.stderr}")


def _ca(directory: Path, name: str, password: str) -> tuple[Path, Path]:
    """A self-signed CA in a PKCS#12 store; returns (store, PEM certificate)."""
    store, pem = directory / f"{name}.p12", directory / f"{name}.pem"
    _keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
             f"CN=truesli test {name}", "-ext", "bc:c", "-validity", "3", "-storetype", "PKCS12",
             "-keystore", str(store), "-storepass", password)
    _keytool("-exportcert", "-rfc", "-alias", name, "-keystore", str(store), "-storepass", password,
             "-file", str(pem))
    return store, pem


def make_tls_files(directory: Path) -> TlsFiles:
    """CA, broker keystore signed by it, and an unrelated CA, all made with keytool."""
    password = secrets.token_urlsafe(16)
    ca_store, ca_pem = _ca(directory, "ca", password)
    _, rogue_pem = _ca(directory, "rogue", password)
    keystore, csr, crt = directory / "broker.p12", directory / "broker.csr", directory / "broker.crt"
    _keytool("-genkeypair", "-alias", "broker", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
             "CN=truesli test broker", "-validity", "3", "-storetype", "PKCS12", "-keystore", str(keystore),
             "-storepass", password)
    _keytool("-certreq", "-alias", "broker", "-keystore", str(keystore), "-storepass", password, "-file", str(csr))
    _keytool("-gencert", "-alias", "ca", "-keystore", str(ca_store), "-storepass", password, "-infile", str(csr),
             "-outfile", str(crt), "-rfc", "-validity", "3", "-ext", "SAN=ip:127.0.0.1")
    _keytool("-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_pem), "-keystore", str(keystore),
             "-storepass", password)
    _keytool("-importcert", "-alias", "broker", "-file", str(crt), "-keystore", str(keystore),
             "-storepass", password)
    truststore = directory / "trust.p12"
    _keytool("-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_pem), "-storetype", "PKCS12",
             "-keystore", str(truststore), "-storepass", password)
    key_password_file = directory / "client-key.password"
    key_password_file.write_text(secrets.token_urlsafe(16) + "\n")
    client_key, client_csr, client_pem = directory / "client.key", directory / "client.csr", directory / "client.pem"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass",
             f"file:{key_password_file}", "-out", str(client_key))
    _openssl("req", "-new", "-key", str(client_key), "-passin", f"file:{key_password_file}", "-subj",
             "/CN=truesli-test-client", "-out", str(client_csr))
    _keytool("-gencert", "-alias", "ca", "-keystore", str(ca_store), "-storepass", password, "-infile",
             str(client_csr), "-outfile", str(client_pem), "-rfc", "-validity", "3")
    return TlsFiles(ca_pem=ca_pem, rogue_ca_pem=rogue_pem, keystore=keystore, truststore=truststore,
                    store_password=password, client_cert=client_pem, client_key=client_key,
                    client_key_password_file=key_password_file)


def start_secure_broker(directory: Path) -> SecureBroker:
    tls = make_tls_files(directory)
    users = {"SCRAM-SHA-512": ("alice", secrets.token_urlsafe(18)),
             "SCRAM-SHA-256": ("bob", secrets.token_urlsafe(18)),
             "PLAIN": ("carol", secrets.token_urlsafe(18))}
    plain_user, plain_password = users["PLAIN"]
    props = {
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(tls.keystore),
        "ssl.keystore.password": tls.store_password,
        "ssl.key.password": tls.store_password,
        "ssl.client.auth": "none",
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.mtls.ssl.truststore.type": "PKCS12",
        "listener.name.mtls.ssl.truststore.location": str(tls.truststore),
        "listener.name.mtls.ssl.truststore.password": tls.store_password,
    }
    for listener in ("sasl", "saslssl"):
        for mech in ("scram-sha-512", "scram-sha-256"):
            props[f"listener.name.{listener}.{mech}.sasl.jaas.config"] = \
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props[f"listener.name.{listener}.plain.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{plain_user}="{plain_password}";')
    scram = []
    for mech in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        user, password = users[mech]
        scram += ["--add-scram", f"{mech}=[name={user},password={password}]"]
    broker = kb.Broker(
        extra_listeners=(kb.ListenerSpec("SASL", "SASL_PLAINTEXT"), kb.ListenerSpec("SSL", "SSL"),
                         kb.ListenerSpec("SASLSSL", "SASL_SSL"), kb.ListenerSpec("MTLS", "SSL")),
        extra_properties=props, format_args=scram)
    broker.start()
    return SecureBroker(broker=broker, tls=tls, users=users)
