"""Leaderboard assets, partitioned by period × region.

`leaderboard_pages` fetches a partition's boards into a raw snapshot on disk (never opens DuckDB);
the contract tables are then parsed in DuckDB SQL from the union of the partition's snapshots.
"""

import dagster as dg

from metawatch_dagster.leaderboard_fetch import fetch_partition
from metawatch_dagster.parsing import drop_cache_before, parse_partition
from metawatch_dagster.partitions import (
    about_partition,
    parse_partition_key,
    period_region_partitions,
)
from metawatch_dagster.raw_archive import ARCHIVE_NAME, bodies_in_place, bodies_to_read
from metawatch_dagster.reference import ReferenceFetcher, ReferenceMissing, ReferenceStore
from metawatch_dagster.reference_load import reload_if_behind
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.warehouse import connect

LEADERBOARD_GROUP = "leaderboards"
PARSED_TABLES = ["runs", "run_members", "run_boards", "boards", "rejected_entries"]

ALL_BOARDS_ANSWERED = "all_boards_answered"
RUNS_FOR_PAST_PERIOD = "runs_present_for_past_period"
RUN_ID_UNIQUE = "run_id_unique"
FIVE_MEMBERS = "five_members_per_run"
SPECS_KNOWN = "spec_ids_known"
BODIES_READABLE = "bodies_readable"
# The checks that pass when their count from `run_checks` is zero: (check, asset, count).
ZERO_COUNT_CHECKS = (
    (RUN_ID_UNIQUE, "runs", "duplicate_run_ids"),
    (FIVE_MEMBERS, "run_members", "runs_without_five_members"),
    (SPECS_KNOWN, "run_members", "unknown_spec_ids"),
    (BODIES_READABLE, "boards", "boards_with_unreadable_body"),
)


class ParseConfig(dg.Config):
    """`full` re-reads every raw body instead of only those not parsed before (a rebuild)."""

    full: bool = False


def week_metadata(store: ReferenceStore, region: str, period: int) -> dict[str, str]:
    """The week's start and end in its region, so a person sees which dates a partition covers."""
    for entry in store.periods(region)["periods"]:
        if entry["period"] == period:
            return {"week_start": entry["start"], "week_end": entry["end"]}
    return {}


def _is_past_week(store: ReferenceStore, region: str, period: int) -> bool:
    """Whether the region's reference holds a later current period. A region without reference
    files counts as current, as does a week the reference has not seen start yet."""
    try:
        return period < store.periods(region)["current_period"]
    except ReferenceMissing:
        return False


def _board_plan(metawatch: MetawatchResource, client, region: str, period: int):
    store = metawatch.reference()
    try:
        return store.board_plan(region, period)
    except ReferenceMissing:
        # A period the sensor just saw may be newer than the reference files: refresh this region once.
        ReferenceFetcher(client, store).refresh([region])
        return store.board_plan(region, period)


@dg.asset(
    partitions_def=period_region_partitions,
    group_name=LEADERBOARD_GROUP,
    kinds={"json"},
    deps=["reference_files"],
    check_specs=[
        dg.AssetCheckSpec(
            ALL_BOARDS_ANSWERED,
            asset="leaderboard_pages",
            description="Every connected realm × dungeon board answered 200, 304 or 404, and not "
            "all of them 404 (which means a stale realm or dungeon list, not an empty week).",
        )
    ],
)
def leaderboard_pages(context: dg.AssetExecutionContext, metawatch: MetawatchResource):
    """Raw leaderboard bodies of one week in one region: one immutable snapshot per fetch."""
    key = parse_partition_key(context.partition_key)
    settings = metawatch.settings()
    past_week = _is_past_week(metawatch.reference(), key.region, key.period)
    with metawatch.client(for_past_week=past_week) as client:
        plan = _board_plan(metawatch, client, key.region, key.period)
        context.log.info(
            f"fetching {len(plan.boards)} boards of {key.key}: {len(plan.connected_realm_ids)} "
            f"connected realms × {len(plan.dungeons)} dungeons ({plan.dungeons_source})"
        )
        if past_week:
            context.log.info(
                f"{key.key} has ended: its fetch leaves {client.limiter.leave_per_hour} sends of"
                " each hour's quota to the loads of current weeks"
            )

        def progress(done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                context.log.info(f"{key.key}: {done}/{total} boards")

        with bodies_in_place(settings.raw_dir, key.region, key.period) as unpacked:
            if unpacked:
                context.log.info(
                    f"{key.key}: unpacked {unpacked} bodies from {ARCHIVE_NAME} to add a snapshot;"
                    " the daily pack_raw job packs them again"
                )
            report = fetch_partition(client, settings.raw_dir, plan, progress=progress)
    context.log.info(report.summary())
    if report.damaged_bodies:
        context.log.warning(
            f"{key.key}: {len(report.damaged_bodies)} held bodies were missing or damaged on disk,"
            f" so their boards were fetched whole (first: {report.damaged_bodies[0]})"
        )
    yield dg.MaterializeResult(
        metadata={
            **week_metadata(metawatch.reference(), key.region, key.period),
            **report.board_counts(),
            "entries_downloaded": report.entries,
            "boards_downloaded_full": report.full_boards,
            "requests": report.requests,
            "retries": report.retries,
            "seconds": round(report.seconds, 2),
            "bytes": report.bytes,
            "damaged_bodies_fetched_again": len(report.damaged_bodies),
            "snapshot": report.snapshot,
            "dungeons_source": plan.dungeons_source,
        }
    )
    check = dg.AssetCheckResult(
        check_name=ALL_BOARDS_ANSWERED,
        passed=report.statuses["error"] == 0
        and (report.boards == 0 or report.statuses["404"] < report.boards),
        metadata={
            "answered": report.answered,
            "boards": report.boards,
            "not_found": report.statuses["404"],
            "failed": report.errors[:20],
        },
    )
    yield about_partition(check, key.key)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            table,
            deps=[leaderboard_pages],
            group_name=LEADERBOARD_GROUP,
            kinds={"duckdb"},
            partitions_def=period_region_partitions,
        )
        for table in PARSED_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            RUNS_FOR_PAST_PERIOD, asset="runs", description="A week that has ended has runs."
        ),
        dg.AssetCheckSpec(RUN_ID_UNIQUE, asset="runs", description="run_id is unique."),
        dg.AssetCheckSpec(
            FIVE_MEMBERS, asset="run_members", description="Every run has five members."
        ),
        dg.AssetCheckSpec(
            SPECS_KNOWN, asset="run_members", description="Every spec id is in ref_specs."
        ),
        dg.AssetCheckSpec(
            BODIES_READABLE,
            asset="boards",
            description="Every board that answered has its newest body on disk, readable as a"
            " leaderboard (rejected_entries says why one is not). The next load fetches a missing or"
            " truncated body again; delete one damaged otherwise to have it fetched again.",
        ),
    ],
    partitions_def=period_region_partitions,
    pool="duckdb",
)
def leaderboard_tables(
    context: dg.AssetExecutionContext, config: ParseConfig, metawatch: MetawatchResource
):
    """Runs, rosters and board listings parsed from every snapshot of the partition, replaced in one
    transaction; entries that cannot be a valid run are quarantined in rejected_entries. The parser's
    cache is kept for the region's current week only (reloads stop when a week ends)."""
    key = parse_partition_key(context.partition_key)
    settings = metawatch.settings()
    with (
        bodies_to_read(settings.raw_dir, key.region, key.period) as (bodies_root, extracted),
        connect(settings.warehouse_path) as con,
    ):
        if extracted:
            context.log.info(
                f"{key.key}: read {extracted} bodies extracted from {ARCHIVE_NAME} for this parse;"
                " the week stays packed"
            )
        result = parse_partition(
            con, settings.raw_dir, key.region, key.period, config.full, bodies_root
        )
        try:
            reloaded = reload_if_behind(
                con, metawatch.reference(), list(settings.regions), key.region, key.period
            )
        except ReferenceMissing as missing:  # another region's files: the parse is stored already
            reloaded = None
            context.log.warning(
                f"the ref_* tables do not list period {key.period} of {key.region} and could not"
                f" be reloaded: {missing}; the next reference refresh loads them"
            )
        checks = run_checks(con, key.region, key.period)
        current = metawatch.reference().periods(key.region)["current_period"]
        dropped = drop_cache_before(con, key.region, current)
    context.log.info(str(result))
    if reloaded:
        context.log.info(
            f"the ref_* tables did not list period {key.period} of {key.region}: reloaded them from"
            f" the reference files ({reloaded['ref_periods']} periods,"
            f" {reloaded['ref_seasons']} seasons, {reloaded['ref_dungeons']} dungeons)"
        )
    if dropped:
        context.log.info(
            f"{key.region}: dropped the parse cache of weeks before {current} ({dropped} bodies);"
            " a later load of one of them reads its bodies again"
        )
    for table in PARSED_TABLES:
        yield dg.MaterializeResult(asset_key=table, metadata={"rows": result.rows[table]})
    ended = key.period < current
    outcomes = (
        dg.AssetCheckResult(
            check_name=RUNS_FOR_PAST_PERIOD,
            asset_key="runs",
            passed=not ended or result.rows["runs"] > 0,
            metadata={"runs": result.rows["runs"], "week_ended": ended},
        ),
        *(
            dg.AssetCheckResult(
                check_name=name,
                asset_key=asset,
                passed=checks[count] == 0,
                metadata={count: checks[count]},
            )
            for name, asset, count in ZERO_COUNT_CHECKS
        ),
    )
    for check in outcomes:
        yield about_partition(check, key.key)


def run_checks(con, region: str, period: int) -> dict[str, int]:
    """The partition's data-quality counts, each zero when the rule holds."""
    params = {"region": region, "period": period}
    queries = {
        "duplicate_run_ids": """
            SELECT count(*) - count(DISTINCT run_id) FROM runs
            WHERE region = $region AND period = $period""",
        "runs_without_five_members": """
            SELECT count(*) FROM runs r
            LEFT JOIN (SELECT run_id, count(*) AS n FROM run_members
                       WHERE region = $region AND period = $period GROUP BY run_id) m USING (run_id)
            WHERE r.region = $region AND r.period = $period AND coalesce(m.n, 0) <> 5""",
        "unknown_spec_ids": """
            SELECT count(DISTINCT spec_id) FROM run_members
            WHERE region = $region AND period = $period
              AND spec_id NOT IN (SELECT spec_id FROM ref_specs)""",
        "boards_with_unreadable_body": """
            SELECT count(*) FROM boards
            WHERE region = $region AND period = $period
              AND status IN ('200', '304') AND entries IS NULL""",
    }
    return {name: con.execute(sql, params).fetchone()[0] for name, sql in queries.items()}
