"""Sensors, schedules and jobs that run metawatch without a person."""

import os

import dagster as dg

from metawatch_dagster.config import automation_running

# How often the sensors look: new periods, missed retries.
SENSOR_INTERVAL_SECONDS = int(os.environ.get("METAWATCH_SENSOR_INTERVAL", "300"))

# A run in one of these states will still do its work: requesting another would only repeat it.
PENDING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def pending_run(
    instance: dg.DagsterInstance, *, job_name: str | None = None, partition_key: str | None = None
) -> dg.DagsterRun | None:
    """A queued or running run of the job, of the partition, or both, if any."""
    tags = {} if partition_key is None else {"dagster/partition": partition_key}
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=job_name, statuses=PENDING, tags=tags), limit=1
    )
    return runs[0] if runs else None


def sensor_status() -> dg.DefaultSensorStatus:
    return (
        dg.DefaultSensorStatus.RUNNING if automation_running() else dg.DefaultSensorStatus.STOPPED
    )


def schedule_status() -> dg.DefaultScheduleStatus:
    if automation_running():
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED
