"""Sensors, schedules and jobs that run metawatch without a person."""

import dagster as dg

from metawatch_dagster.config import automation_running


def sensor_status() -> dg.DefaultSensorStatus:
    return (
        dg.DefaultSensorStatus.RUNNING if automation_running() else dg.DefaultSensorStatus.STOPPED
    )


def schedule_status() -> dg.DefaultScheduleStatus:
    if automation_running():
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED
