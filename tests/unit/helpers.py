"""Tiny builders for unit tests of the core: one request log line, a pipeline run, verdict shortcuts."""

from __future__ import annotations

from typing import Any

import orjson

from streams.config import Config, config_from_dict
from streams.core.pipeline import Outputs, Pipeline

T0_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z in epoch ms — aligned to every window size the tests use."""

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def at(seconds: float) -> int:
    """Epoch ms of T0 + ``seconds``."""
    return T0_MS + int(round(seconds * 1000))


def req(ts: str | int = "2026-01-01T00:00:00Z", ip: str = "11.0.0.1", method: str = "GET", path: str = "/",
        status: int = 200, duration_ms: float | None = 50, ua: str = BROWSER, host: str = "shop.example.com",
        **extra: Any) -> bytes:
    """One JSON request line in the default (truesli) field names. ``ts`` may be RFC 3339 or epoch ms."""
    obj: dict[str, Any] = {"ts": ts, "client_ip": ip, "method": method, "host": host, "path": path,
                           "status": status, "user_agent": ua}
    if duration_ms is not None:
        obj["duration_ms"] = duration_ms
    obj.update(extra)
    return orjson.dumps(obj)


def cfg(**sections: Any) -> Config:
    """``config_from_dict`` with keyword sections: ``cfg(filters={...}, windows={...})``."""
    return config_from_dict(sections)


def run(config: Config, batch: list[bytes], now_ms: int | None = None, **kw: Any) -> tuple[Pipeline, Outputs]:
    """A fresh pipeline (verdicts on) over one batch; conservation is checked on the way."""
    p = Pipeline(config, collect_verdicts=True, **kw)
    out = p.process(batch, now_ms=now_ms)
    out.tally.check_conservation()
    return p, out


def why(out: Outputs) -> list[tuple[str, str | None, str | None]]:
    """(verdict, reason, rule) per record, in input order."""
    return [(v.verdict, v.reason, v.rule) for v in out.verdicts]
