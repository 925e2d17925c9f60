"""The composition root: every asset, check, job, sensor, schedule and resource of metawatch."""

import dagster as dg

from metawatch_dagster.assets.dbt import (
    dbt_docs,
    dbt_resource,
    dbt_season,
    dbt_staging,
    dbt_weekly,
)
from metawatch_dagster.assets.exports import mart_exports, serving_warehouse
from metawatch_dagster.assets.leaderboards import leaderboard_pages, leaderboard_tables
from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.automation.current_period import current_period_hourly
from metawatch_dagster.automation.freshness import (
    freshness_checks,
    freshness_job,
    freshness_schedule,
)
from metawatch_dagster.automation.missed_retries import missed_retries
from metawatch_dagster.automation.new_periods import new_periods
from metawatch_dagster.automation.pack_raw import pack_raw, pack_raw_daily
from metawatch_dagster.automation.publish_after_builds import publish_after_builds
from metawatch_dagster.automation.reference_daily import reference_daily
from metawatch_dagster.automation.sync_periods import sync_periods
from metawatch_dagster.jobs import partition_job, publish_job, reference_job, reparse_job
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.worker_executor import worker_recording_executor

defs = dg.Definitions(
    assets=[
        reference_files,
        ref_tables,
        leaderboard_pages,
        leaderboard_tables,
        dbt_staging,
        dbt_weekly,
        dbt_season,
        dbt_docs,
        serving_warehouse,
        mart_exports,
    ],
    asset_checks=freshness_checks,
    jobs=[
        reference_job,
        partition_job,
        reparse_job,
        publish_job,
        sync_periods,
        freshness_job,
        pack_raw,
    ],
    sensors=[new_periods, missed_retries, publish_after_builds],
    schedules=[current_period_hourly, freshness_schedule, reference_daily, pack_raw_daily],
    resources={"metawatch": MetawatchResource(), "dbt": dbt_resource()},
    # A partition's steps run one after another; a process per step only adds start-up time. The
    # run's process records itself on the run, so that its death can be told (run_workers.py).
    executor=worker_recording_executor,
)
