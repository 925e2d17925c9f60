"""After a dbt build: a read-only serving copy of the warehouse, and the marts as Parquet + JSON.

Readers outside the pipeline (BI tools, notebooks) open `data/serving/metawatch.duckdb`, which is
written aside and renamed into place, so they never hold the lock on the live warehouse and never
see a half-written file. Both assets open the warehouse, so both hold the `duckdb` pool.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from metawatch_dagster.assets.dbt import DUCKDB_POOL, MARTS, MARTS_SCHEMA
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.warehouse import connect

EXPORTS_GROUP = "exports"
SUMMARY_FILE = "summary.json"
TOP_SPECS_PER_ROLE = 3


def serving_path(data_dir: Path) -> Path:
    return data_dir / "serving" / "metawatch.duckdb"


def exports_dir(data_dir: Path) -> Path:
    return data_dir / "exports"


def _aside(final: Path) -> Path:
    """A fresh name beside `final` (same folder, so the rename is atomic)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


def write_serving_copy(warehouse: Path, destination: Path) -> Path:
    """Copy every schema, table and view of the warehouse into `destination`, atomically replaced.

    The copy keeps the warehouse's file name so that its catalog name, which dbt's views name, is
    the same. Readers that still have the previous copy open keep reading it until they reopen.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staged = _aside(destination)
    try:
        with connect(warehouse, read_only=True) as con:
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH '{staged}' AS serving_copy (READ_WRITE)")
            con.execute(f'COPY FROM DATABASE "{catalog}" TO serving_copy')
            con.execute("DETACH serving_copy")
        os.replace(staged, destination)
    finally:
        staged.unlink(missing_ok=True)
        Path(f"{staged}.wal").unlink(missing_ok=True)
    return destination


@dataclass(frozen=True)
class ExportReport:
    rows: dict[str, int]
    summary: dict[str, Any]


def export_marts(warehouse: Path, destination: Path) -> ExportReport:
    """Each mart as `<mart>.parquet`, and `summary.json`: rows per mart, how complete each week
    is, and the most played specs of each region's latest week. Every file is written aside and
    renamed into place."""
    destination.mkdir(parents=True, exist_ok=True)
    rows = {}
    with connect(warehouse, read_only=True) as con:
        for mart in MARTS:
            final = destination / f"{mart}.parquet"
            staged = _aside(final)
            con.execute(f"COPY {MARTS_SCHEMA}.{mart} TO '{staged}' (FORMAT parquet)")
            os.replace(staged, final)
            rows[mart] = con.execute(f"SELECT count(*) FROM {MARTS_SCHEMA}.{mart}").fetchone()[0]
        summary = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": rows,
            "weeks": _records(
                con,
                f"""SELECT period, region, boards_expected, answered_share, full_boards,
                       (SELECT count(*) FROM {MARTS_SCHEMA}.fct_runs r
                        WHERE r.period = c.period AND r.region = c.region) AS runs
                    FROM {MARTS_SCHEMA}.board_coverage c ORDER BY period, region""",
            ),
            "latest_top_specs": _records(
                con,
                f"""SELECT period, region, role, spec_id, spec_name, class_name, runs,
                       round(role_share, 4) AS role_share
                    FROM {MARTS_SCHEMA}.spec_weekly
                    QUALIFY period = max(period) OVER (PARTITION BY region)
                        AND row_number() OVER (PARTITION BY region, period, role
                            ORDER BY runs DESC, spec_id) <= {TOP_SPECS_PER_ROLE}
                    ORDER BY region, role, runs DESC, spec_id""",
            ),
        }
    final = destination / SUMMARY_FILE
    staged = _aside(final)
    staged.write_text(json.dumps(summary, separators=(",", ":"), default=str))
    os.replace(staged, final)
    return ExportReport(rows=rows, summary=summary)


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_MART_KEYS = [dg.AssetKey(name) for name in MARTS]


@dg.asset(deps=_MART_KEYS, group_name=EXPORTS_GROUP, kinds={"duckdb"}, pool=DUCKDB_POOL)
def serving_warehouse(metawatch: MetawatchResource) -> dg.MaterializeResult:
    """A read-only copy of the warehouse for BI tools and notebooks (data/serving/metawatch.duckdb),
    replaced atomically after each build so readers never block a load."""
    settings = metawatch.settings()
    path = write_serving_copy(settings.warehouse_path, serving_path(settings.data_dir))
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size}
    )


@dg.asset(deps=_MART_KEYS, group_name=EXPORTS_GROUP, kinds={"parquet", "json"}, pool=DUCKDB_POOL)
def mart_exports(metawatch: MetawatchResource) -> dg.MaterializeResult:
    """The marts as Parquet files and a compact JSON summary under data/exports/."""
    settings = metawatch.settings()
    folder = exports_dir(settings.data_dir)
    report = export_marts(settings.warehouse_path, folder)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(folder)),
            **{f"rows_{mart}": count for mart, count in report.rows.items()},
        }
    )
