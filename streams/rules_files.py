"""The files ``truesli rules`` writes: relative path → text, each file one YAML document.

- ``prometheus-rules.yaml`` — Sloth-compatible recording rules and burn-rate alerts (streams/rules.py);
- ``sloth/<service>.yaml`` — one Sloth ``prometheus/v1`` spec per service (``sloth generate -i sloth/ -o DIR``
  then writes one single-document rule file per spec);
- ``pyrra/<journey>-<slo>.yaml`` — one Pyrra ServiceLevelObjective per SLO (streams/rules_pyrra.py).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from streams.config import Config
from streams.rules import RuleOptions, dump_yaml, prometheus_rules, sloth_specs
from streams.rules_pyrra import pyrra_slos


def truesli_version() -> str:
    try:
        return version("truesli")
    except PackageNotFoundError:
        return ""


def rule_files(config: Config, options: RuleOptions, source: str) -> dict[str, str]:
    files = {"prometheus-rules.yaml": dump_yaml(prometheus_rules(config, options, truesli_version()), source)}
    for name, spec in sloth_specs(config).items():
        files[f"sloth/{name}"] = dump_yaml(spec, source)
    for name, slo in pyrra_slos(config).items():
        files[f"pyrra/{name}"] = dump_yaml(slo, source)
    return files


def write_rules(config: Config, out: Path, options: RuleOptions, source: str) -> dict[str, str]:
    """Write :func:`rule_files` under the directory ``out`` (created), headed by ``source`` (the config they
    were made from); returns them. OutputError when the directory cannot be written."""
    from streams.sinks.files import OutputError

    files = rule_files(config, options, source)
    try:
        for name, text in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write rules to {out}: {exc.strerror}") from None
    return files
