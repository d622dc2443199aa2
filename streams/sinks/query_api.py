"""The query side of a remote-write receiver: where it is, and one JSON GET against it.

Contract: :func:`query_base` derives the Prometheus-compatible query API's base URL from a remote-write
URL, for the receivers whose URL says so — ``…/api/v1/write`` (Prometheus, single-node VictoriaMetrics:
same host, ``…/api/v1/query``) and ``…/api/v1/push`` (Grafana Mimir / Cortex: ``…/prometheus/api/v1/…``).
Anything else (a vminsert URL, a proxy path) has no known query API: None, and the caller says so.
:class:`QueryApi` sends the configured headers (tenant, auth) with every GET and never retries; its
errors are :class:`QueryError` with a one-line account (no response bodies beyond 200 characters).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field


class QueryError(Exception):
    """The query API did not answer as expected (unreachable, non-200, not JSON, status not success)."""


def query_base(write_url: str) -> str | None:
    """``http://h:9090/api/v1/write`` → ``http://h:9090``; ``http://m/api/v1/push`` → ``http://m/prometheus``;
    query strings and user info are dropped; None when the URL names no known receiver layout."""
    parts = urllib.parse.urlsplit(write_url)
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1/write") and "/insert/" not in path:
        prefix = path[: -len("/api/v1/write")]
    elif path.endswith("/api/v1/push"):
        prefix = path[: -len("/api/v1/push")] + "/prometheus"
    else:
        return None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, prefix, "", ""))


@dataclass
class QueryApi:
    """GETs against ``base`` (from :func:`query_base`) with ``headers`` (tenant, Authorization)."""

    base: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    ssl_context: ssl.SSLContext | None = None

    def get(self, path: str, **params: str) -> tuple[int, bytes]:
        """(status, body) of ``GET base+path?params``; status 0 when there was no HTTP answer."""
        url = self.base + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        req = urllib.request.Request(url, headers=dict(self.headers))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s, context=self.ssl_context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()[:200]
        except (OSError, ValueError) as exc:
            raise QueryError(f"{self.base}{path}: {exc}") from None

    def get_json(self, path: str, **params: str) -> dict:
        status, body = self.get(path, **params)
        if status != 200:
            raise QueryError(f"{self.base}{path}: HTTP {status}: {body[:200].decode('utf-8', 'replace')!r}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise QueryError(f"{self.base}{path}: answer is not JSON") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise QueryError(f"{self.base}{path}: {str(doc)[:200]}")
        return doc

    def instant(self, query: str, at_ms: int) -> list[dict]:
        """The vector of ``query`` at ``at_ms`` (``nocache=1``: VictoriaMetrics must not serve a cached
        empty answer from before the push)."""
        doc = self.get_json("/api/v1/query", query=query, time=f"{at_ms / 1000:.3f}", nocache="1")
        data = doc.get("data") or {}
        if data.get("resultType") != "vector":
            raise QueryError(f"{self.base}/api/v1/query: expected a vector for {query!r}")
        return list(data.get("result") or [])
