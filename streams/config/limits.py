"""``limits:`` — how much one run may read from an input and write to its file outputs.

A tiny hostile input must not turn into gigabytes of output: a 10 KB gzip of ``x`` lines is 10 MB of
records, each a dead letter and a verdict. Inputs stop at a size, a line count, or an implausible
compression ratio; the dead-letter and verdict files stop at a count, the rest counted by reason. Every
cap that applies is named in the run's summary. Records an input was not read past are not consumed
(conservation is over what was read); records whose dead letter or verdict was not written are still
counted by reason.
"""

from __future__ import annotations

from pydantic import Field

from streams.config.base import Finite


class LimitsConfig(Finite):
    max_input_bytes: int = Field(default=64 << 30, ge=1 << 20)
    """Per input, after decompression (declared uncompressed column data for Parquet)."""
    max_input_lines: int = Field(default=500_000_000, ge=1)
    """Per input: lines of a text input, rows of a Parquet file."""
    max_compression_ratio: float = Field(default=100.0, gt=1)
    """Decompressed ÷ compressed bytes, judged once an input has produced 1 MiB (a Parquet row group:
    16 MiB). Real request logs compress 5–20× with gzip -9."""
    max_dead_letters: int = Field(default=100_000, ge=0)
    """Dead letters written per run to ``--dead-letters``; the rest are counted by reason only."""
    max_verdicts: int = Field(default=10_000_000, ge=0)
    """Verdicts written per run to ``--verdicts`` (one per record, ~100 bytes each)."""
