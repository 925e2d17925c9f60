"""The sensor that publishes once the builds settle.

Readers outside the pipeline use the serving copy, the exports and the dbt docs, which only the `publish`
job replaces (with the season marts and the staging views' tests over every partition). A partition run
(a load, a rebuild, a week of a UI backfill) changes its week's marts; once one has succeeded since the
last publish was requested, no partition run is queued or running, and none has ended for `SETTLE`
(the next week of a backfill, the other regions' hourly loads), the sensor requests a publish: a
backfill of a season publishes once, the hourly loads of every region once an hour. A `metawatch`
command publishes on its own unless told not to.
"""

import os
import time
from datetime import timedelta

import dagster as dg

from metawatch_dagster.automation import (
    PENDING,
    SENSOR_INTERVAL_SECONDS,
    pending_run,
    sensor_status,
)
from metawatch_dagster.jobs import PUBLISH_JOB, publish_job

SETTLE = timedelta(seconds=int(os.environ.get("METAWATCH_PUBLISH_SETTLE", "300")))
PARTITION_TAG = "dagster/partition"
# Enough to find the newest partition run among the runs of a few hours: the other jobs (reference,
# freshness, pack, publish) run a few times a day at most.
RUNS_LOOKED_AT = 200


def _partition_runs(instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus]):
    """The newest runs in `statuses` that ran a partition, newest first."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses), limit=RUNS_LOOKED_AT
    )
    return [record for record in records if PARTITION_TAG in record.dagster_run.tags]


@dg.sensor(
    name="publish_after_builds",
    job=publish_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=sensor_status(),
    description="Publishes (season marts, docs, serving copy, exports) once partition runs settle.",
)
def publish_after_builds(context: dg.SensorEvaluationContext):
    instance = context.instance
    publishing = pending_run(instance, job_name=PUBLISH_JOB)
    if publishing:
        return dg.SkipReason(f"run {publishing.run_id[:8]} is publishing")
    publishes = instance.get_run_records(filters=dg.RunsFilter(job_name=PUBLISH_JOB), limit=1)
    # A run's end time, not its update time: the run storage keeps the latter to the second.
    since = publishes[0].create_timestamp.timestamp() if publishes else 0.0
    built = [
        record
        for record in _partition_runs(instance, [dg.DagsterRunStatus.SUCCESS])
        if record.end_time is not None and record.end_time > since
    ]
    if not built:
        return dg.SkipReason("no partition run has succeeded since the last publish")
    building = _partition_runs(instance, PENDING)
    if building:
        return dg.SkipReason(
            f"waiting for {len(building)} partition runs to end, such as"
            f" {building[0].dagster_run.run_id[:8]}"
        )
    last = max(built, key=lambda record: record.end_time)
    quiet = time.time() - last.end_time
    if quiet < SETTLE.total_seconds():
        return dg.SkipReason(
            f"the last partition run ended {quiet:.0f}s ago; publishing once none has for"
            f" {SETTLE.total_seconds():.0f}s"
        )
    return dg.RunRequest(
        run_key=f"after:{last.dagster_run.run_id}",
        tags={"metawatch/publish_after": last.dagster_run.run_id},
    )
