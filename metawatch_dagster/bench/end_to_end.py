"""One region-week from empty to marts, through `metawatch load` as a person would run it: a fresh
data folder and Dagster home, reference data, fetch, parse and the weekly dbt build."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from metawatch_dagster.bench.figures import repeat, summarize
from metawatch_dagster.bench.section import Section

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext


class EndToEndError(RuntimeError):
    pass


def measure_end_to_end(ctx: BenchContext) -> Section:
    region, period = ctx.plan.region, ctx.plan.period
    metawatch = os.path.join(os.path.dirname(sys.executable), "metawatch")

    def once() -> dict[str, float]:
        ctx.sandbox.set_clock(ctx.start)
        run_dir = ctx.scratch("end-to-end")
        env = {
            **os.environ,
            **ctx.sandbox.env,
            "METAWATCH_DATA_DIR": str(run_dir / "data"),
            "DAGSTER_HOME": str(run_dir / "dagster_home"),
            "METAWATCH_REGIONS": region,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        command = [metawatch, "load", "--region", region, "--period", str(period), "--no-publish"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-6:])
            raise EndToEndError(f"metawatch load exited {done.returncode}: {tail}")
        return {"seconds": seconds}

    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    notes = ["wall time of `metawatch load --no-publish` in a fresh data folder and Dagster home"]
    return Section(summarize(samples), {"partition": ctx.partition_key}, notes)
