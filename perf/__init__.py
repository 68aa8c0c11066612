"""Benchmarks: `python -m perf` runs every topic, `python -m perf.<topic>` one."""
