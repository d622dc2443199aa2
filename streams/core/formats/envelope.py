"""Envelopes around an access-log line, removed before its format is recognised.

- Docker's json-file driver, Kubernetes log shippers: ``{"log": "<line>\\n", "stream": "stdout",
  "time": …}`` (also ``"message"`` as Filebeat and Fluent Bit name it) — see :func:`json_payload`;
- CRI (containerd, CRI-O): ``2016-10-06T00:17:09.669794202Z stdout F <line>``. A partial line (``P``)
  is a fragment of a longer one and is read as it stands (it normally fails, visibly);
- syslog: RFC 3164 ``Jul 30 09:03:52 host tag[pid]: <line>``, RFC 5424
  ``<165>1 2003-10-11T22:14:15.003Z host app procid msgid [sd]|- <line>``, an ISO timestamp instead of the
  BSD one (rsyslog's high-precision format), with or without the ``<PRI>`` part.

The envelope's own time is not used: every format inside carries the request's time.
"""

from __future__ import annotations

import re

CRI = "cri"
SYSLOG = "syslog"
DOCKER = "docker_json"
_CRI = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) [FP] ')
_SYSLOG = re.compile(
    r'^(?:<\d{1,3}>)?(?:'
    r'1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[(?:[^\]"\\]++|"(?:[^"\\]++|\\.)*+")*+\])++) '     # RFC 5424
    r'|(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?) '
    r'(?:\S+ )?[^\s:\[\]]{1,48}(?:\[\d{1,10}\])?: )')                                    # RFC 3164 / ISO


def unwrap_text(line: str) -> tuple[str, str] | None:
    """(envelope name, inner line) of a CRI or syslog line; None if it has neither prefix."""
    m = _CRI.match(line)
    if m is not None:
        return CRI, line[m.end():]
    m = _SYSLOG.match(line)
    if m is not None:
        return SYSLOG, line[m.end():]
    return None


def json_payload(obj: dict) -> str | None:
    """The logged line of a container-log object (``log`` or ``message`` string), else None."""
    inner = obj.get("log")
    if type(inner) is not str:
        inner = obj.get("message")
        if type(inner) is not str:
            return None
    return inner.rstrip("\r\n")
