"""DuckDB connections, transactions, and replacing a whole table in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from metawatch_dagster.contract import CONTRACT_TABLES, REFERENCE_TABLES, column_names


@contextmanager
def connect(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with UTC session time, closed however the block ends."""
    if not read_only and str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the contract and reference tables that do not exist yet."""
    for table, columns_sql in {**CONTRACT_TABLES, **REFERENCE_TABLES}.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns_sql})")


def _columns(table: str) -> str:
    ddl = CONTRACT_TABLES.get(table) or REFERENCE_TABLES.get(table)
    if ddl is None:
        raise KeyError(f"{table} is not a contract or reference table")
    return ", ".join(column_names(ddl))


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit what the block did, or roll all of it back if it raises."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise


def replace_table(con: duckdb.DuckDBPyConnection, table: str, source: str) -> int:
    """Replace every row of a table (e.g. a ref_* table from a file read) in one transaction."""
    columns = _columns(table)
    with transaction(con):
        con.execute(f"DELETE FROM {table}")
        return con.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}"
        ).fetchone()[0]
