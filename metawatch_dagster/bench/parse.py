"""The parse of a partition's raw snapshots, and its floors: DuckDB reading the same fields of the
same files into an in-memory table with nothing else done, and DuckDB writing the rows the parse
produced into empty contract tables (the floor leaves the writing out; the parse cannot). All run as
child tasks (see `child.py`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metawatch_dagster.bench.child import run_in_child
from metawatch_dagster.bench.figures import Figure, ratio_figure, repeat, summarize
from metawatch_dagster.bench.section import Section
from metawatch_dagster.contract import PARTITIONED_TABLES
from metawatch_dagster.parsing import parse_partition
from metawatch_dagster.parsing.sql import BODY_COLUMNS, BODY_LAYOUTS
from metawatch_dagster.raw_store import list_snapshots, partition_dir, read_manifest
from metawatch_dagster.warehouse import connect, ensure_schema, transaction

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext

GB = 1e9

# Every field the parser keeps, the groups unnested into explicit columns, read in DuckDB's fastest
# layout for the sandbox's one-line bodies (as the parse reads them first).
FLOOR_SQL = f"""
CREATE TABLE floor AS
SELECT filename, period, period_start_timestamp, period_end_timestamp, map_challenge_mode_id,
       g.ranking, g.duration, g.completed_timestamp, g.keystone_level,
       g.mythic_rating.rating AS mythic_rating, g.members
FROM (
    SELECT *, unnest(leading_groups) AS g
    FROM read_json($files, columns = {BODY_COLUMNS}, format = '{BODY_LAYOUTS[0]}',
                   hive_partitioning = false, compression = 'gzip', filename = true)
)
"""


def body_files(raw_dir: Path, region: str, period: int) -> list[str]:
    """Every distinct body the partition's manifests name: the files the parse reads."""
    root = partition_dir(Path(raw_dir).resolve(), region, period)
    files = {
        str(root / board["body"])
        for snapshot in list_snapshots(raw_dir, region, period)
        for board in read_manifest(snapshot)["boards"]
        if board["body"] is not None
    }
    return sorted(files)


def warm_up(con) -> None:
    """The first parameterised query of a process imports DuckDB's Python helpers (pandas, numpy,
    pyarrow: about a second), a cost a long-lived pipeline process has already paid."""
    con.execute("SELECT $warm", {"warm": 1}).fetchall()


def parse_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Parse the partition into the warehouse at payload['warehouse']; the parse's own seconds."""
    with connect(payload["warehouse"]) as con:
        warm_up(con)
        started = time.perf_counter()
        result = parse_partition(
            con, Path(payload["raw_dir"]), payload["region"], payload["period"]
        )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "read_seconds": result.read_seconds,
        "bodies_folded": result.bodies_folded,
        "rows": result.rows,
        "bodies": result.bodies,
    }


def floor_task(payload: dict[str, Any]) -> dict[str, Any]:
    files = body_files(Path(payload["raw_dir"]), payload["region"], payload["period"])
    with connect(":memory:") as con:
        warm_up(con)
        started = time.perf_counter()
        con.execute(FLOOR_SQL, {"files": files})
        seconds = time.perf_counter() - started
        entries = con.execute("SELECT count(*) FROM floor").fetchone()[0]
    return {"seconds": seconds, "entries": entries, "bodies": len(files)}


def write_floor_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Write the contract rows of the parsed warehouse at payload['parsed'] into the empty one at
    payload['warehouse'], the rows held in memory first so only the writing is timed."""
    with connect(payload["warehouse"]) as con:
        ensure_schema(con)
        quoted = str(payload["parsed"]).replace("'", "''")  # ATTACH takes no parameters
        con.execute(f"ATTACH '{quoted}' AS parsed (READ_ONLY)")
        for table in PARTITIONED_TABLES:
            con.execute(f"CREATE TEMP TABLE held_{table} AS SELECT * FROM parsed.{table}")
        con.execute("DETACH parsed")
        started = time.perf_counter()
        with transaction(con):
            for table in PARTITIONED_TABLES:
                con.execute(f"INSERT INTO {table} SELECT * FROM held_{table}")
        seconds = time.perf_counter() - started
    return {"seconds": seconds}


def measure_parse(ctx: BenchContext, raw_dir: Path) -> tuple[Section, list[dict[str, float]]]:
    """The parse and its floors side by side in each run, each in its own child process; also the
    samples run by run (the baseline pairs with them)."""
    facts: dict[str, Any] = {}

    def once() -> dict[str, float]:
        scratch = ctx.scratch("parse")
        warehouse = scratch / "metawatch.duckdb"
        parse = run_in_child("parse", ctx.payload(raw_dir, warehouse=str(warehouse)))
        floor = run_in_child("floor", ctx.payload(raw_dir))
        written = scratch / "written.duckdb"
        write_floor = run_in_child(
            "write_floor", {"parsed": str(warehouse), "warehouse": str(written)}
        )
        facts.update(rows=parse.result["rows"], bodies=parse.result["bodies"])
        facts["floor_entries"] = floor.result["entries"]
        return {
            "seconds": parse.result["seconds"],
            "read_seconds": parse.result["read_seconds"],
            "floor_seconds": floor.result["seconds"],
            "write_floor_seconds": write_floor.result["seconds"],
            "peak_rss_gb": parse.peak_rss_bytes / GB,
            "floor_peak_rss_gb": floor.peak_rss_bytes / GB,
        }

    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    figures = summarize(samples)
    figures["vs_floor"] = parse_vs_floor(samples)
    figures["read_vs_floor"] = ratio_figure(
        [s["read_seconds"] for s in samples], [s["floor_seconds"] for s in samples]
    )
    figures["vs_floors"] = ratio_figure(
        [s["seconds"] for s in samples],
        [s["floor_seconds"] + s["write_floor_seconds"] for s in samples],
    )
    return Section(figures, facts), samples


def parse_vs_floor(samples: list[dict[str, float]]) -> Figure:
    return ratio_figure([s["seconds"] for s in samples], [s["floor_seconds"] for s in samples])
