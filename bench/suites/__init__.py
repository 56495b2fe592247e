"""Benchmark suites: each module has ``run(ctx: BenchContext) -> list[Result]`` (bench/harness.py)."""
