"""A run the sensor launched, killed together with the daemon and the code server (the whole
`dagster dev` killed, a restart), keeps its pool slot: the daemon, once restarted, marks it failed,
frees the slot and runs it again. Stopped by Ctrl-C instead, the run fails itself and frees its slot,
and the next daemon runs it again. (A `metawatch` command fails a killed run before its own runs:
tests/unit/test_run_workers.py.)"""

from __future__ import annotations

import os
import signal

import dagster as dg
import pytest
import yaml

from metawatch_dagster.automation.missed_retries import RETRY_OF_TAG
from metawatch_dagster.instance_home import TEMPLATE
from metawatch_dagster.run_workers import pool_holders, stopped_by_an_interrupt, worker_of
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import (
    prepare_instance,
    sandbox_env,
    start_daemon,
    wait_for_a_partition_step_in_the_duckdb_pool,
    wait_until,
)
from .warehouse_rows import read_partition, truth_rows

# The shipped monitoring polls every 30 s and frees an ended run's slots a minute later.
QUICK_MONITORING = {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1}
# Only the sensors launch runs here: the schedules' ticks fall outside the test, and so does a publish.
AUTOMATION = {
    "METAWATCH_SENSOR_INTERVAL": "1",
    "METAWATCH_SCHEDULE_CRON": "0 0 1 1 *",
    "METAWATCH_REFERENCE_CRON": "0 0 1 1 *",
    "METAWATCH_PUBLISH_SETTLE": "86400",
}


@pytest.mark.e2e
def test_after_a_restart_the_daemon_runs_again_a_run_whose_process_died_or_was_interrupted(
    tmp_path, data_dir
):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load(TEMPLATE.read_text())
    config["run_monitoring"].update(QUICK_MONITORING)
    # One retry for each of the two stops: the killed run's retry is the run interrupted.
    config["run_retries"]["max_retries"] = 2
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = {**sandbox_env(sandbox, home, data_dir), **AUTOMATION}
        period = sandbox.current_period("eu")
        prepare_instance(home)
        daemon = start_daemon(env, tmp_path / "daemon.log")
        try:
            killed_run = wait_for_a_partition_step_in_the_duckdb_pool(home)
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()

        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(killed_run)
            assert run.status == dg.DagsterRunStatus.STARTED
            assert run.tags["dagster/partition"] == f"{period}|eu"
            # The run's process recorded itself: the one the code server started for the run.
            recorded = worker_of(run)
            assert recorded.pid == run_worker_pid(instance, killed_run)
            assert held_slots(instance) == [killed_run]

            daemon = start_daemon(env, tmp_path / "daemon.log")
            try:
                interrupted_run = wait_for_a_retry_in_the_duckdb_pool(instance, killed_run)
            finally:
                # Ctrl-C on `make dev`: SIGINT to the daemon, its code server and the run workers.
                os.killpg(daemon.pid, signal.SIGINT)
                daemon.wait(timeout=60)

            assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
            (failure,) = instance.all_logs(killed_run, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert failure.message.startswith(
                f"Detected run worker status FAILED: 'its process ({recorded}) has ended'"
            )
            interrupted = wait_until_finished(instance, interrupted_run)
            assert interrupted.status == dg.DagsterRunStatus.FAILURE
            failures = instance.all_logs(
                interrupted_run,
                of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE},
            )
            assert stopped_by_an_interrupt(event.get_dagster_event() for event in failures)
            assert held_slots(instance) == []

            daemon = start_daemon(env, tmp_path / "daemon.log")
            try:
                retry = wait_for_the_retry(instance, interrupted_run)
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)

            assert retry.status == dg.DagsterRunStatus.SUCCESS
            assert retry.tags["dagster/partition"] == f"{period}|eu"
            assert held_slots(instance) == []
            # One retry each, whoever made it: Dagster's retry daemon or the sensor, never both.
            assert len(retries_of(instance, killed_run)) == 1
            assert len(retries_of(instance, interrupted_run)) == 1
        loaded = read_partition(data_dir / "metawatch.duckdb", "eu", period)
        assert loaded == truth_rows(sandbox.truth("eu", period))


def held_slots(instance: dg.DagsterInstance) -> list[str]:
    return [run.run_id for run in pool_holders(instance, "duckdb")]


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    (started,) = [
        event
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if event.message.startswith("Started process for run")
    ]
    return int(started.dagster_event.engine_event_data.metadata["pid"].value)


def retries_of(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterRun]:
    """Dagster's retries of the run and, where its retry daemon passed the failure by
    (dagster-io/dagster#33741, about one restart in four here), the missed_retries sensor's."""
    return [
        retry
        for tag in ("dagster/parent_run_id", RETRY_OF_TAG)
        for retry in instance.get_runs(filters=dg.RunsFilter(tags={tag: run_id}))
    ]


def retry_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    retries = retries_of(instance, run_id)
    return retries[0] if retries else None


def wait_for_a_retry_in_the_duckdb_pool(instance: dg.DagsterInstance, run_id: str) -> str:
    def retry_in_the_pool() -> str | None:
        retry = retry_of(instance, run_id)
        return retry.run_id if retry and retry.run_id in held_slots(instance) else None

    what = f"no retry of run {run_id[:8]} held the duckdb pool"
    return wait_until(retry_in_the_pool, 180, 0.05, what)


def wait_until_finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    def finished_run() -> dg.DagsterRun | None:
        run = instance.get_run_by_id(run_id)
        return run if run.is_finished else None

    return wait_until(finished_run, 60, 0.5, f"run {run_id[:8]} did not finish after its stop")


def wait_for_the_retry(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    def finished_retry() -> dg.DagsterRun | None:
        retry = retry_of(instance, run_id)
        return retry if retry and retry.is_finished else None

    return wait_until(finished_retry, 180, 0.5, f"no retry of run {run_id[:8]} finished")
