"""Load the reference files into the ref_* tables, each replaced whole in one transaction."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from metawatch_dagster.contract import REFERENCE_TABLES, column_names
from metawatch_dagster.reference import ReferenceMissing, ReferenceStore
from metawatch_dagster.warehouse import ensure_schema, replace_table


def reference_rows(store: ReferenceStore, regions: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in REFERENCE_TABLES}
    seasons_seen: set[int] = set()
    for region in regions:
        for period in store.periods(region)["periods"]:
            rows["ref_periods"].append({"region": region, **period})
        for season in store.seasons(region)["seasons"]:
            periods = season["periods"]
            rows["ref_seasons"].append(
                {
                    "season": season["season"],
                    "region": region,
                    "start": season["start"],
                    "end": season["end"],
                    "first_period": min(periods, default=None),
                    "last_period": max(periods, default=None),
                }
            )
            if season["season"] in seasons_seen:
                continue
            try:
                recorded = store.season_dungeons(region, season["season"])
            except ReferenceMissing:
                continue
            seasons_seen.add(season["season"])
            for dungeon in recorded["dungeons"]:
                rows["ref_dungeons"].append(
                    {"season": season["season"], **dungeon, "source": recorded["source"]}
                )
        for connected in store.connected_realms(region):
            cr_id = connected["connected_realm_id"]
            rows["ref_connected_realms"].append(
                {
                    "region": region,
                    "connected_realm_id": cr_id,
                    "realm_count": len(connected["realms"]),
                }
            )
            for realm in connected["realms"]:
                rows["ref_realms"].append({"region": region, "connected_realm_id": cr_id, **realm})
    rows["ref_specs"] = store.specs()
    return rows


def load_reference_tables(
    con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict[str, Any]]]
) -> dict[str, int]:
    """Replaces each ref_* table whole with its rows; returns the row count per table."""
    ensure_schema(con)
    counts = {}
    for table, columns_sql in REFERENCE_TABLES.items():
        columns = [name.strip('"') for name in column_names(columns_sql)]
        con.register("incoming_reference", pd.DataFrame(rows[table], columns=columns))
        try:
            counts[table] = replace_table(con, table, "incoming_reference")
        finally:
            con.unregister("incoming_reference")
    return counts


def reload_if_behind(
    con: duckdb.DuckDBPyConnection,
    store: ReferenceStore,
    regions: list[str],
    region: str,
    period: int,
) -> dict[str, int] | None:
    """Reload the ref_* tables from the files when the files list the region's period and the tables
    do not; returns the row counts when it did.

    A load of a week that has just started refreshes the reference files (its board plan needs the
    period), while the tables wait for the daily reference run: until then the week's marts would
    find no season (and, in a new season, no dungeon timers) for it."""
    try:
        listed = any(p["period"] == period for p in store.periods(region)["periods"])
    except ReferenceMissing:
        return None
    ensure_schema(con)
    params = {"region": region, "period": period}
    known = con.execute(
        "SELECT count(*) FROM ref_periods WHERE region = $region AND period = $period", params
    ).fetchone()[0]
    if not listed or known:
        return None
    return load_reference_tables(con, reference_rows(store, regions))
