"""Shared pieces of the configuration model: the error type, strict/finite bases, validators.

Nothing here touches Kafka, HTTP or the wall clock. Every regex a user writes is compiled with RE2 (linear
time); a pattern RE2 cannot compile is rejected at load time instead of becoming a catastrophic-backtracking
hazard on hostile user agents.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from streams.core.regex import compile_re2

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Journey, SLO and reason names become metric label values: keep them short and tame."""


class ConfigError(Exception):
    """A user-fixable configuration problem; ``str()`` is the complete message for the terminal."""


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finite(Strict):
    """A section whose numbers feed published ratios: inf and NaN are rejected at load."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _check_regex(pattern: str) -> str:
    try:
        compile_re2(pattern)
    except ValueError as exc:
        raise ValueError(
            f"not a valid RE2 pattern ({exc}); RE2 has no backreferences or look-around — rewrite the pattern"
        ) from None
    return pattern


def _check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR block such as 10.0.0.0/8") from None
    return value


Regex = Annotated[str, Field(min_length=1)]
Cidr = str


def _cidrs(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_check_cidr(x) for x in v)


def _regexes(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_check_regex(x) for x in v)


def _repeated(names: list[str]) -> list[str]:
    """The names that occur more than once in ``names``, sorted (empty: all unique)."""
    return sorted({n for n in names if names.count(n) > 1})
