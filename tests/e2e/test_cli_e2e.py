"""`metawatch load`, `pack` and `rebuild` as a person runs them: through the Dagster instance at
DAGSTER_HOME, one line per partition, a rebuild that makes no API call and leaves packed weeks packed,
and a load that unpacks one. (The weeks `pack` leaves: tests/unit/test_operations.py.)"""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest

from metawatch_dagster.bench.end_to_end import EndToEndError, partition_run_seconds
from metawatch_dagster.raw_archive import archive_path, body_files, is_packed
from metawatch_dagster.raw_store import list_snapshots, partition_dir, read_manifest
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .commands import metawatch, sandbox_env
from .warehouse_rows import read_partition, truth_rows


# Seven commands, each a process of its own: about 2.5 minutes here, more on a loaded machine.
@pytest.mark.timeout(600)
def test_load_pack_then_rebuild_through_the_instance(tmp_path, data_dir):
    home = tmp_path / "home"
    raw, warehouse = data_dir / "raw", data_dir / "metawatch.duckdb"
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=("eu",)), port=0) as sandbox:
        env = sandbox_env(sandbox, home, data_dir)
        first, *_, ended, period = sorted(p for p, _, _ in sandbox.periods("eu"))
        load = metawatch(["load", "--region", "eu", "--period", "latest:2", "--no-publish"], env)
        assert load.returncode == 0, load.stdout + load.stderr
        assert f"ok      {ended}|eu" in load.stdout
        assert f"ok      {period}|eu" in load.stdout
        assert partition_run_seconds(load.stdout, f"{period}|eu") > 0  # as the bench reads it
        loaded = {p: read_partition(warehouse, "eu", p) for p in (ended, period)}
        assert loaded == {p: truth_rows(sandbox.truth("eu", p)) for p in (ended, period)}

        bodies = {path: path.read_bytes() for path in body_files(raw, "eu", ended)}
        packed = metawatch(["pack", "--region", "eu"], env)
        assert packed.returncode == 0, packed.stdout + packed.stderr
        assert packed.stdout.startswith(f"  packed  {ended}|eu: {len(bodies)} bodies, ")
        assert f"  kept    {period}|eu: its week has not ended" in packed.stdout
        assert is_packed(raw, "eu", ended)
        assert archive_path(raw, "eu", ended).stat().st_size < sum(map(len, bodies.values()))

        requests_before = sandbox.stats()["requests"]
        rebuild = metawatch(["rebuild", "--region", "eu", "--no-publish"], env)
        assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
        assert sandbox.stats()["requests"] == requests_before, "a rebuild makes no API call"
        assert {p: read_partition(warehouse, "eu", p) for p in (ended, period)} == loaded
        assert is_packed(raw, "eu", ended), "a rebuild reads a packed week from an extract"
        assert list(partition_dir(raw, "eu", ended).glob(".extract*")) == []

        # The week's last load, when the sensor sees the next period, adds a snapshot: it unpacks.
        reload = metawatch(["load", "--region", "eu", "--period", str(ended), "--no-publish"], env)
        assert reload.returncode == 0, reload.stdout + reload.stderr
        assert read_partition(warehouse, "eu", ended) == loaded[ended]
        assert not archive_path(raw, "eu", ended).exists()
        assert {path: path.read_bytes() for path in body_files(raw, "eu", ended)} == bodies

        truncate_a_body(data_dir, "eu", period)
        damaged = metawatch(
            ["rebuild", "--region", "eu", "--period", "current", "--no-publish"], env
        )
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
            "    reference_files: CredentialsRejected: POST "
            f"{sandbox.env()['METAWATCH_OAUTH_URL']} answered 401: check BLIZZARD_CLIENT_ID /"
            " BLIZZARD_CLIENT_SECRET\n"
        ) in failed.stdout
        assert failed.stderr == "", "the traces go to the log file, not the terminal"

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.get_dynamic_partitions("period") == [str(ended), str(period)]
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="load_partition"))
        statuses = sorted((r.tags["dagster/partition"], r.status) for r in runs)
        messages = [
            event.message or ""
            for run in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": f"{ended}|eu"}))
            for event in instance.all_logs(run.run_id)
        ]
        rebuilt = [
            re.search(r"(\d+) bodies \((\d+) read", event.message or "")
            for run in instance.get_runs(dg.RunsFilter(job_name="reparse_partition"))
            for event in instance.all_logs(run.run_id)
        ]
    finally:
        instance.dispose()
    success = dg.DagsterRunStatus.SUCCESS
    # A rebuild re-reads every body, the current week's cached ones too (three rebuild runs).
    parses = [(int(m[1]), int(m[2])) for m in rebuilt if m]
    assert len(parses) == 3 and all(read == named > 0 for named, read in parses), parses
    assert statuses == [(f"{ended}|eu", success)] * 2 + [(f"{period}|eu", success)]
    n = len(bodies)
    assert any(f"{ended}|eu: read {n} bodies extracted from bodies.tar.xz" in m for m in messages)
    assert any(f"{ended}|eu: unpacked {n} bodies from bodies.tar.xz" in m for m in messages)
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.spec_weekly").fetchone()[0] > 0


def truncate_a_body(data_dir, region: str, period: int) -> None:
    """Cut short the body of the first board that answered 200 in the partition's first snapshot."""
    snapshot = list_snapshots(data_dir / "raw", region, period)[0]
    board = next(b for b in read_manifest(snapshot)["boards"] if b["status"] == "200")
    with (partition_dir(data_dir / "raw", region, period) / board["body"]).open("r+b") as body:
        body.truncate(100)
