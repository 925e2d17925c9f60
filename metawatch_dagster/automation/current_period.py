"""The schedule that reloads each region's current period.

A reload is incremental: unchanged boards cost a 304 and no parsing of new bytes; runs seen in earlier
snapshots are kept. A partition with a run still queued or running (the sensor's first load of a new
period, a last hour's load that outlasted the hour, a backfill from the UI) is skipped: the load would
only repeat it, and slow loads would pile up in the queue.
"""

import os

import dagster as dg

from metawatch_dagster.automation import pending_run, schedule_status
from metawatch_dagster.jobs import partition_job
from metawatch_dagster.partitions import partition_key, period_partitions
from metawatch_dagster.resources import MetawatchResource

DEFAULT_CRON = "0 * * * *"


def schedule_cron() -> str:
    return os.environ.get("METAWATCH_SCHEDULE_CRON", DEFAULT_CRON)


@dg.schedule(
    name="current_period_hourly",
    cron_schedule=schedule_cron(),
    job=partition_job,
    execution_timezone="UTC",
    default_status=schedule_status(),
    description="Loads the current period of every region incrementally, then its dbt models.",
)
def current_period_hourly(context: dg.ScheduleEvaluationContext, metawatch: MetawatchResource):
    current = metawatch.current_periods()
    registered = set(context.instance.get_dynamic_partitions(period_partitions.name))
    tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    requests = []
    for region, period in sorted(current.items()):
        if str(period) not in registered:
            context.log.info(f"{period}|{region} is not registered yet; the sensor adds it")
            continue
        key = partition_key(period, region)
        pending = pending_run(context.instance, partition_key=key)
        if pending:
            context.log.info(
                f"{key} is skipped: run {pending.run_id[:8]} of it is queued or running"
            )
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"hourly:{key}:{tick}",
                partition_key=key,
                tags={"metawatch/load": "hourly"},
            )
        )
    return requests or dg.SkipReason(
        f"no current period to load in {sorted(current)}: not registered yet, or already loading"
    )
