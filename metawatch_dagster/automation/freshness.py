"""Per-region checks that each current period was loaded recently.

A freshness policy would look at the newest materialization of any partition, which a backfill of old
weeks refreshes, so these checks look at each region's current period itself.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metawatch_dagster.automation import schedule_status
from metawatch_dagster.config import Settings
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.reference import ReferenceMissing
from metawatch_dagster.resources import MetawatchResource

STALE_AFTER = timedelta(hours=3)
FRESHNESS_CRON = "*/30 * * * *"


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


freshness_checks = build_freshness_checks(list(Settings.from_env().regions))
freshness_job = dg.define_asset_job(
    "check_freshness",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Checks that every region's current period was loaded recently.",
)
freshness_schedule = dg.ScheduleDefinition(
    name="current_period_freshness",
    cron_schedule=FRESHNESS_CRON,
    job=freshness_job,
    execution_timezone="UTC",
    default_status=schedule_status(),
)
