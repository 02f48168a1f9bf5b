"""Benchmarks: each prints its figures; results go to docs/performance.md with the command."""
