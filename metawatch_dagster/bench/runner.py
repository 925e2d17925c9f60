"""`metawatch bench`: every measurement side by side in one run, against one sandbox process."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metawatch_dagster.bench.baseline import measure_baseline
from metawatch_dagster.bench.config import BenchConfig
from metawatch_dagster.bench.context import BenchContext
from metawatch_dagster.bench.dbt_timing import measure_dbt
from metawatch_dagster.bench.end_to_end import measure_end_to_end
from metawatch_dagster.bench.fetch import (
    PRIME_TIMEOUT_S,
    make_client,
    measure_fetch,
    plan_current_week,
    prime_sandbox,
)
from metawatch_dagster.bench.incremental import measure_incremental
from metawatch_dagster.bench.machine import machine_facts
from metawatch_dagster.bench.parse import measure_parse
from metawatch_dagster.bench.report import judge, write_results
from metawatch_dagster.bench.sandbox_process import SandboxHandle, sandbox_process
from metawatch_dagster.bench.section import Section


def run_bench(
    config: BenchConfig, data_dir: Path, out: Callable[[str], None] = print
) -> dict[str, Any]:
    """Runs every measurement, writes `<data_dir>/bench/results.json` and `results.md`, returns the
    results. Scratch data lives in `<data_dir>/bench/work` and is removed afterwards."""
    bench_dir = Path(data_dir) / "bench"
    work_dir = bench_dir / "work"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    started = time.monotonic()
    sections: dict[str, Section] = {}
    try:
        with sandbox_process(config.sandbox_args()) as sandbox:
            out(f"bench ({config.mode}): sandbox up, scale {config.scale}, planning the week")
            ctx = _context(config, sandbox, work_dir, out)

            def step(name: str, measure: Callable[[], Section]) -> Section:
                began = time.monotonic()
                sections[name] = measure()
                out(f"  {name}: done in {time.monotonic() - began:.0f}s")
                return sections[name]

            fetched: list[Path] = []

            def fetch() -> Section:
                section, raw_dir = measure_fetch(ctx)
                fetched.append(raw_dir)
                return section

            step("fetch", fetch)
            parse_samples: list[dict[str, float]] = []

            def parse() -> Section:
                section, samples = measure_parse(ctx, fetched[0])
                parse_samples.extend(samples)
                return section

            step("parse", parse)
            step("baseline", lambda: measure_baseline(ctx, fetched[0], parse_samples))
            incremental = step("incremental", lambda: measure_incremental(ctx))
            step("dbt", lambda: measure_dbt(ctx, fetched[0]))
            if config.end_to_end:
                reload_step_s = incremental.facts["clock_step_s"]
                step("end_to_end", lambda: measure_end_to_end(ctx, reload_step_s))
            facts = {"boards": len(ctx.plan.boards), "partition": ctx.partition_key}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    results = {
        "mode": config.mode,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "config": {
            "scale": config.scale,
            "region": config.region,
            "runs": config.runs,
            "warmups": config.warmups,
            "latency_ms": list(config.latency_ms),
            "per_second": config.per_second,
            "per_hour": config.per_hour,
            "dbt_periods": config.dbt_periods,
            "dbt_regions": list(config.dbt_regions),
        },
        "facts": facts,
        "machine": machine_facts(),
        "sections": {name: section.as_dict() for name, section in sections.items()},
        "targets": judge(sections),
    }
    json_path, md_path = write_results(results, bench_dir)
    misses = [v["name"] for v in results["targets"] if v["result"] == "MISS"]
    out(
        f"bench ({config.mode}) took {results['seconds']:.0f}s; results in {json_path} and {md_path}"
    )
    out(f"targets missed: {', '.join(misses)}" if misses else "every target met")
    return results


def _context(
    config: BenchConfig, sandbox: SandboxHandle, work_dir: Path, out: Callable[[str], None]
) -> BenchContext:
    reference_dir, state_dir = work_dir / "reference", work_dir / "state"
    with make_client(
        sandbox.env, state_dir, config.per_second, config.per_hour, timeout=PRIME_TIMEOUT_S
    ) as client:
        plan = plan_current_week(client, reference_dir, config.region, config.dbt_regions)
        out(f"  week {plan.period}|{plan.region}: {len(plan.boards)} boards; priming the sandbox")
        prime_sandbox(client, plan)
    return BenchContext(config, sandbox, work_dir, plan, sandbox.now(), out)
