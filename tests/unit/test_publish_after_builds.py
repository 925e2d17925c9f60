"""The publish_after_builds sensor on a real (temporary) instance: a publish once a partition run has
succeeded since the last publish and the partition runs have settled; the states that hold it back."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType

from metawatch_dagster.automation import publish_after_builds as sensor_module
from metawatch_dagster.automation.publish_after_builds import publish_after_builds

SUCCESS = dg.DagsterRunStatus.SUCCESS
STARTED = dg.DagsterRunStatus.STARTED


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def settled(monkeypatch):
    monkeypatch.setattr(sensor_module, "SETTLE", timedelta(0))


def add_run(
    instance: dg.DagsterInstance, job_name: str, status: dg.DagsterRunStatus, partition: bool = True
) -> str:
    """A run of the job, started and, for SUCCESS, ended through the events a run reports."""
    tags = {"dagster/partition": "1022|eu"} if partition else {}
    run = instance.add_run(dg.DagsterRun(job_name=job_name, status=STARTED, tags=tags))
    if status == SUCCESS:
        ended = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=job_name)
        instance.report_dagster_event(ended, run_id=run.run_id)
    return run.run_id


def evaluate(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    with dg.build_sensor_context(instance=instance) as context:
        return publish_after_builds(context)


def test_a_partition_run_that_succeeded_is_published_once_the_runs_settle(instance, settled):
    assert "no partition run has succeeded" in evaluate(instance).skip_message
    add_run(instance, "pack_raw", SUCCESS, partition=False)
    assert "no partition run has succeeded" in evaluate(instance).skip_message

    built = add_run(instance, "__ASSET_JOB", SUCCESS)  # a week of a UI backfill
    request = evaluate(instance)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"after:{built}"
    assert request.tags == {"metawatch/publish_after": built}

    publishing = add_run(instance, "publish", STARTED, partition=False)
    assert f"run {publishing[:8]} is publishing" in evaluate(instance).skip_message
    instance.report_run_failed(instance.get_run_by_id(publishing), "a failed dbt test")
    assert "no partition run has succeeded" in evaluate(instance).skip_message

    rebuilt = add_run(instance, "reparse_partition", SUCCESS)
    assert evaluate(instance).run_key == f"after:{rebuilt}"


def test_a_partition_run_still_going_holds_the_publish_back(instance, settled):
    add_run(instance, "load_partition", SUCCESS)
    going = add_run(instance, "load_partition", STARTED)
    skipped = evaluate(instance)
    assert isinstance(skipped, dg.SkipReason)
    assert f"waiting for 1 partition runs to end, such as {going[:8]}" in skipped.skip_message


def test_a_partition_run_ended_moments_ago_holds_the_publish_back(instance):
    add_run(instance, "load_partition", SUCCESS)
    skipped = evaluate(instance)
    assert isinstance(skipped, dg.SkipReason)
    assert "publishing once none has for 300s" in skipped.skip_message
