"""One region-week from empty to marts, through `metawatch load` as a person would run it: a fresh
data folder and Dagster home, reference data, fetch, parse and the weekly dbt build. Then the same
command again after the sandbox's clock moved on as far as the incremental hour's (about 5% of the
boards changed): the partition's run is what the hourly schedule runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from metawatch_dagster.bench.figures import repeat, summarize
from metawatch_dagster.bench.section import Section

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext


class EndToEndError(RuntimeError):
    pass


def measure_end_to_end(ctx: BenchContext, reload_step_s: float) -> Section:
    region, period = ctx.plan.region, ctx.plan.period
    metawatch = os.path.join(os.path.dirname(sys.executable), "metawatch")
    command = [metawatch, "load", "--region", region, "--period", str(period), "--no-publish"]

    def once() -> dict[str, float]:
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
        ctx.sandbox.set_clock(ctx.start)
        seconds, output = _load(command, env)
        ctx.sandbox.set_clock(ctx.start + timedelta(seconds=reload_step_s))
        reload_seconds, reload_output = _load(command, env)
        ctx.sandbox.set_clock(ctx.start)
        return {
            "seconds": seconds,
            "run_seconds": partition_run_seconds(output, ctx.partition_key),
            "reload_seconds": reload_seconds,
            "reload_run_seconds": partition_run_seconds(reload_output, ctx.partition_key),
        }

    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    notes = [
        "wall time of `metawatch load --no-publish` in a fresh data folder and Dagster home, then"
        f" of the same command {reload_step_s:.0f} s of sandbox time later (the incremental hour's"
        " step); 'the partition's run' is the load_partition run alone, as `metawatch load` reports it"
    ]
    return Section(
        summarize(samples), {"partition": ctx.partition_key, "clock_step_s": reload_step_s}, notes
    )


def _load(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        raise EndToEndError(f"metawatch load exited {done.returncode}: {tail}")
    return seconds, done.stdout


def partition_run_seconds(output: str, partition_key: str) -> float:
    """The seconds `metawatch load` reports for the partition's run: its line
    `ok      <partition> (<seconds>s, run <id>)`."""
    line = re.compile(rf"^\s*ok\s+{re.escape(partition_key)} \((\d+(?:\.\d+)?)s, run ", re.M)
    found = line.search(output)
    if found is None:
        raise EndToEndError(f"`metawatch load` reported no successful run of {partition_key}")
    return float(found.group(1))
