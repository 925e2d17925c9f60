"""The daily job that packs the raw bodies of ended weeks (see raw_archive.py).

A week reloaded every hour leaves about 10 GB of bodies per region on a real-scale world; packed, a
fraction of that. A week ends at its region's reset, and the sensor loads it a last time then; the
job packs a week once its newest snapshot is a day old, so a retry or a load by hand soon after the
reset finds its bodies in place. A rebuild of a packed week leaves it packed; a later load unpacks it
first, and the next day's run packs it again. A week a run is reading is left for the next day; a
week whose pack fails otherwise (a damaged archive, say) fails the run, once the others are packed.
"""

import os
from datetime import timedelta

import dagster as dg

from metawatch_dagster.automation import schedule_status
from metawatch_dagster.operations import pack_ended_weeks
from metawatch_dagster.resources import MetawatchResource

DEFAULT_CRON = "0 6 * * *"  # daily, after the EU reset (04:00 UTC) and its last load
UNLOADED_FOR = timedelta(days=1)


def pack_cron() -> str:
    return os.environ.get("METAWATCH_PACK_CRON", DEFAULT_CRON)


@dg.op
def pack_ended_weeks_unloaded_for_a_day(
    context: dg.OpExecutionContext, metawatch: MetawatchResource
) -> None:
    settings = metawatch.settings()
    outcome = pack_ended_weeks(
        settings, list(settings.regions), None, context.log.info, unloaded_for=UNLOADED_FOR
    )
    if outcome.busy:
        context.log.warning("weeks a run was reading were left; the next day's run packs them")
    if outcome.failed:
        raise dg.Failure(
            f"could not pack {', '.join(outcome.failed)} (see its FAILED line);"
            " the other ended weeks were packed"
        )


@dg.job(description="Pack the raw bodies of each ended week a day after its last load.")
def pack_raw():
    pack_ended_weeks_unloaded_for_a_day()


pack_raw_daily = dg.ScheduleDefinition(
    name="pack_raw_daily",
    cron_schedule=pack_cron(),
    job=pack_raw,
    execution_timezone="UTC",
    default_status=schedule_status(),
    description="Packs the raw bodies of ended weeks once a day (`metawatch pack` by hand).",
)
