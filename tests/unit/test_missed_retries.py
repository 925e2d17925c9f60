"""The missed_retries sensor on a real (temporary) instance: a run failed with will_retry=true and no
retry is run again only once Dagster's retry daemon has read past its failure; the rules that leave a
run alone, one by one. (tests/e2e/test_missed_retries_e2e.py runs the rerun through the daemon.)"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)

from metawatch_dagster.automation.missed_retries import (
    RETRY_DAEMON_CURSOR,
    RETRY_OF_TAG,
    FailedRun,
    failed_runs,
    missed_retries,
    why_not_missed,
)

PARTITION = "1022|eu"
RETRIES = {"run_retries": {"enabled": True, "max_retries": 1}}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def origin(job_name: str) -> RemoteJobOrigin:
    location = GrpcServerCodeLocationOrigin(host="localhost", port=4000, location_name="metawatch")
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


def failed_run(
    instance: dg.DagsterInstance,
    job_name: str = "load_partition",
    tags: dict[str, str] | None = None,
    launched: bool = True,
    retry_of: dg.DagsterRun | None = None,
) -> dg.DagsterRun:
    """A run of the job that started and then failed, as the run monitoring fails a dead run."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name=job_name,
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": PARTITION, **(tags or {})},
            remote_job_origin=origin(job_name) if launched else None,
            parent_run_id=retry_of.run_id if retry_of else None,
            root_run_id=retry_of.run_id if retry_of else None,
        )
    )
    instance.report_run_failed(run, "its process ended")
    return instance.get_run_by_id(run.run_id)


def failure_id(instance: dg.DagsterInstance, run_id: str) -> int:
    """The id of the run's failure event in the event log's index, as the retry daemon reads it."""
    changes = instance.fetch_run_status_changes(dg.DagsterEventType.RUN_FAILURE, limit=100)
    return max(record.storage_id for record in changes.records if record.run_id == run_id)


def read_past(instance: dg.DagsterInstance, storage_id: int) -> None:
    """Move the retry daemon's cursor as if it had read every failure up to `storage_id`."""
    instance.daemon_cursor_storage.set_cursor_values({RETRY_DAEMON_CURSOR: str(storage_id)})


def evaluate(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    with dg.build_sensor_context(instance=instance) as context:
        result = missed_retries(context)
    return [] if isinstance(result, dg.SkipReason) else list(result)


def test_a_failure_the_retry_daemon_read_past_without_a_retry_is_run_again_once():
    with dg.instance_for_test(overrides=RETRIES) as instance:
        run = failed_run(instance, tags={"metawatch/load": "hourly"})
        assert run.tags["dagster/will_retry"] == "true"
        assert evaluate(instance) == []  # the daemon has not run yet

        read_past(instance, failure_id(instance, run.run_id) - 1)
        assert evaluate(instance) == []  # nor read the failure yet

        read_past(instance, failure_id(instance, run.run_id))
        (request,) = evaluate(instance)
        assert request.job_name == "load_partition"
        assert request.partition_key == PARTITION
        assert request.run_key == f"retry-of:{run.run_id}"
        # The one retry the instance allows is this rerun: Dagster is to retry it no further.
        assert request.tags == {RETRY_OF_TAG: run.run_id, "dagster/max_retries": "0"}
        engine_events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        assert any(
            "missed_retries sensor requests a rerun of it" in e.message for e in engine_events
        )

        instance.add_run(dg.DagsterRun(job_name="load_partition", tags={RETRY_OF_TAG: run.run_id}))
        assert evaluate(instance) == []


def test_a_rerun_leaves_the_retries_dagster_would_still_make():
    with dg.instance_for_test(
        overrides={"run_retries": {"enabled": True, "max_retries": 3}}
    ) as instance:
        root = failed_run(instance)
        # Dagster retried the root once; its retry failed and that one's retry was missed.
        retry = failed_run(
            instance,
            tags={
                "dagster/parent_run_id": root.run_id,
                "dagster/root_run_id": root.run_id,
                "dagster/retry_number": "1",
            },
            retry_of=root,
        )
        instance.add_run_tags(root.run_id, {"dagster/auto_retry_run_id": retry.run_id})
        read_past(instance, failure_id(instance, retry.run_id))
        (request,) = evaluate(instance)
        assert request.tags[RETRY_OF_TAG] == retry.run_id
        assert request.tags["dagster/max_retries"] == "1"  # 3 less the root, its retry, this one


def test_a_subset_run_is_rerun_with_its_assets_and_config():
    with dg.instance_for_test(overrides=RETRIES) as instance:
        selection = frozenset({dg.AssetKey("leaderboard_tables"), dg.AssetKey("fct_runs")})
        config = {"ops": {"leaderboard_tables": {"config": {"full": True}}}}
        run = instance.add_run(
            dg.DagsterRun(
                job_name="reparse_partition",
                status=dg.DagsterRunStatus.STARTED,
                tags={"dagster/partition": PARTITION},
                remote_job_origin=origin("reparse_partition"),
                asset_selection=selection,
                run_config=config,
            )
        )
        instance.report_run_failed(run, "its process ended")
        read_past(instance, failure_id(instance, run.run_id))
        (request,) = evaluate(instance)
        assert request.job_name == "reparse_partition"
        assert set(request.asset_selection) == selection
        assert request.run_config == config


@pytest.mark.parametrize(
    ("job_name", "tags", "launched", "reason"),
    [
        ("load_partition", {"dagster/backfill": "abc"}, True, "belongs to a backfill"),
        ("load_partition", {}, False, "ran in a `metawatch` command"),
        ("__ASSET_JOB", {}, True, "its job __ASSET_JOB is not one this sensor runs"),
        ("load_partition", {"dagster/auto_retry_run_id": "x"}, True, "it has a retry"),
    ],
)
def test_runs_the_sensor_leaves_alone(job_name, tags, launched, reason):
    with dg.instance_for_test(overrides=RETRIES) as instance:
        run = failed_run(instance, job_name, tags, launched)
        read_past(instance, failure_id(instance, run.run_id))
        (failed,) = failed_runs(instance, since=LONG_AGO)
        assert failed.failure_read
        assert reason in why_not_missed(failed)
        assert evaluate(instance) == []


def test_a_later_run_of_the_partition_supersedes_the_failure():
    with dg.instance_for_test(overrides=RETRIES) as instance:
        run = failed_run(instance)
        read_past(instance, failure_id(instance, run.run_id))
        instance.add_run(
            dg.DagsterRun(job_name="load_partition", tags={"dagster/partition": PARTITION})
        )
        (failed,) = failed_runs(instance, since=LONG_AGO)
        assert failed.superseded and not failed.retried
        assert "later run" in why_not_missed(failed)
        assert evaluate(instance) == []


def test_a_run_dagster_will_not_retry_is_not_looked_at():
    with dg.instance_for_test(overrides={"run_retries": {"enabled": False}}) as instance:
        run = failed_run(instance)
        assert run.tags.get("dagster/will_retry") != "true"
        assert failed_runs(instance, since=LONG_AGO) == []
        assert why_not_missed(FailedRun(run, True, False, False)) == "Dagster does not retry it"


def test_a_failure_after_the_cursor_is_unread_though_its_run_s_own_event_ids_are_lower():
    """Each run keeps its events under ids of its own; the retry daemon's cursor counts those of
    the event log's index. A run that failed after the cursor has low ids of its own."""
    with dg.instance_for_test(overrides=RETRIES) as instance:
        for _ in range(3):  # failures the sensor leaves alone, before the two
            failed_run(instance, job_name="__ASSET_JOB")
        first = failed_run(instance)
        read_past(instance, failure_id(instance, first.run_id))
        second = failed_run(instance, tags={"dagster/partition": "1022|us"})
        (own_failure,) = instance.get_records_for_run(
            second.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        assert own_failure.storage_id < failure_id(instance, first.run_id)

        (request,) = evaluate(instance)
        assert request.tags[RETRY_OF_TAG] == first.run_id
