"""The incremental hour: a reload of the current period after ~5% of its boards changed, against the
full week's load (fetch from empty, parse, dbt) of the same partition; and the parse of a later hourly
reload (see `later_reload.py`).

Each run starts from a copy of the full load's raw folder and warehouse, moves the sandbox clock by the
step, fetches (unchanged boards answer 304), parses the union of snapshots and runs dbt for the
partition. The warm-up calibrates the step so the changed share comes near the target.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawatch_dagster.bench.child import run_in_child
from metawatch_dagster.bench.dbt_timing import build_staging_views, run_weekly_models
from metawatch_dagster.bench.fetch import fetch_week
from metawatch_dagster.bench.figures import Figure, ratio_figure, summarize
from metawatch_dagster.bench.later_reload import measure_later_reload
from metawatch_dagster.bench.section import Section
from metawatch_dagster.bench.warehouse_setup import fresh_warehouse

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext

WAREHOUSE = "metawatch.duckdb"
MAX_STEP_GROWTH = 8.0


def changed_share(sample: dict[str, float]) -> float:
    """Boards that answered 200 (changed) among those that answered 200 or 304."""
    answered = sample["status_200"] + sample["status_304"]
    return sample["status_200"] / answered if answered else 0.0


def calibrated_step(step_s: float, share: float, target: float) -> float:
    """The step that should change `target` of the boards, from one that changed `share`
    (boards change at a near-steady rate over a short step)."""
    if share <= 0:
        return step_s * MAX_STEP_GROWTH
    return max(1.0, round(step_s * min(MAX_STEP_GROWTH, target / share)))


def _load(ctx: BenchContext, raw_dir: Path, warehouse: Path) -> dict[str, float]:
    """Parse the partition (child process) and run dbt for it; their seconds."""
    parse = run_in_child("parse", ctx.payload(raw_dir, warehouse=str(warehouse)))
    dbt = run_weekly_models(warehouse, [ctx.partition_key])
    return {
        "parse_seconds": parse.result["seconds"],
        "dbt_seconds": dbt.model_seconds,
        "parse_dbt_seconds": parse.result["seconds"] + dbt.model_seconds,
    }


def measure_incremental(ctx: BenchContext) -> Section:
    cfg = ctx.config
    empty = build_staging_views(
        fresh_warehouse(ctx.scratch("empty") / WAREHOUSE, ctx.reference_dir, [ctx.plan.region])
    )

    # The full week's load: one fetch from empty (its bytes are deterministic), parse + dbt repeated.
    ctx.sandbox.set_clock(ctx.start)
    base_raw = ctx.scratch("full-raw")
    with ctx.client() as client:
        full_fetch = fetch_week(client, base_raw, ctx.plan)
    full_samples: list[dict[str, float]] = []
    loaded = empty
    for index in range(cfg.warmups + cfg.runs):
        loaded = ctx.scratch("full") / WAREHOUSE
        shutil.copyfile(empty, loaded)
        sample = _load(ctx, base_raw, loaded)
        if index >= cfg.warmups:
            full_samples.append(sample)

    step_s = cfg.incremental_step_s
    steps: list[float] = []
    samples: list[dict[str, float]] = []
    for index in range(cfg.warmups + cfg.runs):
        run_dir = ctx.scratch("incremental")
        raw_dir = shutil.copytree(base_raw, run_dir / "raw")
        warehouse = run_dir / WAREHOUSE
        shutil.copyfile(loaded, warehouse)
        ctx.sandbox.set_clock(ctx.start + timedelta(seconds=step_s))
        with ctx.client() as client:
            fetched = fetch_week(client, raw_dir, ctx.plan)
        sample = {
            **fetched,
            **_load(ctx, raw_dir, warehouse),
            "changed_share": changed_share(fetched),
        }
        if index < cfg.warmups:
            step_s = calibrated_step(step_s, sample["changed_share"], cfg.incremental_share)
            continue
        steps.append(step_s)
        samples.append(sample)
    ctx.sandbox.set_clock(ctx.start)
    later, later_facts = measure_later_reload(ctx, base_raw, loaded)

    full = summarize(full_samples)
    figures: dict[str, Figure] = {
        "changed_share": Figure.of([s["changed_share"] for s in samples]),
        "requests": Figure.of([s["requests"] for s in samples]),
        "bytes": Figure.of([s["bytes"] for s in samples]),
        "bytes_share": Figure.of([s["bytes"] / full_fetch["bytes"] for s in samples]),
        "parse_seconds": Figure.of([s["parse_seconds"] for s in samples]),
        "dbt_seconds": Figure.of([s["dbt_seconds"] for s in samples]),
        "time_share": ratio_figure(
            [s["parse_dbt_seconds"] for s in samples],
            [s["parse_dbt_seconds"] for s in full_samples],
        ),
        "full_parse_seconds": full["parse_seconds"],
        "full_dbt_seconds": full["dbt_seconds"],
        "later_parse_seconds": Figure.of(later),
        "later_vs_full_parse": ratio_figure(later, [s["parse_seconds"] for s in full_samples]),
    }
    facts: dict[str, Any] = {
        "clock_step_s": steps[-1] if steps else step_s,
        "full_requests": full_fetch["requests"],
        "full_bytes": full_fetch["bytes"],
        "status_200": [s["status_200"] for s in samples],
        "status_304": [s["status_304"] for s in samples],
        "later_reload": later_facts,
    }
    notes = [
        f"later hourly reload: the last of {later_facts['hours']} reloads an hour apart after the full"
        " load, its parse paired run by run with the full week's; the reloads before it are parsed once"
    ]
    return Section(figures, facts, notes)
