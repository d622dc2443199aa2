"""Linear-time regex compilation for every pattern that touches untrusted input.

RE2 guarantees matching time linear in the input, so a 64 KB hostile user agent cannot trigger
catastrophic backtracking. Its own stderr logging is silenced: errors surface as exceptions instead.
"""

from __future__ import annotations

from typing import Any

import re2

_MAX_MEM = 64 << 20  # the combined crawler list needs more than RE2's 8 MiB default DFA budget


def compile_re2(pattern: str, *, ignore_case: bool = False) -> Any:
    """Compile ``pattern`` with RE2 or raise ``ValueError`` naming the problem."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_MEM
    if ignore_case:
        options.case_sensitive = False
    try:
        return re2.compile(pattern, options)
    except Exception as exc:  # re2.error is not a ValueError subclass
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise ValueError(str(detail)) from None
