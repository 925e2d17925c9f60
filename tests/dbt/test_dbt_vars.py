"""The dbt --vars of a run, built from its partition keys: a pure function."""

from __future__ import annotations

from pathlib import Path

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
    from metawatch_dagster.assets.dbt import dbt_vars

    assert dbt_vars([], tmp_path / "wh.duckdb")["partitions"] == []


def test_relative_warehouse_path_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    from metawatch_dagster.assets.dbt import dbt_vars

    monkeypatch.chdir(tmp_path)
    path = dbt_vars(["1|us"], Path("data/metawatch.duckdb"))["warehouse_path"]

    assert path == str(tmp_path.resolve() / "data" / "metawatch.duckdb")


def test_unknown_region_is_refused(tmp_path: Path) -> None:
    from metawatch_dagster.assets.dbt import dbt_vars

    with pytest.raises(ValueError, match="unknown region"):
        dbt_vars(["1024|xx"], tmp_path / "wh.duckdb")
