"""Benchmarks (`metawatch bench`): fetch, parse, baseline, incremental hour, dbt and end to end, measured
side by side in one run against the sandbox in its own process. Every figure is a median with min and max.

Entry point: `metawatch_dagster.bench.runner.run_bench(BenchConfig.full() | BenchConfig.quick(), data_dir)`.
Nothing is imported here, so the child processes that time the parse start light.
"""
