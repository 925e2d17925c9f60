"""Parse a (region, period) partition: the union of its raw snapshots into the contract tables.

Every entry is handled in DuckDB SQL (see `sql.py`); Python only lists files and, when a bulk read of
the bodies fails, reads them one file at a time to set the broken ones aside as rejected boards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from metawatch_dagster.parsing import sql
from metawatch_dagster.raw_store import MANIFEST_NAME, list_snapshots, partition_dir
from metawatch_dagster.warehouse import ensure_schema, replace_partition


@dataclass(frozen=True)
class ParseResult:
    region: str
    period: int
    rows: dict[str, int]
    rejected: dict[str, int] = field(default_factory=dict)
    boards_by_status: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    bodies: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        tables = " ".join(f"{table}={count}" for table, count in self.rows.items())
        statuses = " ".join(f"{s}={n}" for s, n in sorted(self.boards_by_status.items()))
        rejected = " ".join(f"{r}={n}" for r, n in sorted(self.rejected.items())) or "none"
        return (
            f"{self.period}|{self.region}: {self.snapshots} snapshots, {self.bodies} bodies, "
            f"boards {statuses or 'none'}; {tables}; rejected {rejected}; {self.seconds:.2f}s"
        )


class ForeignManifestError(ValueError):
    """A manifest in the partition's folder belongs to another partition or format."""


def parse_partition(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, region: str, period: int
) -> ParseResult:
    """Replace the partition's rows in the five contract tables with a parse of all its snapshots."""
    started = time.monotonic()
    ensure_schema(con)
    params = {"region": region, "period": int(period)}
    snapshots = list_snapshots(raw_dir, region, period)
    try:
        for statement in sql.CREATE_WORK_TABLES:
            con.execute(statement)
        _read_manifests(con, [str(s / MANIFEST_NAME) for s in snapshots], params)
        con.execute(
            sql.BUILD_MANIFEST,
            {"partition_dir": str(partition_dir(Path(raw_dir).resolve(), region, period))},
        )
        body_files = [row[0] for row in con.execute(sql.BODY_FILES).fetchall()]
        _read_bodies(con, body_files)
        for statement in (sql.BUILD_BODY_BOARDS, sql.BUILD_BODY_SEEN):
            con.execute(statement)
        con.execute(sql.BUILD_ENTRIES, {"period": int(period)})
        con.execute(sql.BUILD_VALID, params)
        con.execute(sql.BUILD_PICKED)
        _read_raw_rejected_entries(con)
        for statement in (
            sql.STAGE_RUNS,
            sql.STAGE_RUN_MEMBERS,
            sql.STAGE_RUN_BOARDS,
            sql.STAGE_BOARDS,
            sql.STAGE_REJECTED,
        ):
            con.execute(statement, params)
        rows = replace_partition(con, region, int(period), sql.STAGED_TABLES)
        return ParseResult(
            region=region,
            period=int(period),
            rows=rows,
            rejected=_counts(
                con, "SELECT reason, count(*) FROM staged_rejected_entries GROUP BY 1"
            ),
            boards_by_status=_counts(con, "SELECT status, count(*) FROM staged_boards GROUP BY 1"),
            snapshots=len(snapshots),
            bodies=len(body_files),
            seconds=time.monotonic() - started,
        )
    finally:
        for table in (*sql.WORK_TABLES, *sql.STAGED_TABLES.values()):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _read_manifests(
    con: duckdb.DuckDBPyConnection, files: list[str], params: dict[str, Any]
) -> None:
    if not files:
        return
    con.execute(sql.READ_MANIFESTS, {"files": files})
    foreign = con.execute(sql.FOREIGN_MANIFESTS, params).fetchall()
    if foreign:
        raise ForeignManifestError(
            f"manifests not of partition {params['period']}|{params['region']} (format 1): {foreign[:5]}"
        )


def _read_bodies(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    """Read every body in one pass; if that fails, one file at a time, setting the bad ones aside."""
    if not files:
        return
    try:
        con.execute(sql.READ_BODIES, {"files": files})
    except duckdb.Error:
        for file in files:
            try:
                con.execute(sql.READ_BODIES, {"files": [file]})
            except duckdb.Error as error:
                reason = _unreadable_reason(con, file)
                detail = str(error).splitlines()[0]
                con.execute(
                    "INSERT INTO parse_bad_bodies VALUES ($file, $reason, $detail)",
                    {"file": file, "reason": reason, "detail": detail},
                )
    con.execute(sql.FLAG_BODIES_NOT_ONE_LEADERBOARD, {"files": files})
    con.execute(sql.DROP_BAD_BODIES)


def _unreadable_reason(con: duckdb.DuckDBPyConnection, file: str) -> str:
    """Why a body failed to read: gone, not JSON at all, or JSON whose shape is not a leaderboard's."""
    if not Path(file).is_file():
        return "missing_body"
    try:
        con.execute(
            "SELECT count(*) FROM read_json_objects($file, format = 'unstructured', hive_partitioning = false, compression = 'gzip')",
            {"file": file},
        ).fetchone()
    except duckdb.Error:
        return "invalid_json"
    return "unexpected_shape"


def _read_raw_rejected_entries(con: duckdb.DuckDBPyConnection) -> None:
    files = [row[0] for row in con.execute(sql.REJECTED_BODY_FILES).fetchall()]
    if files:
        con.execute(sql.READ_RAW_ENTRIES, {"files": files})
    else:
        con.execute(sql.EMPTY_RAW_ENTRIES)


def _counts(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, int]:
    return {key: count for key, count in con.execute(query).fetchall()}
