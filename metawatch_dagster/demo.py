"""`make demo`: the two latest weeks of two regions, from API to marts, with a short summary.

Without Blizzard credentials in the environment it starts the bundled sandbox API and points the
platform at it; with them, the same steps run against Blizzard.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from metawatch_dagster.config import Settings
from metawatch_dagster.demo_summary import summary_lines
from metawatch_dagster.local_sandbox import running_sandbox
from metawatch_dagster.operations import Operator, PeriodSpec

DEMO_REGIONS = ["us", "eu"]
DEMO_WEEKS = 2
DEMO_SANDBOX_ARGS = ["--seed", "7", "--scale", "real", "--regions", ",".join(DEMO_REGIONS)]


def run_demo(
    operator_for: Callable[[Settings], Operator], out: Callable[[str], None] = print
) -> int:
    settings = Settings.from_env()
    if settings.client_id and settings.client_secret:
        out("Blizzard credentials found: the demo runs against Blizzard's API")
        return _demo(operator_for(settings), out)
    out("No BLIZZARD_CLIENT_ID/BLIZZARD_CLIENT_SECRET: starting the bundled sandbox API")
    with running_sandbox(DEMO_SANDBOX_ARGS) as sandbox_env:
        os.environ.update(sandbox_env)
        os.environ["METAWATCH_REGIONS"] = ",".join(DEMO_REGIONS)
        out(f"sandbox at {sandbox_env['METAWATCH_API_URL']}")
        return _demo(operator_for(Settings.from_env()), out)


def _demo(operator: Operator, out: Callable[[str], None]) -> int:
    started = time.monotonic()
    from metawatch_dagster.jobs import PARTITION_JOB

    regions = [r for r in DEMO_REGIONS if r in operator.settings.regions] or DEMO_REGIONS
    out(f"loading the {DEMO_WEEKS} latest weeks of {', '.join(regions)}")
    if not operator.load(regions, PeriodSpec(latest=DEMO_WEEKS), PARTITION_JOB):
        out("the demo stopped: a load failed (see above, and the run in the Dagster UI)")
        return 1
    if not operator.publish():
        out("the demo stopped: building the season marts, docs or exports failed")
        return 1
    data = operator.settings.data_dir
    serving = data / "serving" / "metawatch.duckdb"
    out("")
    for line in summary_lines(serving):
        out(line)
    out("")
    out(f"done in {time.monotonic() - started:.0f}s. Where to look next:")
    out(
        "  make dev                                  the Dagster UI: assets, runs, checks, backfills"
    )
    out(f"  {data / 'docs' / 'index.html'}   dbt docs (or: make docs)")
    out(f"  {serving}   read-only warehouse for notebooks and BI")
    out(f"  {data / 'exports'}/   marts as Parquet + summary.json")
    return operator.exit_status(True)
