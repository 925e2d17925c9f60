"""What a dbt invocation is told: its warehouse and partitions (pure functions), passed in its own
environment, with the warehouse's parse state carried from one invocation to the next."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest


def test_vars_list_each_partition_once_in_order(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt import dbt_vars

    variables = dbt_vars(["1025|eu", "1024|us", "1024|eu", "1024|us"], tmp_path / "wh.duckdb")

    assert variables == {
        "warehouse_path": str((tmp_path / "wh.duckdb").resolve()),
        "partitions": [
            {"period": 1024, "region": "eu"},
            {"period": 1024, "region": "us"},
            {"period": 1025, "region": "eu"},
        ],
    }


def test_no_partition_keys_means_a_full_build(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt import dbt_env, dbt_vars

    assert dbt_vars([], tmp_path / "wh.duckdb")["partitions"] == []
    assert json.loads(dbt_env([], tmp_path / "wh.duckdb")["METAWATCH_DBT_PARTITIONS"]) == []


def test_env_carries_the_absolute_warehouse_and_the_partitions_as_json(
    tmp_path: Path, monkeypatch
) -> None:
    from metawatch_dagster.assets.dbt import dbt_env

    monkeypatch.chdir(tmp_path)
    env = dbt_env(["1024|us", "1023|eu"], Path("data/metawatch.duckdb"))

    assert env == {
        "METAWATCH_WAREHOUSE_PATH": str(tmp_path.resolve() / "data" / "metawatch.duckdb"),
        "METAWATCH_DBT_PARTITIONS": json.dumps(
            [{"period": 1023, "region": "eu"}, {"period": 1024, "region": "us"}]
        ),
    }


def test_unknown_region_is_refused(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt import dbt_vars

    with pytest.raises(ValueError, match="unknown region"):
        dbt_vars(["1024|xx"], tmp_path / "wh.duckdb")


class _RecordingDbt:
    """Stands in for DbtCliResource: records the environment dbt would start with, and leaves
    a parse state in the target folder as dbt does."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = str(project_dir)
        self.seen: list[tuple[dict[str, str | None], bytes | None]] = []

    def cli(self, args, *, context=None, target_path: Path):
        state = target_path / "partial_parse.msgpack"
        names = ("METAWATCH_DBT_PARTITIONS", "METAWATCH_WAREHOUSE_PATH")
        seeded = state.read_bytes() if state.exists() else None
        self.seen.append(({name: os.environ.get(name) for name in names}, seeded))
        target_path.mkdir(parents=True, exist_ok=True)
        state.write_bytes(f"parsed for {len(self.seen)}".encode())
        return SimpleNamespace(target_path=target_path)


def test_each_invocation_gets_its_own_partitions_and_the_previous_parse_state(
    tmp_path: Path, monkeypatch
) -> None:
    from metawatch_dagster.assets.dbt_invocation import dbt_invocation

    monkeypatch.delenv("METAWATCH_DBT_PARTITIONS", raising=False)
    dbt = _RecordingDbt(tmp_path / "project")
    warehouse, other = tmp_path / "a" / "metawatch.duckdb", tmp_path / "b" / "metawatch.duckdb"

    for keys, path in ((["1024|us"], warehouse), (["1025|eu"], warehouse), ([], other)):
        with dbt_invocation(dbt, ["build"], warehouse_path=path, partition_keys=keys):
            assert "METAWATCH_DBT_PARTITIONS" not in os.environ

    environments = [env for env, _ in dbt.seen]
    assert [json.loads(env["METAWATCH_DBT_PARTITIONS"]) for env in environments] == [
        [{"period": 1024, "region": "us"}],
        [{"period": 1025, "region": "eu"}],
        [],
    ]
    assert [env["METAWATCH_WAREHOUSE_PATH"] for env in environments] == [
        str(warehouse.resolve()),
        str(warehouse.resolve()),
        str(other.resolve()),
    ]
    # The second run on a warehouse starts from the first's parse; another warehouse from none.
    assert [seeded for _, seeded in dbt.seen] == [None, b"parsed for 1", None]
    # Each warehouse's state is kept in the state folder beside it.
    kept = [path.parent / "state" / "metawatch.dbt-parse.msgpack" for path in (warehouse, other)]
    assert [state.read_bytes() for state in kept] == [b"parsed for 2", b"parsed for 3"]


def test_an_invocation_removes_its_own_target_folder_unless_it_failed(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt_invocation import dbt_invocation

    dbt = _RecordingDbt(tmp_path / "project")
    warehouse = tmp_path / "metawatch.duckdb"
    invocations = tmp_path / "project" / "target" / "invocations"

    with dbt_invocation(dbt, ["build"], warehouse_path=warehouse):
        pass
    assert list(invocations.iterdir()) == []

    with pytest.raises(RuntimeError), dbt_invocation(dbt, ["build"], warehouse_path=warehouse):
        raise RuntimeError("dbt failed")
    [kept] = invocations.iterdir()
    assert (kept / "partial_parse.msgpack").exists()
    assert (kept / "FAILED").is_file()


def test_only_the_newest_failed_invocations_folders_are_kept(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt_invocation import (
        ABANDONED_AFTER_SECONDS,
        KEPT_FAILED_INVOCATIONS,
        dbt_invocation,
    )

    dbt = _RecordingDbt(tmp_path / "project")
    warehouse = tmp_path / "metawatch.duckdb"
    invocations = tmp_path / "project" / "target" / "invocations"
    invocations.mkdir(parents=True)

    def folders(name: str, ages_s: list[int], failed: bool) -> list[Path]:
        made = [invocations / f"{name}-{age}" for age in ages_s]
        for folder, age in zip(made, ages_s, strict=True):
            folder.mkdir()
            then = (time.time() - age,) * 2
            if failed:
                (folder / "FAILED").touch()
                os.utime(folder / "FAILED", then)
            os.utime(folder, then)
        return made

    hour = 3600
    failed = folders("dbt_weekly", [hours * hour for hours in range(1, 40)], failed=True)
    # Running now, or for the last hours, in other processes; and one whose process was killed.
    running = folders("dbt_staging", [60, 2 * hour, ABANDONED_AFTER_SECONDS - hour], failed=False)
    folders("dbt_season", [ABANDONED_AFTER_SECONDS + hour], failed=False)

    with dbt_invocation(dbt, ["build"], warehouse_path=warehouse):
        pass

    assert set(invocations.iterdir()) == {*failed[:KEPT_FAILED_INVOCATIONS], *running}


def test_a_target_folder_given_by_the_caller_is_left_alone(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt_invocation import dbt_invocation

    dbt = _RecordingDbt(tmp_path / "project")
    given = tmp_path / "docs-target"

    with dbt_invocation(dbt, ["docs"], warehouse_path=tmp_path / "wh.duckdb", target_path=given):
        pass

    assert (given / "partial_parse.msgpack").exists()


def test_a_failed_check_gets_its_compiled_sql_and_keeps_its_outcome_when_there_is_none(
    tmp_path: Path,
) -> None:
    import dagster as dg

    from metawatch_dagster.assets.dbt_invocation import _with_failing_rows_sql

    node = {
        "package_name": "metawatch",
        "original_file_path": "models/marts/weekly/_weekly.yml",
        "path": "five_members_per_run.sql",
    }
    invocation = SimpleNamespace(manifest={"nodes": {"test.five": node}}, target_path=tmp_path)
    event = SimpleNamespace(raw_event={"data": {"node_info": {"unique_id": "test.five"}}})
    check = dg.AssetCheckResult(
        asset_key="fct_runs", check_name="five_members_per_run", passed=False, metadata={"n": 1}
    )

    assert _with_failing_rows_sql(check, invocation, event) == check, "no compiled file yet"

    compiled = tmp_path / "compiled" / "metawatch" / node["original_file_path"] / node["path"]
    compiled.parent.mkdir(parents=True)
    compiled.write_text("select * from fct_runs where member_count <> 5\n")
    with_sql = _with_failing_rows_sql(check, invocation, event)
    assert with_sql.metadata["n"].value == 1
    assert with_sql.metadata["failing_rows_sql"].value == (
        "```sql\nselect * from fct_runs where member_count <> 5\n```"
    )

    unknown = SimpleNamespace(raw_event={"data": {"node_info": {"unique_id": "test.gone"}}})
    assert _with_failing_rows_sql(check, invocation, unknown) == check
