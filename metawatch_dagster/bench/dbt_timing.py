"""dbt runs of the weekly models, timed by dbt itself: the models' `execution_time` from
run_results.json, so dbt's start-up and project parsing are left out. The staging views are built
once per warehouse (as the pipeline does), outside every timing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from metawatch_dagster.assets.dbt import (
    DBT_PROJECT_DIR,
    STAGING_SELECTION,
    WEEKLY_SELECTION,
    dbt_env,
)
from metawatch_dagster.bench.child import run_in_child
from metawatch_dagster.bench.figures import ratio_figure, repeat, summarize
from metawatch_dagster.bench.section import Section
from metawatch_dagster.bench.warehouse_setup import copy_partition, fresh_warehouse

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext


class DbtRunError(RuntimeError):
    pass


@dataclass(frozen=True)
class DbtTiming:
    model_seconds: float
    wall_seconds: float
    models: int


def run_weekly_models(
    warehouse: Path, partition_keys: list[str], full_refresh: bool = False
) -> DbtTiming:
    """`dbt run` of the weekly models for the partitions (none = every partition)."""
    return _run_models(warehouse, WEEKLY_SELECTION, partition_keys, full_refresh)


def build_staging_views(warehouse: Path) -> Path:
    """The staging views the weekly models read; returns the warehouse."""
    _run_models(warehouse, STAGING_SELECTION, [])
    return warehouse


def _run_models(
    warehouse: Path, selection: str, partition_keys: list[str], full_refresh: bool = False
) -> DbtTiming:
    dbt = Path(sys.executable).with_name("dbt")
    with tempfile.TemporaryDirectory(prefix="metawatch-bench-dbt-") as scratch:
        command = [
            str(dbt), "run",
            "--select", *selection.split(),
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(Path(scratch) / "target"),
            "--log-path", str(Path(scratch) / "logs"),
        ]  # fmt: skip
        if full_refresh:
            command.append("--full-refresh")
        env = {
            **os.environ,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **dbt_env(partition_keys, warehouse),
        }
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            tail = " | ".join(done.stdout.strip().splitlines()[-8:])
            raise DbtRunError(f"dbt run exited {done.returncode}: {tail}")
        results = json.loads((Path(scratch) / "target" / "run_results.json").read_text())
    models = [r for r in results["results"] if r["unique_id"].startswith("model.")]
    return DbtTiming(sum(r["execution_time"] for r in models), wall, len(models))


def measure_dbt(ctx: BenchContext, raw_dir: Path) -> Section:
    """dbt model time for one new partition against a full refresh of periods × regions.

    The warehouse holds the real-scale week, parsed once by the real parse, copied at table level into
    `dbt_periods` periods of each of `dbt_regions` (run ids re-hashed per copy, so every copy's runs are
    distinct): fetching that many real-scale weeks through the quota would take the bench too long.
    """
    cfg = ctx.config
    region, period = ctx.plan.region, ctx.plan.period
    regions = sorted({region, *cfg.dbt_regions})
    base = build_staging_views(
        fresh_warehouse(ctx.scratch("dbt-base") / "metawatch.duckdb", ctx.reference_dir, regions)
    )
    run_in_child("parse", ctx.payload(raw_dir, warehouse=str(base)))
    targets = [
        (r, p) for r in cfg.dbt_regions for p in range(period - cfg.dbt_periods + 1, period + 1)
    ]
    rows = copy_partition(base, (region, period), targets)
    new_partition = (region, period + 1)

    def once() -> dict[str, float]:
        warehouse = ctx.scratch("dbt") / "metawatch.duckdb"
        shutil.copyfile(base, warehouse)
        full = run_weekly_models(warehouse, [], full_refresh=True)
        copy_partition(warehouse, (region, period), [new_partition])
        one = run_weekly_models(warehouse, [f"{new_partition[1]}|{new_partition[0]}"])
        return {
            "full_refresh_seconds": full.model_seconds,
            "one_partition_seconds": one.model_seconds,
        }

    samples = repeat(once, cfg.runs, cfg.warmups)
    figures = summarize(samples)
    figures["one_partition_share"] = ratio_figure(
        [s["one_partition_seconds"] for s in samples], [s["full_refresh_seconds"] for s in samples]
    )
    facts = {"partitions": len(targets), "rows": rows, "new_partition": f"{period + 1}|{region}"}
    notes = [
        f"warehouse: the real {region} week parsed once, copied at table level to "
        f"{cfg.dbt_periods} periods x {len(cfg.dbt_regions)} regions"
    ]
    return Section(figures, facts, notes)
