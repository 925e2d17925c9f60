"""A real backfill: 3 periods × 2 regions through an instance with a run queue, a daemon and
concurrent run workers, against one sandbox and one DuckDB file."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import dagster as dg
import pytest

from metawatch_dagster.partitions import partition_key
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import BIN, REPO, prepare_instance, start_daemon
from .warehouse_rows import read_partition, truth_rows

REGIONS = ("us", "eu")
DEADLINE_S = 360


def run_cli(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.e2e
@pytest.mark.timeout(DEADLINE_S + 120)
def test_backfill_of_three_periods_two_regions(tmp_path, data_dir):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=REGIONS), port=0) as sandbox:
        env = {
            **os.environ,
            **sandbox.env(),
            "DAGSTER_HOME": str(home),
            "METAWATCH_DATA_DIR": str(data_dir),
            "METAWATCH_REGIONS": ",".join(REGIONS),
            # Only the backfill runs here: the sensor and schedules are tested on their own.
            "METAWATCH_AUTOMATION": "stopped",
        }
        # The daemon starts first, as it runs in a deployment: its start overlaps the commands.
        prepare_instance(home)
        daemon = start_daemon(env, tmp_path / "daemon.log")
        try:
            run_cli([str(BIN / "metawatch"), "sync-periods", "--season", "current"], env)
            periods = sorted(p for p, _, _ in sandbox.periods("eu"))[-3:]
            keys = [partition_key(p, r) for p in periods for r in REGIONS]
            run_cli(
                [
                    str(BIN / "dagster"),
                    "job",
                    "backfill",
                    "-w",
                    "workspace.yaml",
                    "-j",
                    "load_partition",
                    "--partitions",
                    ",".join(keys),
                    "--noprompt",
                ],
                env,
            )
            instance = dg.DagsterInstance.from_config(str(home))
            runs = wait_for_runs(instance, len(keys))
            spans = sorted(
                (record.start_time, record.end_time)
                for record in (instance.get_run_record_by_id(r.run_id) for r in runs)
            )
            instance.dispose()
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)

        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(keys)
        assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(keys)
        assert any(
            later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)
        ), "the queue should run several partitions at once"
        assert sandbox.stats()["quota_violations"] == 0
        for period in periods:
            for region in REGIONS:
                expected = truth_rows(sandbox.truth(region, period))
                assert expected["runs"]
                assert read_partition(data_dir / "metawatch.duckdb", region, period) == expected


def wait_for_runs(instance: dg.DagsterInstance, count: int) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="load_partition"))
        if len(runs) == count and all(r.is_finished for r in runs):
            return runs
        time.sleep(1)
    pytest.fail(f"the backfill did not finish in {DEADLINE_S}s: {[r.status for r in runs]}")
