"""Runs whose process died are marked failed and give their pool slots back; live runs keep theirs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus

from metawatch_dagster.config import Settings
from metawatch_dagster.instance_home import TEMPLATE
from metawatch_dagster.operations import Operator
from metawatch_dagster.run_launcher import HealthCheckingRunLauncher
from metawatch_dagster.run_workers import (
    WORKER_TAG,
    Worker,
    fail_runs_of_gone_workers,
    pool_holders,
    stopped_by_an_interrupt,
    worker_of,
    worker_tags,
)
from metawatch_dagster.worker_executor import worker_recording_executor

HAS_PROC = Path("/proc/self/stat").exists()


def ended_worker() -> Worker:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    worker = replace(Worker.current(), pid=child.pid)
    child.wait()
    return worker


def test_the_current_process_is_not_gone_and_its_tag_reads_back():
    worker = Worker.current()
    assert not worker.is_gone()
    assert Worker.from_tag(worker.tag()) == worker


def test_an_ended_process_is_gone():
    assert ended_worker().is_gone()


@pytest.mark.skipif(not HAS_PROC, reason="start times come from /proc")
def test_a_later_process_given_the_same_pid_is_not_the_worker():
    worker = Worker.current()
    assert worker.started
    assert replace(worker, started=str(int(worker.started) - 1)).is_gone()


def test_without_a_start_time_a_process_is_gone_once_its_pid_is():
    assert not replace(Worker.current(), started="").is_gone()
    assert replace(ended_worker(), started="").is_gone()


@pytest.mark.skipif(not HAS_PROC, reason="process states come from /proc")
def test_a_process_ended_but_not_yet_collected_by_its_parent_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    try:
        deadline = time.monotonic() + 30
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.01)
        assert replace(Worker.current(), pid=child.pid, started="").is_gone()
    finally:
        child.wait()


def test_a_process_on_another_host_is_never_known_to_be_gone():
    assert not replace(ended_worker(), host="elsewhere.example").is_gone()


@pytest.mark.parametrize("tag", [None, "", "host|12", "host|pid|1", "|12|1", "a|1|2|3"])
def test_tags_not_naming_a_worker_are_ignored(tag):
    assert Worker.from_tag(tag) is None


@pytest.fixture
def instance(tmp_path: Path):
    launcher = {"module": "metawatch_dagster.run_launcher", "class": "HealthCheckingRunLauncher"}
    with dg.instance_for_test(
        temp_dir=str(tmp_path), overrides={"run_launcher": launcher}
    ) as instance:
        instance.event_log_storage.set_concurrency_slots("duckdb", 4)
        yield instance


PARTITION = {"dagster/partition": "1021|eu"}
STARTING = dg.DagsterRunStatus.STARTING


def started_run(instance: dg.DagsterInstance, worker: Worker, step: str) -> str:
    """A run a `metawatch` command started in `worker`, with `step` holding a duckdb slot."""
    run_id = str(uuid.uuid4())
    return add_run_in_pool(instance, {**worker_tags(worker, run_id), **PARTITION}, step, run_id)


def add_run_in_pool(
    instance: dg.DagsterInstance,
    tags: dict[str, str],
    step: str,
    run_id: str | None = None,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
) -> str:
    run_id = run_id or str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="load_partition", run_id=run_id, status=status, tags=tags)
    )
    assert instance.event_log_storage.claim_concurrency_slot("duckdb", run_id, step).is_claimed
    return run_id


def test_a_run_whose_process_ended_is_failed_and_frees_its_slot(instance):
    dead = started_run(instance, ended_worker(), "leaderboard_tables")
    live = started_run(instance, Worker.current(), "dbt_weekly")
    assert {run.run_id for run in pool_holders(instance, "duckdb")} == {dead, live}

    assert [run.run_id for run in fail_runs_of_gone_workers(instance)] == [dead]

    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    (failure,) = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "ended before the run did" in failure.message
    assert instance.get_run_by_id(live).status == dg.DagsterRunStatus.STARTED
    assert [run.run_id for run in pool_holders(instance, "duckdb")] == [live]
    assert fail_runs_of_gone_workers(instance) == []


def test_a_retry_not_yet_executing_is_not_failed_for_the_process_its_tags_were_copied_from(
    instance,
):
    # Dagster copies a run's tags to its retry, which records its own process once it executes.
    dead = started_run(instance, ended_worker(), "leaderboard_tables")
    assert [run.run_id for run in fail_runs_of_gone_workers(instance)] == [dead]
    copied = instance.get_run_by_id(dead).tags
    retry = add_run_in_pool(instance, copied, "leaderboard_pages", status=STARTING)

    assert worker_of(instance.get_run_by_id(retry)) is None
    assert fail_runs_of_gone_workers(instance) == []
    assert instance.get_run_by_id(retry).status == STARTING


def test_a_run_tagged_before_tags_named_their_run_is_still_failed_once_its_process_ended(
    instance,
):
    dead = add_run_in_pool(instance, {WORKER_TAG: ended_worker().tag()}, "leaderboard_tables")
    assert [run.run_id for run in fail_runs_of_gone_workers(instance)] == [dead]
    assert pool_holders(instance, "duckdb") == []


def test_a_command_fails_dead_runs_and_names_the_live_ones_holding_a_pool(instance, tmp_path):
    dead = started_run(instance, ended_worker(), "leaderboard_tables")
    live = started_run(instance, Worker.current(), "dbt_weekly")
    lines: list[str] = []
    operator = Operator(instance, dg.Definitions(), Settings(data_dir=tmp_path), lines.append)

    operator._clear_pools()

    assert lines == [
        f"  marked failed: run {dead[:8]} (load_partition 1021|eu), whose process ended before"
        " it; its pool slots are free again",
        f"  waiting: run {live[:8]} (load_partition 1021|eu) holds the duckdb pool; steps in it"
        " start when it ends",
    ]


def test_the_shipped_instance_has_the_daemon_end_runs_that_never_finish(tmp_path):
    shutil.copyfile(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as shipped:
        assert isinstance(shipped.run_launcher, HealthCheckingRunLauncher)
        assert shipped.run_monitoring_enabled
        assert shipped.run_monitoring_max_runtime_seconds == 7200
        assert shipped.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
        assert "MONITORING" in shipped.get_required_daemon_types()


def test_the_launcher_tells_the_monitoring_daemon_which_run_processes_ended(instance):
    launcher = instance.run_launcher
    assert isinstance(launcher, HealthCheckingRunLauncher)
    assert launcher.supports_check_run_worker_health
    ended = ended_worker()
    dead = started_run(instance, ended, "leaderboard_tables")
    live = started_run(instance, Worker.current(), "dbt_weekly")
    unrecorded = add_run_in_pool(instance, PARTITION, "dbt_weekly")

    def health(run_id: str):
        return launcher.check_run_worker_health(instance.get_run_by_id(run_id))

    assert health(dead).status == WorkerStatus.FAILED
    assert f"its process ({ended}) has ended" in health(dead).msg
    assert health(live).status == WorkerStatus.RUNNING
    assert health(unrecorded).status == WorkerStatus.RUNNING


@dg.op
def count_one() -> int:
    return 1


@dg.job(executor_def=worker_recording_executor)
def recorded_job():
    count_one()


def test_a_run_records_the_process_that_executes_it(instance):
    with dg.execute_job(dg.reconstructable(recorded_job), instance) as result:
        assert result.success
        assert result.output_for_node("count_one") == 1
    assert worker_of(instance.get_run_by_id(result.run_id)) == Worker.current()


def interrupt_soon() -> None:
    """Ctrl-C in 0.2 s, as a person would press it while the step runs."""
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()


@dg.op
def sleeps_through_ctrl_c() -> None:
    interrupt_soon()
    time.sleep(10)


@dg.op
def stopped_inside_a_query() -> None:
    # What Ctrl-C inside a DuckDB query raises (seen in runs stopped so): DuckDB wraps the interrupt
    # the signal handler raised. A real signal cannot be timed to land inside the query every time.
    try:
        raise dg.DagsterExecutionInterruptedError()
    except dg.DagsterExecutionInterruptedError as interrupt:
        raise RuntimeError("Query interrupted") from interrupt


@dg.op
def fails_on_its_own() -> None:
    raise ValueError("a failure of the step's own")


@pytest.mark.parametrize(
    ("op", "interrupted"),
    [(sleeps_through_ctrl_c, True), (stopped_inside_a_query, True), (fails_on_its_own, False)],
)
def test_a_run_stopped_by_ctrl_c_is_told_from_one_that_failed(instance, op, interrupted):
    job = dg.GraphDefinition(name=f"{op.name}_job", node_defs=[op]).to_job(
        executor_def=dg.in_process_executor
    )
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert stopped_by_an_interrupt(result.all_events) is interrupted


def test_the_shipped_instance_retries_a_run_stopped_inside_a_step(tmp_path):
    shutil.copyfile(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as shipped:
        job = dg.GraphDefinition(name="stopped", node_defs=[stopped_inside_a_query]).to_job(
            executor_def=worker_recording_executor
        )
        result = job.execute_in_process(instance=shipped, raise_on_error=False)
        assert stopped_by_an_interrupt(result.all_events)
        run = shipped.get_run_by_id(result.run_id)
        assert run.tags["dagster/failure_reason"] == "STEP_FAILURE"
        assert run.tags["dagster/will_retry"] == "true"
