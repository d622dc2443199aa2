"""The docker-compose example publishes nothing beyond 127.0.0.1 (issue 18, item 4).

Checked on what the compose client makes of the file (`docker-compose config`, the form the engine would
receive), not on the YAML text: short and long port syntax, defaults and interpolation all resolved."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> list[str]:
    for compose in (["docker", "compose"], ["docker-compose"]):
        if subprocess.run([*compose, "version"], capture_output=True).returncode == 0:
            return compose
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (scripts/test installs it)")


def _rendered() -> dict:
    r = subprocess.run([*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return yaml.safe_load(r.stdout)


def _mapping(port) -> tuple[str, int, int]:
    """(host IP, published port, container port) of one rendered port entry; host IP '' = every interface."""
    if isinstance(port, dict):  # long syntax (compose v2 renders this)
        return str(port.get("host_ip", "")), int(port["published"]), int(port["target"])
    text = str(port).split("/", 1)[0]  # "127.0.0.1:9090:9090/tcp" (docker-compose 1.29)
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return "", int(parts[0]), int(parts[1])
    return "", int(parts[0]), int(parts[0])


def test_compose_publishes_only_on_loopback_and_keeps_internal_listeners_internal():
    services = _rendered()["services"]
    published = {name: sorted(_mapping(p) for p in svc.get("ports", ())) for name, svc in services.items()}
    assert published == {
        "kafka": [("127.0.0.1", 9094, 9094)],
        "prometheus": [("127.0.0.1", 9090, 9090)],
        "victoriametrics": [("127.0.0.1", 8428, 8428)],
        "grafana": [("127.0.0.1", 3000, 3000)],
        "truesli": [("127.0.0.1", 6066, 6066)],
        "rules": [],       # one-shot: writes the rules into the shared volume
        "producer": [],    # the demo profile's producer talks to kafka:9092 inside the network
    }
    for name, svc in services.items():
        assert svc.get("network_mode") != "host", name  # host networking would bypass every binding above

    env = services["kafka"]["environment"]
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert listeners == {"PLAINTEXT": ":9092", "HOST": ":9094", "CONTROLLER": ":9093"}
    # The containers' listener and the controller are reachable inside the compose network only; the one
    # published listener advertises the loopback name, so clients are never sent to another interface.
    assert advertised == {"PLAINTEXT": "kafka:9092", "HOST": "localhost:9094"}
    assert {p for _, p, _ in published["kafka"]} == {9094}
