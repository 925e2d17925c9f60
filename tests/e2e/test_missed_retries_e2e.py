"""A failed load whose retry Dagster's retry daemon passed by (dagster-io/dagster#33741) is run again
by the missed_retries sensor, through the daemon, and the partition ends loaded to the sandbox's truth.

The race cannot be made to happen on demand, so the test makes the state it leaves: the retry daemon
held off (its interval set past the test), a sensor-launched load's process killed so that the run
monitoring fails the run with `dagster/will_retry=true`, and then the retry daemon's cursor moved past
that failure with no retry made, as the daemon leaves it when it reads the run too early."""

from __future__ import annotations

import os
import signal

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from metawatch_dagster.automation.missed_retries import RETRY_DAEMON_CURSOR, RETRY_OF_TAG
from metawatch_dagster.instance_home import TEMPLATE
from metawatch_dagster.run_workers import worker_of
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import (
    prepare_instance,
    sandbox_env,
    start_daemon,
    wait_for_a_partition_step_in_the_duckdb_pool,
    wait_until,
)
from .test_dead_run_workers_e2e import AUTOMATION, QUICK_MONITORING
from .warehouse_rows import read_partition, truth_rows

HELD_OFF = {"DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS": "100000"}


@pytest.mark.e2e
def test_a_failed_load_the_retry_daemon_passed_by_is_run_again_by_the_sensor(tmp_path, data_dir):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load(TEMPLATE.read_text())
    config["run_monitoring"].update(QUICK_MONITORING)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = {**sandbox_env(sandbox, home, data_dir), **AUTOMATION, **HELD_OFF}
        period = sandbox.current_period("eu")
        prepare_instance(home)
        daemon = start_daemon(env, tmp_path / "daemon.log")
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                killed = wait_for_a_partition_step_in_the_duckdb_pool(home)
                worker = worker_of(instance.get_run_by_id(killed))
                os.kill(worker.pid, signal.SIGKILL)
                failed = wait_until(
                    lambda: failed_to_retry(instance, killed), 60, 0.2, "the killed run not failed"
                )

                # Until the retry daemon has read the failure, the run is its to retry.
                failed_at = failed.end_time
                wait_until(
                    lambda: len(skipped_ticks(instance, after=failed_at)) >= 2,
                    60,
                    0.2,
                    "missed_retries did not look twice after the failure",
                )
                assert rerun_of(instance, killed) is None

                # Both the code server and the run monitoring can report the death; the cursor
                # counts the ids of the event log's index.
                failures = instance.fetch_run_status_changes(
                    dg.DagsterEventType.RUN_FAILURE, limit=100
                ).records
                passed = max(f.storage_id for f in failures if f.run_id == killed)
                instance.daemon_cursor_storage.set_cursor_values({RETRY_DAEMON_CURSOR: str(passed)})
                rerun = wait_until(
                    lambda: finished(rerun_of(instance, killed)),
                    180,
                    0.5,
                    f"no rerun of run {killed[:8]} finished",
                )
                assert rerun.status == dg.DagsterRunStatus.SUCCESS
                assert rerun.job_name == "load_partition"
                assert rerun.tags["dagster/partition"] == f"{period}|eu"
                assert rerun.tags["dagster/max_retries"] == "0"  # the one retry allowed
                assert any(
                    "the missed_retries sensor requests a rerun of it" in event.message
                    for event in instance.all_logs(killed, of_type=dg.DagsterEventType.ENGINE_EVENT)
                )
                reruns = instance.get_runs(dg.RunsFilter(tags={RETRY_OF_TAG: killed}))
                assert len(reruns) == 1
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        loaded = read_partition(data_dir / "metawatch.duckdb", "eu", period)
        assert loaded == truth_rows(sandbox.truth("eu", period))


def failed_to_retry(instance: dg.DagsterInstance, run_id: str) -> dg.RunRecord | None:
    (record,) = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))
    run = record.dagster_run
    if run.status == dg.DagsterRunStatus.FAILURE and run.tags.get("dagster/will_retry") == "true":
        return record
    return None


def skipped_ticks(instance: dg.DagsterInstance, after: float) -> list:
    (state,) = [
        state
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if state.instigator_name == "missed_retries"
    ]
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
    return [tick for tick in ticks if tick.status == TickStatus.SKIPPED]


def rerun_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    reruns = instance.get_runs(dg.RunsFilter(tags={RETRY_OF_TAG: run_id}), limit=1)
    return reruns[0] if reruns else None


def finished(run: dg.DagsterRun | None) -> dg.DagsterRun | None:
    return run if run is not None and run.is_finished else None
