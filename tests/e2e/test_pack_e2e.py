"""`metawatch pack` as a person runs it: an ended week's bodies packed, and a rebuild of the packed
week (through the Dagster instance) unpacks them and gives the same rows. (The weeks it leaves:
tests/unit/test_operations.py.)"""

from __future__ import annotations

import dagster as dg

from metawatch_dagster.raw_archive import archive_path, body_files, is_packed
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import metawatch, sandbox_env
from .warehouse_rows import read_partition, truth_rows


def test_an_ended_week_packed_by_the_command_is_rebuilt_to_the_same_rows(tmp_path, data_dir):
    home = tmp_path / "home"
    raw, warehouse = data_dir / "raw", data_dir / "metawatch.duckdb"
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = sandbox_env(sandbox, home, data_dir)
        ended = sorted(p for p, _, _ in sandbox.periods("eu"))[-2]
        load = metawatch(["load", "--region", "eu", "--period", str(ended), "--no-publish"], env)
        assert load.returncode == 0, load.stdout + load.stderr
        loaded = read_partition(warehouse, "eu", ended)
        assert loaded == truth_rows(sandbox.truth("eu", ended))
        bodies = {path: path.read_bytes() for path in body_files(raw, "eu", ended)}

        packed = metawatch(["pack", "--region", "eu"], env)
        assert packed.returncode == 0, packed.stdout + packed.stderr
        assert packed.stdout.startswith(f"  packed  {ended}|eu: {len(bodies)} bodies, ")
        assert is_packed(raw, "eu", ended)
        assert archive_path(raw, "eu", ended).stat().st_size < sum(map(len, bodies.values()))
        again = metawatch(["pack", "--region", "eu", "--period", str(ended)], env)
        assert again.stdout == f"  kept    {ended}|eu: packed already\n", again.stdout

        requests_before = sandbox.stats()["requests"]
        rebuild = metawatch(
            ["rebuild", "--region", "eu", "--period", str(ended), "--no-publish"], env
        )
        assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
        assert sandbox.stats()["requests"] == requests_before
    assert read_partition(warehouse, "eu", ended) == loaded
    assert not archive_path(raw, "eu", ended).exists()
    assert {path: path.read_bytes() for path in body_files(raw, "eu", ended)} == bodies

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (reparse,) = instance.get_runs(dg.RunsFilter(job_name="reparse_partition"))
        messages = [event.message for event in instance.all_logs(reparse.run_id)]
    assert any(
        f"{ended}|eu: unpacked {len(bodies)} bodies from bodies.tar.xz" in (m or "")
        for m in messages
    )
