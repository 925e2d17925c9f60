"""The schedule that reloads each region's current period, and the check that it stays fresh.

A reload is incremental: unchanged boards cost a 304 and no parsing of new bytes; runs seen in earlier
snapshots are kept. A freshness policy would look at the newest materialization of any partition, which
a backfill of old weeks refreshes, so the check looks at each region's current period itself.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from metawatch_dagster.jobs import partition_job
from metawatch_dagster.partitions import partition_key, period_partitions
from metawatch_dagster.reference import ReferenceMissing
from metawatch_dagster.resources import MetawatchResource

DEFAULT_CRON = "0 * * * *"
STALE_AFTER = timedelta(hours=3)


def schedule_cron() -> str:
    return os.environ.get("METAWATCH_SCHEDULE_CRON", DEFAULT_CRON)


@dg.schedule(
    name="current_period_hourly",
    cron_schedule=schedule_cron(),
    job=partition_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Loads the current period of every region incrementally, then its dbt models.",
)
def current_period_hourly(context: dg.ScheduleEvaluationContext, metawatch: MetawatchResource):
    settings = metawatch.settings()
    with metawatch.client() as client:
        current = {
            region: client.period_index(region)["current_period"]["id"]
            for region in settings.regions
        }
    registered = set(context.instance.get_dynamic_partitions(period_partitions.name))
    tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    requests = []
    for region, period in sorted(current.items()):
        if str(period) not in registered:
            context.log.info(f"{period}|{region} is not registered yet; the sensor adds it")
            continue
        key = partition_key(period, region)
        requests.append(
            dg.RunRequest(
                run_key=f"hourly:{key}:{tick}",
                partition_key=key,
                tags={"metawatch/load": "hourly"},
            )
        )
    return requests or dg.SkipReason(f"no registered current period in {sorted(current)}")


def last_load_age(instance: dg.DagsterInstance, key: str, now: datetime) -> timedelta | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("leaderboard_pages"), asset_partitions=[key]),
        limit=1,
    ).records
    if not records:
        return None
    return now - datetime.fromtimestamp(records[0].timestamp, tz=UTC)


def build_freshness_checks(regions: list[str]) -> list[dg.AssetChecksDefinition]:
    def build(region: str) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset="leaderboard_pages",
            name=f"current_period_fresh_{region}",
            description=f"The current period of {region} was loaded within {STALE_AFTER}.",
        )
        def check(context: dg.AssetCheckExecutionContext, metawatch: MetawatchResource):
            try:
                period = metawatch.reference().periods(region)["current_period"]
            except ReferenceMissing as missing:
                return dg.AssetCheckResult(passed=False, metadata={"reason": str(missing)})
            key = partition_key(period, region)
            age = last_load_age(context.instance, key, datetime.now(UTC))
            return dg.AssetCheckResult(
                passed=age is not None and age <= STALE_AFTER,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "partition": key,
                    "hours_since_last_load": None
                    if age is None
                    else round(age.total_seconds() / 3600, 2),
                },
            )

        return check

    return [build(region) for region in regions]
