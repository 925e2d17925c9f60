"""Parse a (region, period) partition: the union of its raw snapshots into the contract tables.

Every entry is handled in DuckDB SQL (see `sql.py`). A parse reads only the bodies its cache lacks
(all of them on the first parse or with `full=True`), then rebuilds the partition's rows from the cache
and every manifest; run_members, the largest table, is updated by difference. Bodies superseded on
their board are folded in the cache (see `cache.py`), so it grows with the runs, not the reloads.
Python lists and stats files and, when a bulk read of the bodies fails, reads them one file at a time
to set the broken ones aside as rejected boards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from metawatch_dagster.contract import CONTRACT_TABLES, column_names
from metawatch_dagster.parsing import sql
from metawatch_dagster.parsing.cache import ensure_cache
from metawatch_dagster.raw_store import MANIFEST_NAME, list_snapshots, partition_dir
from metawatch_dagster.warehouse import ensure_schema, transaction


@dataclass(frozen=True)
class ParseResult:
    region: str
    period: int
    rows: dict[str, int]
    rejected: dict[str, int] = field(default_factory=dict)
    boards_by_status: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    bodies: int = 0  # distinct body files the partition's manifests name
    bodies_read: int = 0  # of those, the files this parse read (the others came from the cache)
    bodies_folded: int = 0  # bodies superseded on their board that this parse folded in the cache
    members_written: int = 0  # runs whose members this parse wrote: new runs, changed members
    seconds: float = 0.0
    read_seconds: float = 0.0  # of those, reading bodies; the rest rebuilds and writes the rows

    def __str__(self) -> str:
        tables = " ".join(f"{table}={count}" for table, count in self.rows.items())
        statuses = " ".join(f"{s}={n}" for s, n in sorted(self.boards_by_status.items()))
        rejected = " ".join(f"{r}={n}" for r, n in sorted(self.rejected.items())) or "none"
        return (
            f"{self.period}|{self.region}: {self.snapshots} snapshots, {self.bodies} bodies"
            f" ({self.bodies_read} read, {self.bodies_folded} folded),"
            f" boards {statuses or 'none'}; {tables}"
            f" (members of {self.members_written} runs written);"
            f" rejected {rejected}; {self.seconds:.2f}s ({self.read_seconds:.2f}s reading)"
        )


class ForeignManifestError(ValueError):
    """A manifest in the partition's folder belongs to another partition or format."""


class CachedBodyUnreadableError(RuntimeError):
    """A body the cache holds (same size and mtime) fails to read again: changed behind the parser."""


def parse_partition(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    region: str,
    period: int,
    full: bool = False,
    bodies_root: Path | None = None,
) -> ParseResult:
    """Replace the partition's rows in the five contract tables with a parse of all its snapshots.

    Bodies already in the parse cache are not read again unless `full` (a rebuild from raw files
    alone); the rows are the same either way. The manifests' body paths are read under
    `bodies_root` (a packed partition's extract) instead of the partition's folder when it is given.
    """
    started = time.monotonic()
    ensure_schema(con)
    ensure_cache(con)
    params = {"region": region, "period": int(period)}
    root = Path(bodies_root or partition_dir(raw_dir, region, period)).resolve()
    snapshots = list_snapshots(raw_dir, region, period)
    try:
        for statement in sql.CREATE_WORK_TABLES:
            con.execute(statement)
        _read_manifests(con, [str(s / MANIFEST_NAME) for s in snapshots], params)
        for statement in (sql.BUILD_MANIFEST, sql.BUILD_BODY_BOARDS, sql.BUILD_BODY_SEEN):
            con.execute(statement)
        bodies = _stat_bodies(con, root)
        # Folded entries are gone from the cache: a folded body changed or seen again is read anew
        # with every other body, as a rebuild would.
        full = full or not con.execute(sql.FOLDED_INTACT, params).fetchone()[0]
        reading = time.monotonic()
        bodies_read = _update_cache(con, params, root, full)
        read_seconds = time.monotonic() - reading
        rewrite_members = full or not con.execute(sql.MEMBERS_MATCH_PICKS, params).fetchone()[0]
        for statement in (
            sql.BUILD_GOOD_BODIES,
            sql.BUILD_PICKED,
            sql.BUILD_MEMBER_CHANGES_ALL if rewrite_members else sql.BUILD_MEMBER_CHANGES,
            sql.BUILD_REREAD,
        ):
            con.execute(statement, _used(statement, params))
        bodies_folded = _fold_superseded(con, params)
        reading = time.monotonic()
        _reread_picked_bodies(con, params)
        read_seconds += time.monotonic() - reading
        for statement in (
            sql.STAGE_RUNS,
            sql.STAGE_RUN_MEMBERS,
            sql.STAGE_RUN_BOARDS,
            sql.STAGE_BOARDS,
            sql.STAGE_REJECTED,
        ):
            con.execute(statement, _used(statement, params))
        rows = _write_partition(con, params, rewrite_members)
        return ParseResult(
            region=region,
            period=int(period),
            rows=rows,
            rejected=_counts(
                con, "SELECT reason, count(*) FROM staged_rejected_entries GROUP BY 1"
            ),
            boards_by_status=_counts(con, "SELECT status, count(*) FROM staged_boards GROUP BY 1"),
            snapshots=len(snapshots),
            bodies=bodies,
            bodies_read=bodies_read,
            bodies_folded=bodies_folded,
            members_written=con.execute("SELECT count(*) FROM parse_member_changes").fetchone()[0],
            seconds=time.monotonic() - started,
            read_seconds=read_seconds,
        )
    finally:
        for table in (*sql.WORK_TABLES, *sql.STAGED_TABLES.values()):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _write_partition(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], rewrite_members: bool
) -> dict[str, int]:
    """Put the staged rows in the contract tables in one transaction; returns each table's row count.

    runs and run_boards are merged (rows gone deleted, rows changed updated, new rows inserted: a
    reload mostly moves seen times, and rewriting every row costs a checkpoint of the partition);
    run_members gets the staged members (of the runs in parse_member_changes: all runs when
    `rewrite_members`) in place of those runs' and runs gone; the small tables are replaced.
    """
    rows = {}
    with transaction(con):
        for table, staged in sql.STAGED_TABLES.items():
            columns = column_names(CONTRACT_TABLES[table])
            if table in sql.MERGED:
                for statement in sql.merge_partition(table, staged, columns):
                    con.execute(statement, _used(statement, params))
            elif table == "run_members":
                for statement in (
                    sql.DROP_ALL_MEMBERS if rewrite_members else sql.DROP_CHANGED_MEMBERS
                ):
                    con.execute(statement, params)
                con.execute(_insert(table, staged, columns))
                con.execute(sql.RECORD_PICKS, params)
            else:
                con.execute(f"DELETE FROM {table} WHERE {sql.PARTITION}", params)
                con.execute(_insert(table, staged, columns))
            rows[table] = con.execute(
                f"SELECT count(*) FROM {table} WHERE {sql.PARTITION}", params
            ).fetchone()[0]
    return rows


def _insert(table: str, staged: str, columns: list[str]) -> str:
    listed = ", ".join(columns)
    return f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {staged}"


def _used(statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses unused named parameters)."""
    return {name: value for name, value in params.items() if f"${name}" in statement}


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


def _stat_bodies(con: duckdb.DuckDBPyConnection, root: Path) -> int:
    """Record each named body's file, size and mtime (NULL when missing); returns how many."""
    bodies = [row[0] for row in con.execute(sql.BODIES).fetchall()]
    files, sizes, mtimes = [], [], []
    for body in bodies:
        file = root / body
        files.append(str(file))
        try:
            stat = file.stat()
        except FileNotFoundError:
            sizes.append(None)
            mtimes.append(None)
        else:
            sizes.append(stat.st_size)
            mtimes.append(stat.st_mtime_ns)
    con.execute(
        sql.BUILD_FILES, {"bodies": bodies, "body_files": files, "sizes": sizes, "mtimes": mtimes}
    )
    return len(bodies)


def _update_cache(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], root: Path, full: bool
) -> int:
    """Drop stale cache rows and read the bodies the cache lacks into `parse_read` and the cache;
    returns the files read.

    Each step commits on its own and leaves the cache true to the files: a body's entries and its
    row in `parse_cache.bodies` are written in one transaction.
    """
    with transaction(con):
        for statement in (
            *(sql.DROP_ALL_CACHED if full else sql.DROP_STALE_CACHED),
            *sql.DROP_ORPHANS,
        ):
            con.execute(statement, _used(statement, params))
        con.execute(sql.BUILD_TO_READ, params)
    files = [row[0] for row in con.execute(sql.FILES_TO_READ).fetchall()]
    if not files:
        return 0
    _read_entries(con, params, files, root)
    with transaction(con):
        con.execute(sql.CACHE_ENTRIES, params)
        con.execute(sql.RECORD_BODIES, params)
        rejected_files = [
            row[0] for row in con.execute(sql.REJECTED_FILES_TO_READ, params).fetchall()
        ]
        if rejected_files:
            con.execute(sql.READ_RAW_ENTRIES, {"files": rejected_files})
            con.execute(sql.RECORD_REJECTED, params)
    return len(files)


def _fold_superseded(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> int:
    """Fold the cached bodies superseded on their board since the last fold, once they are due
    (see `sql.FOLD_DUE` and `sql.FOLD`); returns how many were folded."""
    con.execute(sql.BUILD_TO_FOLD, params)
    if not con.execute(sql.FOLD_DUE, params).fetchone()[0]:
        return 0
    with transaction(con):
        for statement in sql.FOLD:
            con.execute(statement, _used(statement, params))
    return con.execute("SELECT count(*) FROM parse_to_fold").fetchone()[0]


def _reread_picked_bodies(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Read again the cached bodies holding picks whose members must be written."""
    files = [row[0] for row in con.execute(sql.REREAD_FILES).fetchall()]
    if not files:
        return
    try:
        _read_in_any_layout(con, sql.REREAD_ENTRIES, {**params, "files": files})
    except duckdb.Error as error:
        raise CachedBodyUnreadableError(
            f"{params['period']}|{params['region']}: a body read before no longer reads"
            f" ({str(error).splitlines()[0]}); `metawatch rebuild` re-reads every body"
        ) from error


def _read_in_any_layout(
    con: duckdb.DuckDBPyConnection, by_layout: dict[str, str], params: dict[str, Any]
) -> None:
    """Run the read in the fastest layout that reads every file; raises when none does."""
    for layout in sql.BODY_LAYOUTS:
        try:
            con.execute(by_layout[layout], params)
            return
        except duckdb.Error:
            if layout == sql.ANY_LAYOUT:
                raise


def _read_entries(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], files: list[str], root: Path
) -> None:
    """Read every file in one pass; if that fails, one file at a time, setting the bad ones aside."""
    try:
        _read_in_any_layout(con, sql.READ_ENTRIES, {**params, "files": files})
        return
    except duckdb.Error:
        pass
    for file in files:
        try:
            con.execute(sql.READ_ENTRIES[sql.ANY_LAYOUT], {**params, "files": [file]})
        except duckdb.Error as error:
            # The detail names the body relative to its partition, so it does not depend on where
            # the raw folder lives.
            detail = (
                str(error).splitlines()[0].replace(file, Path(file).relative_to(root).as_posix())
            )
            con.execute(
                "INSERT INTO parse_read_errors VALUES ($file, $reason, $detail)",
                {"file": file, "reason": _unreadable_reason(con, file), "detail": detail},
            )


def _unreadable_reason(con: duckdb.DuckDBPyConnection, file: str) -> str:
    """Why a body failed to read: not JSON at all, or JSON whose shape is not a leaderboard's."""
    try:
        con.execute(
            "SELECT count(*) FROM read_json_objects($file, format = 'unstructured',"
            " hive_partitioning = false, compression = 'gzip')",
            {"file": file},
        ).fetchone()
    except duckdb.Error:
        return "invalid_json"
    return "unexpected_shape"


def _counts(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, int]:
    return {key: count for key, count in con.execute(query).fetchall()}
