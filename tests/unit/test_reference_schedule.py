"""The daily reference refresh is registered and asks for the reference job."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from metawatch_dagster.automation.reference_daily import DEFAULT_CRON, reference_cron
from metawatch_dagster.definitions import defs
from metawatch_dagster.jobs import REFERENCE_JOB


def test_the_daily_refresh_requests_one_reference_run() -> None:
    schedule = defs.resolve_schedule_def("reference_daily")
    assert schedule.job_name == REFERENCE_JOB
    assert schedule.cron_schedule == DEFAULT_CRON

    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    ) as context:
        requests = schedule.evaluate_tick(context).run_requests

    assert len(requests) == 1 and requests[0].job_name in (None, REFERENCE_JOB)


def test_the_cron_can_be_set_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("METAWATCH_REFERENCE_CRON", "0 6 * * *")
    assert reference_cron() == "0 6 * * *"
