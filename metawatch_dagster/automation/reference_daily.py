"""The schedule that refreshes the reference data every day.

Boards are planned from the reference files (connected realms, dungeons, periods): a connected realm
or dungeon Blizzard adds mid-week joins the plan by the next day, without waiting for a person to run
`metawatch load`.
"""

import os

import dagster as dg

from metawatch_dagster.automation import schedule_status
from metawatch_dagster.jobs import reference_job

DEFAULT_CRON = "30 3 * * *"  # daily, before the EU reset (04:00 UTC) and long before the US one


def reference_cron() -> str:
    return os.environ.get("METAWATCH_REFERENCE_CRON", DEFAULT_CRON)


reference_daily = dg.ScheduleDefinition(
    name="reference_daily",
    cron_schedule=reference_cron(),
    job=reference_job,
    execution_timezone="UTC",
    default_status=schedule_status(),
    description="Refreshes periods, seasons, connected realms, dungeons and specs once a day.",
)
