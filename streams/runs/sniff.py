"""``truesli sniff FILE``: which format each line looks like, and what truesli reads from it.

The answer to a user's first question about their logs, before any SLI: per format (as
:meth:`streams.core.decode.Decoder.classify` names it) how many lines decoded and how many failed with
which reason, then the first few decoded records of each format beside their raw line, and the first
failure of each format with its error. Reads the file once with the same reader and decoder as
``truesli process``; nothing is written.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from streams.config import Config
from streams.core.decode import DecodeFailure, Decoder
from streams.core.model import Request
from streams.core.timeparse import format_rfc3339
from streams.runs.errors import UserError
from streams.sources.files import iter_line_batches

RAW_SHOWN = 160  # characters of a raw line shown beside its mapped record


@dataclass(slots=True)
class FormatStats:
    decoded: int = 0
    failed: Counter = field(default_factory=Counter)
    samples: list[tuple[int, str, Request]] = field(default_factory=list)
    first_failure: tuple[int, str, DecodeFailure] | None = None


@dataclass(slots=True)
class SniffReport:
    source: str
    lines: int = 0
    formats: dict[str, FormatStats] = field(default_factory=dict)

    @property
    def decoded(self) -> int:
        return sum(s.decoded for s in self.formats.values())

    def to_dict(self) -> dict:
        return {"source": self.source, "lines": self.lines, "decoded": self.decoded, "formats": {
            name: {"decoded": s.decoded, "failed": dict(sorted(s.failed.items())),
                   "samples": [{"line": n, "raw": raw, "record": _record_dict(r)} for n, raw, r in s.samples]}
            for name, s in sorted(self.formats.items(), key=lambda kv: (-_total(kv[1]), kv[0]))}}


def _total(s: FormatStats) -> int:
    return s.decoded + sum(s.failed.values())


def _record_dict(r: Request) -> dict:
    return {"ts": format_rfc3339(r.ts_ms), "client_ip": r.client_ip, "method": r.method, "host": r.host,
            "path": r.path, "status": r.status, "duration_ms": r.duration_ms, "user_agent": r.user_agent,
            "forwarded_for": r.forwarded_for}


def sniff_file(config: Config, path: str, samples: int = 3) -> SniffReport:
    """Classify every line of ``path`` (``-`` = stdin); keep ``samples`` decoded records per format."""
    decoder = Decoder(config.input)
    report = SniffReport("<stdin>" if path == "-" else path)
    for batch, origin in iter_line_batches(path, max_line_bytes=config.input.max_line_bytes):
        for i, item in enumerate(batch):
            report.lines += 1
            name, out = decoder.classify(item)
            stats = report.formats.get(name)
            if stats is None:
                stats = report.formats[name] = FormatStats()
            raw = bytes(item[:RAW_SHOWN * 4]).decode("utf-8", "backslashreplace")
            if type(out) is DecodeFailure:
                stats.failed[out.reason] += 1
                if stats.first_failure is None:
                    stats.first_failure = (origin.position(i), raw, out)
            else:
                stats.decoded += 1
                if len(stats.samples) < samples:
                    stats.samples.append((origin.position(i), raw, out))
    return report


def render_sniff(report: SniffReport) -> str:
    """The human-readable answer: counts per format, then samples side by side with their raw line."""
    out = [f"{report.source}: {report.lines:,} lines, {report.decoded:,} decoded"
           + (f" ({report.decoded / report.lines:.1%})" if report.lines else "")]
    ordered = sorted(report.formats.items(), key=lambda kv: (-_total(kv[1]), kv[0]))
    width = max((len(n) for n, _ in ordered), default=6)
    out.append("")
    out.append(f"  {'format':<{width}}  {'lines':>8}  {'decoded':>8}  failed (reason: count)")
    for name, s in ordered:
        failed = ", ".join(f"{k}: {v:,}" for k, v in sorted(s.failed.items())) or "-"
        out.append(f"  {name:<{width}}  {_total(s):>8,}  {s.decoded:>8,}  {failed}")
    for name, s in ordered:
        if not s.samples and s.first_failure is None:
            continue
        out.append("")
        out.append(f"== {name}")
        for line_no, raw, r in s.samples:
            out.append(f"  line {line_no}: {_clip(raw)}")
            d = _record_dict(r)
            d["duration_ms"] = "-" if r.duration_ms is None else f"{r.duration_ms:g}"
            out.append("    → " + "  ".join(f"{k}={v if v not in ('', None) else '-'}" for k, v in d.items()))
        if s.first_failure is not None:
            line_no, raw, f = s.first_failure
            out.append(f"  line {line_no}: {_clip(raw)}")
            out.append(f"    ✗ {f.reason}: {f.error}")
    return "\n".join(out) + "\n"


def _clip(text: str) -> str:
    return text if len(text) <= RAW_SHOWN else text[:RAW_SHOWN - 1] + "…"


def sniff_main(config: Config, paths: list[str], samples: int, as_json: bool) -> int:
    """``truesli sniff``: one report per file on stdout (text, or one JSON object per file)."""
    import orjson

    if samples < 0:
        raise UserError("--samples must be ≥ 0")
    for path in paths:
        report = sniff_file(config, path, samples)
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(report.to_dict()) + b"\n")
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(render_sniff(report))
            sys.stdout.flush()
    return 0
