"""docker-compose.yml without a Docker engine: its services' own config files and commands, run natively.

The compose file is read as data; every container path a service mounts is mapped to the repository file
(or a temporary folder for a named volume) and host names to the native servers' 127.0.0.1 addresses —
nothing else is changed. Then, as the stack would:

- the ``rules`` service's command writes the rules into the shared volume;
- real Prometheus starts with the ``prometheus`` service's flags and deploy/prometheus.yml and loads every
  generated rule group; real VictoriaMetrics starts with the ``victoriametrics`` service's flags on the
  same file;
- the real Kafka broker runs with the compose file's listeners (PLAINTEXT for the containers, HOST for the
  host); the producer example sends a generated mix through HOST, and ``truesli run`` with
  deploy/truesli.yaml consumes it through PLAINTEXT and pushes to Prometheus, which records the SLO rules
  over it; both receivers scrape the worker's /metrics.
The Grafana provisioning is checked to point at the dashboard test_dashboard.py exercises.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from streams.config import load_config
from streams.rules import prometheus_rules
from tests.support import kafka_broker
from tests.support.live_harness import free_port, run_records
from tests.support.receivers import _binary, _start, start_prometheus, VictoriaMetrics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def produce_example():
    """examples/produce.py as a module (it is a script users run; the test also runs it as one)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("produce_example", ROOT / "examples" / "produce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mounts(service: str, volumes: dict[str, Path]) -> dict[str, Path]:
    """Container path → host path for one service (``./x`` relative to the repo; named volumes → folders)."""
    out = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = (ROOT / source) if source.startswith(".") else volumes[source]
    return out


def mapped(arg: str, where: dict[str, Path]) -> str:
    for target, source in sorted(where.items(), key=lambda kv: -len(kv[0])):
        if target in arg:
            return arg.replace(target, str(source))
    return arg


def test_compose_file_wiring():
    """What the native run below relies on, stated once: names and ports line up across the files."""
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092,HOST://localhost:9094"
    assert SERVICES["kafka"]["ports"] == ["127.0.0.1:9094:9094"]
    deploy = load_config(ROOT / "deploy" / "truesli.yaml")
    assert deploy.kafka.bootstrap_servers == "kafka:9092"
    assert deploy.remote_write.url == "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in SERVICES["prometheus"]["command"]
    assert SERVICES["prometheus"]["depends_on"]["rules"] == {"condition": "service_completed_successfully"}
    producer = SERVICES["producer"]["command"][-1]
    assert "examples/produce.py --bootstrap kafka:9092 --restamp" in producer
    grafana = mounts("grafana", {})
    ds = yaml.safe_load((grafana["/etc/grafana/provisioning"] / "datasources" / "prometheus.yaml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090" and ds["datasources"][0]["uid"] == "prometheus"
    prov = yaml.safe_load((grafana["/etc/grafana/provisioning"] / "dashboards" / "truesli.yaml").read_text())
    dash_dir = prov["providers"][0]["options"]["path"]
    assert (grafana[dash_dir] / "truesli.json").exists()
    for port in (p for s in SERVICES.values() for p in s.get("ports", [])):
        assert port.startswith("127.0.0.1:"), port


def test_dockerfile_builds_wheels_where_the_compiler_is():
    text = (ROOT / "Dockerfile").read_text()
    build, runtime = text.split("\nFROM python:3.11-slim\n")
    assert "AS build" in build and "build-essential" in build and "pip wheel" in build
    assert "build-essential" not in runtime and "--no-index --find-links /wheels truesli" in runtime


def _deploy_config(tmp_path: Path, bootstrap: str, write_url: str, web_port: int) -> Path:
    """deploy/truesli.yaml with the container host names and paths replaced by the native ones."""
    doc = yaml.safe_load((ROOT / "deploy" / "truesli.yaml").read_text())
    doc["kafka"]["bootstrap_servers"] = bootstrap
    doc["remote_write"]["url"] = write_url
    doc["worker"].update(web_host="127.0.0.1", web_port=web_port, data_dir=str(tmp_path / "worker-data"))
    path = tmp_path / "truesli.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _start_vm(work: Path, scrape_config: Path) -> VictoriaMetrics:
    port = free_port()
    args = [mapped(a, {"/etc/prometheus/prometheus.yml": scrape_config}) for a in SERVICES["victoriametrics"]["command"]]
    return _start(VictoriaMetrics, "victoria-metrics",  # type: ignore[return-value]
                  [_binary("victoria-metrics"), f"-storageDataPath={work / 'data'}",
                   f"-httpListenAddr=127.0.0.1:{port}", "-search.latencyOffset=0s", *args], port, "/health", work)


def _wait(what: str, check, timeout: float, log) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s:\n{log()}")
        time.sleep(2)


def test_the_stack_runs_natively(tmp_path):
    volumes = {"rules": tmp_path / "rules-volume"}
    volumes["rules"].mkdir()

    # rules: the service's command, its mounts mapped
    where = mounts("rules", volumes)
    cmd = [mapped(a, where) for a in SERVICES["rules"]["command"]]
    assert cmd[:2] == ["truesli", "rules"]
    r = subprocess.run([sys.executable, "-m", "streams.cli", *cmd[1:]], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    deploy = load_config(ROOT / "deploy" / "truesli.yaml")
    n_groups = len(prometheus_rules(deploy)["groups"])

    # prometheus: deploy/prometheus.yml with its container paths mapped and the worker's address
    web_port = free_port()
    where = mounts("prometheus", volumes)
    prom_yml = yaml.safe_load(where["/etc/prometheus/prometheus.yml"].read_text())
    prom_yml["rule_files"] = [mapped(f, where) for f in prom_yml["rule_files"]]
    assert prom_yml["scrape_configs"][0]["static_configs"][0]["targets"] == ["truesli:6066"]
    prom_yml["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{web_port}"]
    prom_yml["global"]["evaluation_interval"] = "5s"  # the test's only timing change: evaluate sooner
    prom_yml["global"]["scrape_interval"] = "5s"
    flags = [a for a in SERVICES["prometheus"]["command"]
             if not a.startswith("--config.file") and a != "--web.enable-remote-write-receiver"]
    (tmp_path / "prom").mkdir()
    prom = start_prometheus(tmp_path / "prom", yaml.safe_dump(prom_yml), tuple(flags))
    scrape_file = tmp_path / "scrape.yml"
    scrape_file.write_text(yaml.safe_dump(prom_yml))
    (tmp_path / "vm").mkdir()
    vm = _start_vm(tmp_path / "vm", scrape_file)
    broker = worker = None
    try:
        groups = prom.get_json("/api/v1/rules")["data"]["groups"]
        assert len(groups) == n_groups == 10
        assert {g["file"] for g in groups} == {str(volumes["rules"] / "prometheus-rules.yaml")}

        # kafka: the compose file's listener names and protocols
        env = SERVICES["kafka"]["environment"]
        protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        extra = [kafka_broker.ListenerSpec(n, p) for n, p in protocols.items() if n not in ("PLAINTEXT", "CONTROLLER")]
        assert [e.name for e in extra] == ["HOST"]
        broker = kafka_broker.Broker(extra_listeners=extra,
                                     extra_properties={"auto.create.topics.enable": "true"}).start()

        config = _deploy_config(tmp_path, broker.bootstrap, prom.write_url, web_port)
        log = tmp_path / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "run", "--config", str(config),
                                   "--worker-id", "compose"], cwd=ROOT, stdout=log.open("wb"),
                                  stderr=subprocess.STDOUT)

        mix = tmp_path / "mix.jsonl"
        assert subprocess.run([sys.executable, "-m", "streams.cli", "gen", "--events", "4000", "--seed", "5",
                               "--out", str(mix)], cwd=ROOT, capture_output=True).returncode == 0
        # Restamped to now (a scraping Prometheus refuses samples far behind its newest), once, here, so the
        # expected counts come from the very lines produced.
        lines = produce_example().restamped(mix.read_bytes().splitlines(), time.time())
        mix.write_bytes(b"\n".join(lines) + b"\n")
        produced = subprocess.run([sys.executable, str(ROOT / "examples" / "produce.py"), "--bootstrap",
                                   broker.listener_address("HOST"), str(mix)], capture_output=True, text=True,
                                  timeout=180)
        assert produced.returncode == 0, produced.stderr
        assert produced.stderr.splitlines()[-1].startswith("produced 4000 records to requests.raw at 127.0.0.1:")
        want: dict[tuple, float] = {}
        for c in run_records(deploy, lines).merged():
            for result, n in (("good", c.good), ("bad", c.total - c.good)):
                key = (("journey", c.journey), ("result", result), ("slo", c.slo))
                want[key] = want.get(key, 0.0) + n
        now = lambda: int(time.time() * 1000)  # noqa: E731
        totals = "sum by (journey, slo, result) (last_over_time(truesli_sli_events_total[2d]))"
        _wait("the worker's counts in Prometheus", lambda: prom.query(totals, now()) == want, 240,
              lambda: log.read_text()[-3000:] + f"\n{prom.query(totals, now())}\n{want}")
        ratio = 'slo:sli_error:ratio_rate1h{sloth_id="shop-checkout-availability"}'
        _wait("the generated rules recording over the live data", lambda: prom.query(ratio, now()), 60,
              prom.log_tail)
        budget = prom.query('slo:period_error_budget_remaining:ratio{sloth_service="catalog"}', now())
        assert {dict(k)["sloth_slo"] for k in budget} == {"browse-availability", "browse-latency"}
        up = 'up{job="truesli"}'
        assert _wait("Prometheus scraping the worker", lambda: prom.query(up, now()), 30, prom.log_tail)
        assert list(_wait("VictoriaMetrics scraping the worker with the same file",
                          lambda: vm.query(up, now()), 60, vm.log_tail).values()) == [1.0]
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        if broker is not None:
            broker.stop()
        vm.stop()
        prom.stop()
