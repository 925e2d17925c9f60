"""The asset jobs: what a person, the sensor, the schedule or the CLI asks Dagster to run."""

import dagster as dg

from metawatch_dagster.assets.dbt import dbt_docs, dbt_season, dbt_staging, dbt_weekly
from metawatch_dagster.assets.exports import mart_exports, serving_warehouse
from metawatch_dagster.assets.leaderboards import leaderboard_pages, leaderboard_tables
from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.automation.freshness import freshness_checks

# Partition runs leave the freshness checks to their own schedule.
_FRESHNESS_CHECKS = dg.AssetSelection.checks(*freshness_checks)

REFERENCE_JOB = "refresh_reference"
PARTITION_JOB = "load_partition"
REPARSE_JOB = "reparse_partition"
PUBLISH_JOB = "publish"

reference_job = dg.define_asset_job(
    REFERENCE_JOB,
    selection=dg.AssetSelection.assets(reference_files, ref_tables),
    description="Refresh periods, seasons, realms, dungeons and specs, and load the ref_* tables.",
)
partition_job = dg.define_asset_job(
    PARTITION_JOB,
    selection=dg.AssetSelection.assets(leaderboard_pages, leaderboard_tables, dbt_weekly)
    - _FRESHNESS_CHECKS,
    description="Fetch one week of one region incrementally, parse it, and build its weekly marts.",
)
reparse_job = dg.define_asset_job(
    REPARSE_JOB,
    selection=dg.AssetSelection.assets(leaderboard_tables, dbt_weekly) - _FRESHNESS_CHECKS,
    description="Re-parse a partition from its raw snapshots alone (no API calls) and rebuild its marts.",
    config={"ops": {"leaderboard_tables": {"config": {"full": True}}}},
)
publish_job = dg.define_asset_job(
    PUBLISH_JOB,
    selection=dg.AssetSelection.assets(
        dbt_staging, dbt_season, dbt_docs, serving_warehouse, mart_exports
    ),
    description=(
        "Staging views with their tests over every partition, season marts, dbt docs, the "
        "read-only serving copy and the exports."
    ),
)
