"""`metawatch load` and `metawatch rebuild` as a person runs them: through the Dagster instance at
DAGSTER_HOME, one line per partition, and a rebuild that makes no API call."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import dagster as dg
import duckdb
import pytest

from metawatch_dagster.bench.end_to_end import EndToEndError, partition_run_seconds
from metawatch_dagster.raw_store import list_snapshots, partition_dir, read_manifest
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


def test_load_then_rebuild_through_the_instance(tmp_path, data_dir):
    home = tmp_path / "home"
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = sandbox_env(sandbox, home, data_dir)
        period = sandbox.current_period("eu")
        first = min(p for p, _, _ in sandbox.periods("eu"))
        load = metawatch(["load", "--region", "eu", "--period", "current", "--no-publish"], env)
        assert load.returncode == 0, load.stdout + load.stderr
        assert f"ok      {period}|eu" in load.stdout
        assert partition_run_seconds(load.stdout, f"{period}|eu") > 0  # as the bench reads it
        loaded = read_partition(data_dir / "metawatch.duckdb", "eu", period)
        assert loaded == truth_rows(sandbox.truth("eu", period))

        requests_before = sandbox.stats()["requests"]
        rebuild = metawatch(["rebuild", "--region", "eu", "--no-publish"], env)
        assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
        assert sandbox.stats()["requests"] == requests_before, "a rebuild makes no API call"
        assert read_partition(data_dir / "metawatch.duckdb", "eu", period) == loaded

        truncate_a_body(data_dir, "eu", period)
        damaged = metawatch(["rebuild", "--region", "eu", "--no-publish"], env)
        assert damaged.returncode == 1, damaged.stdout + damaged.stderr
        assert f"ok      {period}|eu" in damaged.stdout
        assert (
            "    check failed: boards bodies_readable (boards_with_unreadable_body=1);"
            f" see the run in the Dagster UI\nfailed error-severity checks (1): {period}|eu:"
            " boards bodies_readable; the data is stored, but not all of it is right\n"
        ) in damaged.stdout, damaged.stdout

        refused = metawatch(["load", "--region", "eu", "--period", "99999", "--no-publish"], env)
        assert refused.returncode == 2
        assert refused.stderr == (
            f"metawatch: unknown or future periods in eu: 99999 (known: {first}-{period},"
            f" current: {period})\n"
        )
        with pytest.raises(EndToEndError, match=re.escape("no successful run of 99999|eu")):
            partition_run_seconds(refused.stdout, "99999|eu")

        wrong_secret = {**env, "BLIZZARD_CLIENT_SECRET": "wrong"}
        failed = metawatch(["load", "--region", "eu", "--no-publish"], wrong_secret)
        assert failed.returncode == 1
        assert "failed steps: reference_files;" in failed.stdout, failed.stdout
        assert (
            "    reference_files: BlizzardError: POST "
            f"{sandbox.env()['METAWATCH_OAUTH_URL']} answered 401: check BLIZZARD_CLIENT_ID /"
            " BLIZZARD_CLIENT_SECRET\n"
        ) in failed.stdout
        assert failed.stderr == "", "the traces go to the log file, not the terminal"

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.get_dynamic_partitions("period") == [str(period)]
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="load_partition"))
        statuses = sorted((r.tags["dagster/partition"], r.status) for r in runs)
    finally:
        instance.dispose()
    assert statuses == [(f"{period}|eu", dg.DagsterRunStatus.SUCCESS)]
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.spec_weekly").fetchone()[0] > 0


def truncate_a_body(data_dir, region: str, period: int) -> None:
    """Cut short the body of the first board that answered 200 in the partition's first snapshot."""
    snapshot = list_snapshots(data_dir / "raw", region, period)[0]
    board = next(b for b in read_manifest(snapshot)["boards"] if b["status"] == "200")
    with (partition_dir(data_dir / "raw", region, period) / board["body"]).open("r+b") as body:
        body.truncate(100)


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
