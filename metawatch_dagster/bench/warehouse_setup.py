"""Warehouses for the bench: a fresh one with the reference tables, and the 12 periods × 2 regions one
made from a parsed real-scale week."""

from __future__ import annotations

from pathlib import Path

from metawatch_dagster.contract import CONTRACT_TABLES, PARTITIONED_TABLES, column_names
from metawatch_dagster.reference import ReferenceStore
from metawatch_dagster.reference_load import load_reference_tables, reference_rows
from metawatch_dagster.warehouse import connect, ensure_schema


def fresh_warehouse(path: Path, reference_dir: Path, regions: list[str]) -> Path:
    """An empty warehouse with the contract tables and the ref_* tables loaded (what dbt needs)."""
    with connect(path) as con:
        ensure_schema(con)
        load_reference_tables(con, reference_rows(ReferenceStore(reference_dir), regions))
    return path


def _copy_select(table: str) -> str:
    """The table's columns for a copy of the source partition relabelled $region / $period, with
    run ids re-hashed so each copy's runs are distinct runs."""
    replaced = {
        "run_id": "md5(run_id || '|' || $region || '|' || $period) AS run_id",
        "region": "$region AS region",
        "period": "$period AS period",
    }
    columns = column_names(CONTRACT_TABLES[table])
    return ", ".join(replaced.get(column, column) for column in columns)


def copy_partition(
    warehouse: Path, source: tuple[str, int], targets: list[tuple[str, int]]
) -> dict[str, int]:
    """Copy one parsed partition's rows of every contract table into each (region, period) target."""
    source_region, source_period = source
    with connect(warehouse) as con:
        for region, period in targets:
            if (region, period) == source:
                continue
            for table in PARTITIONED_TABLES:
                con.execute(
                    f"INSERT INTO {table} SELECT {_copy_select(table)} FROM {table} "
                    "WHERE region = $source_region AND period = $source_period",
                    {
                        "region": region,
                        "period": period,
                        "source_region": source_region,
                        "source_period": source_period,
                    },
                )
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in PARTITIONED_TABLES
        }
