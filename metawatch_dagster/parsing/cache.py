"""The parse cache: what was extracted from each body file, so a reload reads only bodies it has not seen.

Internal to the parser (schema `parse_cache` of the warehouse), not part of the data contract. Bodies are
immutable, so a body's extraction never changes; a row is keyed by the body's path relative to its
partition folder and the board that names it, and stamped with the file's size and mtime so a file
rewritten in place is read again. A body superseded on its board is never seen again, so its entries
are folded into `folded`, one row per run and board keeping exactly what the rows use of them: a
partition reloaded every hour caches its current bodies and the runs it has seen, not every entry of
every body each reload brought. It also records the hash of the members written for each run, so a
reload rewrites a run's members only when those it picks now hash differently. The whole schema is
stamped with the parser's and DuckDB's versions (DuckDB's hash may change between versions): a parser
whose extraction differs drops it and starts over, so the cache never goes stale silently. The
pipeline keeps it for each region's current week only (`drop_cache_before`).
"""

from __future__ import annotations

import duckdb

from metawatch_dagster.parsing.sql import ENTRY_DDL, FOLDED_DDL
from metawatch_dagster.warehouse import transaction

# Bump whenever what is cached changes (columns, reasons, run_id, validation rules, tables).
PARSER_VERSION = "7"
SCHEMA = "parse_cache"

_KEY = (
    "region VARCHAR, period INTEGER, body VARCHAR, connected_realm_id INTEGER, dungeon_id INTEGER"
)
TABLES = {
    # One row per (body, board) read: its size and mtime when read, its entry count, or why it is bad;
    # once folded, the times it was seen (the fold holds only while they stay the same).
    "bodies": f"{_KEY}, size BIGINT, mtime_ns BIGINT, entries INTEGER, bad_reason VARCHAR,"
    " bad_detail VARCHAR, folded_first_seen_at TIMESTAMP, folded_last_seen_at TIMESTAMP",
    # One row per entry (entry_index NULL: a body object with no entries); reason NULL = a valid run.
    # Members are not kept: written to run_members at most once per pick, they would cost more to
    # cache than the rare body read again for them.
    "entries": f"region VARCHAR, period INTEGER, {ENTRY_DDL}",
    # The listings of folded bodies, one row per run and board: the best ranking, the first and last
    # sightings, and the listing the run's pick would take among them.
    "folded": f"region VARCHAR, period INTEGER, {FOLDED_DDL}",
    # The exact JSON of each rejected entry.
    "rejected": f"{_KEY}, entry_index BIGINT, reason VARCHAR, raw JSON",
    # The hash of the members each run's rows in run_members were written from, written with them.
    "picks": "region VARCHAR, period INTEGER, run_id VARCHAR, members_hash UBIGINT",
}


def cache_stamp() -> str:
    return f"{PARSER_VERSION}/duckdb-{duckdb.__version__}"


def ensure_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Create the cache schema, or drop and recreate it when it was written by another parser version."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.state (stamp VARCHAR NOT NULL)")
    stamps = [row[0] for row in con.execute(f"SELECT stamp FROM {SCHEMA}.state").fetchall()]
    if stamps == [cache_stamp()]:
        return
    with transaction(con):
        for table in TABLES:
            con.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
        for table, columns in TABLES.items():
            con.execute(f"CREATE TABLE {SCHEMA}.{table} ({columns})")
        con.execute(f"DELETE FROM {SCHEMA}.state")
        con.execute(f"INSERT INTO {SCHEMA}.state VALUES ($stamp)", {"stamp": cache_stamp()})


def drop_cache_before(con: duckdb.DuckDBPyConnection, region: str, period: int) -> int:
    """Forget everything the cache holds for the region's periods before `period`, in one
    transaction; returns the bodies dropped. Their contract rows stay; a later parse of one of
    them reads every body again.

    Called with the region's current period: a week that has ended gets no more hourly reloads,
    which are all the cache speeds up, so its cache (the entries of its current bodies and a folded
    row per run and board) would only take space."""
    ensure_cache(con)
    where = "region = $region AND period < $period"
    params = {"region": region, "period": int(period)}
    with transaction(con):
        bodies = con.execute(f"SELECT count(*) FROM {SCHEMA}.bodies WHERE {where}", params)
        dropped = bodies.fetchone()[0]
        for table in TABLES:
            con.execute(f"DELETE FROM {SCHEMA}.{table} WHERE {where}", params)
    return dropped
