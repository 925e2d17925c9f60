"""A run the daemon launched, killed together with the daemon and the code server (the whole
`dagster dev` killed, a restart), keeps its pool slot: the daemon, once restarted, marks it failed and
frees the slot. (A `metawatch` command does the same before its runs: tests/unit/test_run_workers.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import dagster as dg
import pytest
import yaml

from metawatch_dagster.instance_home import TEMPLATE
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.run_workers import WORKER_TAG, Worker
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import (
    BIN,
    REPO,
    metawatch,
    sandbox_env,
    start_daemon,
    wait_for_a_partition_step_in_the_duckdb_pool,
)

# The shipped monitoring polls every 30 s and frees an ended run's slots a minute later.
QUICK_MONITORING = {"poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 1}


@pytest.mark.e2e
def test_the_restarted_daemon_fails_a_run_whose_process_died_and_frees_its_slot(tmp_path, data_dir):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load(TEMPLATE.read_text())
    config["run_monitoring"].update(QUICK_MONITORING)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = {**sandbox_env(sandbox, home, data_dir), "METAWATCH_AUTOMATION": "stopped"}
        daemon = start_daemon(env)
        try:
            synced = metawatch(["sync-periods", "--season", "current"], env)
            assert synced.returncode == 0, synced.stdout + synced.stderr
            key = partition_key(sandbox.current_period("eu"), "eu")
            subprocess.run(
                [str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml"]
                + ["-j", "load_partition", "--partitions", key, "--noprompt"],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            killed_run = wait_for_a_partition_step_in_the_duckdb_pool(home)
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(killed_run)
        assert run.status == dg.DagsterRunStatus.STARTED
        # The run's process recorded itself: the one the code server started for the run.
        assert Worker.from_tag(run.tags.get(WORKER_TAG)).pid == run_worker_pid(instance, killed_run)
        assert held_slots(instance) == [killed_run]

        daemon = start_daemon(env)
        try:
            deadline = time.monotonic() + 120
            while held_slots(instance) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)

        assert held_slots(instance) == []
        assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
        (failure,) = instance.all_logs(killed_run, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert failure.message.startswith("Detected run worker status FAILED: 'its process (pid")


def held_slots(instance: dg.DagsterInstance) -> list[str]:
    return [
        slot.run_id
        for slot in instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
    ]


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    (started,) = [
        event
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if event.message.startswith("Started process for run")
    ]
    return int(started.dagster_event.engine_event_data.metadata["pid"].value)
