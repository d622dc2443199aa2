"""Benchmark programs behind scripts/bench (results and commands in docs/benchmarks.md)."""
