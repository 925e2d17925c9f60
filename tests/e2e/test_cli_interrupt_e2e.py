"""A `metawatch load` stopped by Ctrl-C or killed, as a person stops it: the next one is free to finish
the partitions."""

from __future__ import annotations

import os
import signal
import subprocess

import dagster as dg

from metawatch_dagster.run_workers import pool_holders
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import (
    METAWATCH,
    REPO,
    metawatch,
    sandbox_env,
    wait_for_a_partition_step_in_the_duckdb_pool,
)
from .warehouse_rows import read_partition, truth_rows


def start_a_load_in_the_duckdb_pool(
    args: list[str], env: dict[str, str], home
) -> tuple[subprocess.Popen, str]:
    """`metawatch` with `args` in its own process group, once a partition's step holds the pool;
    returns the command and that run's id."""
    command = subprocess.Popen(
        [str(METAWATCH), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As from a terminal, whatever this test's own process ignores.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # The instance's storage is created by the first command alone.
    while (line := command.stdout.readline()) and "ok      reference" not in line:
        pass
    return command, wait_for_a_partition_step_in_the_duckdb_pool(home)


def test_a_load_stopped_by_ctrl_c_or_killed_leaves_the_next_one_free_to_finish(tmp_path, data_dir):
    """Dagster turns Ctrl-C into the run's failure: the command stops there too instead of going on
    to the next partition. A killed run keeps its pool slot: the next load marks it failed and goes on."""
    home = tmp_path / "home"
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = sandbox_env(sandbox, home, data_dir)
        first, last = sorted(p for p, _, _ in sandbox.periods("eu"))[-2:]
        args = ["load", "--region", "eu", "--period", f"{first}-{last}", "--no-publish"]
        stopped, stopped_run = start_a_load_in_the_duckdb_pool(args, env, home)
        os.killpg(stopped.pid, signal.SIGINT)
        out, err = stopped.communicate(timeout=60)

        assert stopped.returncode == 130, out + err
        assert f"FAILED  {first}|eu" in out
        assert "[2/2]" not in out
        assert "metawatch: interrupted" in err
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(stopped_run)
            assert run.tags["dagster/partition"] == f"{first}|eu"
            assert run.status == dg.DagsterRunStatus.FAILURE
            assert run.tags["dagster/will_retry"] == "false"
            assert pool_holders(instance, "duckdb") == []
            loads = instance.get_runs(filters=dg.RunsFilter(job_name="load_partition"))
            assert [r.run_id for r in loads] == [stopped_run]

        killed, killed_run = start_a_load_in_the_duckdb_pool(args, env, home)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.communicate()

        load = metawatch(args, env)
        assert load.returncode == 0, load.stdout + load.stderr
        assert (
            f"marked failed: run {killed_run[:8]} (load_partition {first}|eu), whose process ended"
            in load.stdout
        )
        for period in (first, last):
            assert f"ok      {period}|eu" in load.stdout
            loaded = read_partition(data_dir / "metawatch.duckdb", "eu", period)
            assert loaded == truth_rows(sandbox.truth("eu", period))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
        assert pool_holders(instance, "duckdb") == []
