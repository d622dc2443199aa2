"""Text from outside, made safe to show: one escaping rule for terminals, logs and dead-letter files."""

from __future__ import annotations

import unicodedata

# Unicode categories never echoed raw: controls (C0, DEL, C1), format characters (bidi overrides, zero-width),
# surrogates, private use, unassigned, and the line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def escape_controls(text: str) -> str:
    """``text`` with every control or format character written as a Python-style escape (``\\x1b``,
    ``\\u202e``), so echoing it cannot move the cursor, retitle the terminal, reorder a line or add one."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
