"""A later hourly reload: the parse of the week's Nth hourly reload, after the reloads before it.

An hour of sandbox time changes most boards, so each hourly reload brings nearly a week's worth of new
bodies, and the parse cache must not keep growing with them (superseded bodies are folded). The
reloads before the measured one are fetched and parsed once to build the state; the measured one is
parsed from copies of that state, and paired run by run with the full week's parse.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawatch_dagster.bench.child import run_in_child
from metawatch_dagster.bench.fetch import fetch_week
from metawatch_dagster.bench.figures import repeat
from metawatch_dagster.warehouse import connect

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext

WAREHOUSE = "metawatch.duckdb"
STEP = timedelta(hours=1)


def measure_later_reload(
    ctx: BenchContext, base_raw: Path, loaded: Path
) -> tuple[list[float], dict[str, Any]]:
    """The measured reload's parse seconds, run by run, and the facts of the reloads leading to it,
    starting from the full week's raw folder and loaded warehouse."""
    hours = ctx.config.later_reload_hours
    run_dir = ctx.scratch("later-reload")
    raw_dir = shutil.copytree(base_raw, run_dir / "raw")
    warehouse = run_dir / WAREHOUSE
    shutil.copyfile(loaded, warehouse)
    changed, parsed = [], []  # per hour: the boards that answered 200, the parse's seconds
    for hour in range(1, hours + 1):
        ctx.sandbox.set_clock(ctx.start + hour * STEP)
        with ctx.client() as client:
            fetched = fetch_week(client, raw_dir, ctx.plan)
        changed.append(fetched["status_200"])
        if hour < hours:
            parse = run_in_child("parse", ctx.payload(raw_dir, warehouse=str(warehouse)))
            parsed.append(parse.result["seconds"])
    ctx.sandbox.set_clock(ctx.start)

    facts: dict[str, Any] = {}

    def once() -> dict[str, float]:
        copy = ctx.scratch("later-parse") / WAREHOUSE
        shutil.copyfile(warehouse, copy)
        parse = run_in_child("parse", ctx.payload(raw_dir, warehouse=str(copy)))
        facts.update(bodies_folded=parse.result["bodies_folded"], **_cache_rows(copy))
        return {"seconds": parse.result["seconds"]}

    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    facts.update(hours=hours, status_200_by_hour=changed, parse_seconds_by_hour=parsed)
    return [s["seconds"] for s in samples], facts


def _cache_rows(warehouse: Path) -> dict[str, int]:
    """What the parse cache holds after the measured reload: entries and folded rows."""
    counts = {}
    with connect(warehouse) as con:
        for table in ("entries", "folded"):
            query = f"SELECT count(*) FROM parse_cache.{table}"
            counts[f"cached_{table}"] = con.execute(query).fetchone()[0]
    return counts
