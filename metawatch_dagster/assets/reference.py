"""Reference assets: fetched to files (no DuckDB), then loaded into the ref_* tables (pool duckdb)."""

import dagster as dg

from metawatch_dagster.reference import ReferenceFetcher
from metawatch_dagster.reference_load import load_reference_tables, reference_rows
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.warehouse import connect

REFERENCE_GROUP = "reference"
REF_TABLE_KEYS = [
    "ref_periods",
    "ref_seasons",
    "ref_connected_realms",
    "ref_realms",
    "ref_dungeons",
    "ref_specs",
]


@dg.asset(group_name=REFERENCE_GROUP, kinds={"json"})
def reference_files(
    context: dg.AssetExecutionContext, metawatch: MetawatchResource
) -> dg.MaterializeResult:
    """Periods, seasons, connected realms, the current season's dungeons with timers, and specs,
    as files under data/reference/."""
    settings = metawatch.settings()
    with metawatch.client() as client:
        report = ReferenceFetcher(client, metawatch.reference()).refresh(list(settings.regions))
        requests = client.stats.requests
    context.log.info(f"reference refreshed for {', '.join(report.regions)} in {requests} requests")
    return dg.MaterializeResult(
        metadata={
            "regions": ", ".join(report.regions),
            "periods": report.periods,
            "seasons": report.seasons,
            "connected_realms": report.connected_realms,
            "dungeons": report.dungeons,
            "specs": report.specs,
            "requests": requests,
            "path": dg.MetadataValue.path(str(settings.reference_dir)),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, deps=[reference_files], group_name=REFERENCE_GROUP, kinds={"duckdb"})
        for key in REF_TABLE_KEYS
    ],
    pool="duckdb",
)
def ref_tables(context: dg.AssetExecutionContext, metawatch: MetawatchResource):
    """The reference files loaded into DuckDB, each table replaced whole."""
    settings = metawatch.settings()
    rows = reference_rows(metawatch.reference(), list(settings.regions))
    with connect(settings.warehouse_path) as con:
        counts = load_reference_tables(con, rows)
    for key in REF_TABLE_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata={"rows": counts[key]})
