"""Leaderboards through Dagster against the sandbox: the warehouse equals the sandbox's truth."""

from __future__ import annotations

import functools
import gzip
import json
import time
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from metawatch_dagster import resources as metawatch_resources
from metawatch_dagster.assets.leaderboards import (
    BODIES_READABLE,
    PARSED_TABLES,
    RUNS_FOR_PAST_PERIOD,
    leaderboard_pages,
    leaderboard_tables,
)
from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.blizzard import QuotaLimiter
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.raw_store import list_snapshots, partition_dir, read_manifest
from metawatch_dagster.resources import CURRENT_WEEKS_HOURLY_ROOM, MetawatchResource
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .warehouse_rows import read_partition, truth_rows

REGIONS = ("us", "eu")


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=REGIONS), port=0) as sb:
        yield sb


def load_reference(instance, resources):
    dg.materialize([reference_files, ref_tables], instance=instance, resources=resources)


def load_partition(instance, resources, period, region):
    result = dg.materialize(
        [leaderboard_pages, leaderboard_tables],
        partition_key=partition_key(period, region),
        instance=instance,
        resources=resources,
    )
    assert result.success
    return result


@pytest.fixture
def pipeline(sandbox, data_dir, point_at):
    point_at(sandbox, REGIONS)
    instance = dg.DagsterInstance.ephemeral()
    resources = {"metawatch": MetawatchResource(data_dir=str(data_dir))}
    load_reference(instance, resources)
    return instance, resources


def test_two_periods_two_regions_equal_the_truth(sandbox, pipeline, data_dir):
    instance, resources = pipeline
    periods = sorted({p for p, _, _ in sandbox.periods("eu")})[-2:]
    instance.add_dynamic_partitions("period", [str(p) for p in periods])
    for period in periods:
        for region in REGIONS:
            load_partition(instance, resources, period, region)

    cross_realm_runs = 0
    for period in periods:
        for region in REGIONS:
            expected = truth_rows(sandbox.truth(region, period))
            assert expected["runs"], f"the sandbox served no runs for {period}|{region}"
            assert read_partition(data_dir / "metawatch.duckdb", region, period) == expected
            listed = {}
            for run_id, _, _ in expected["listings"]:
                listed[run_id] = listed.get(run_id, 0) + 1
            cross_realm_runs += sum(1 for n in listed.values() if n > 1)
    assert cross_realm_runs > 0, "the world should list some runs on several connected realms"


def test_a_current_week_loads_while_past_weeks_have_spent_their_share_of_the_hour(
    sandbox, pipeline, data_dir, monkeypatch
):
    instance, resources = pipeline
    current = sandbox.current_period("eu")
    instance.add_dynamic_partitions("period", [str(current)])
    # A wait for the quota longer than its pacing fails at once instead of sleeping it out.
    long_waits = []

    def sleep_unless_long(seconds: float) -> None:
        if seconds > 5:
            long_waits.append(seconds)
            raise TimeoutError(f"would wait {seconds:.0f} s for the quota")
        time.sleep(seconds)

    monkeypatch.setattr(
        metawatch_resources,
        "QuotaLimiter",
        functools.partial(QuotaLimiter, sleep=sleep_unless_long),
    )
    # Past weeks' loads (a backfill, another process) have sent all they may this hour.
    quota_state = data_dir / "state" / "blizzard-quota.json"
    spent = QuotaLimiter(data_dir / "state").per_hour - CURRENT_WEEKS_HOURLY_ROOM
    this_minute = int(time.time() // 60)

    def sent_this_hour() -> int:
        minutes = json.loads(quota_state.read_text())["minutes"]
        return sum(n for m, n in minutes.items() if int(m) > this_minute - 60)

    quota_state.write_text(
        json.dumps({"sends": [], "minutes": {str(this_minute): spent}, "paused_until": 0.0,
                    "paced_until": 0.0})
    )  # fmt: skip

    result = load_partition(instance, resources, current, "eu")
    [fetched] = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == ["leaderboard_pages"]
    ]
    requests = fetched.materialization.metadata["requests"].value
    assert requests > 0 and sent_this_hour() == spent + requests, "sent within the hour"
    assert long_waits == []
    assert not [
        e for e in instance.all_logs(result.run_id) if "has ended" in (e.user_message or "")
    ]

    # A past week's fetch would wait for the hour to roll over.
    with resources["metawatch"].client(for_past_week=True) as client, pytest.raises(TimeoutError):
        client.limiter.acquire()
    assert long_waits[0] > 3000 - (time.time() - this_minute * 60)


def test_a_past_week_s_fetch_says_it_leaves_room_to_current_weeks(sandbox, pipeline):
    instance, resources = pipeline
    past = sandbox.current_period("us") - 1
    instance.add_dynamic_partitions("period", [str(past)])
    result = load_partition(instance, resources, past, "us")
    said = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if "has ended" in (e.user_message or "")
    ]
    assert said == [
        f"{past}|us has ended: its fetch leaves {CURRENT_WEEKS_HOURLY_ROOM} sends of each hour's"
        " quota to the loads of current weeks"
    ]


def test_a_later_fetch_adds_new_runs_and_keeps_dropped_ones(sandbox, pipeline, data_dir):
    instance, resources = pipeline
    region = "us"
    period = sandbox.current_period(region)
    instance.add_dynamic_partitions("period", [str(period)])
    db = data_dir / "metawatch.duckdb"

    fetched = fetch_metadata(load_partition(instance, resources, period, region))
    first = read_partition(db, region, period)
    assert first == truth_rows(sandbox.truth(region, period))
    with duckdb.connect(str(db), read_only=True) as con:
        entries, full = con.execute(
            "SELECT sum(entries), count(*) FILTER (WHERE is_full) FROM boards"
            " WHERE region = $region AND period = $period",
            {"region": region, "period": period},
        ).fetchone()
    assert (fetched["entries_downloaded"], fetched["boards_downloaded_full"]) == (entries, full)

    sandbox.clock.advance(timedelta(days=2))
    shown_now = truth_rows(sandbox.board_truth(region, period))
    load_partition(instance, resources, period, region)
    second = read_partition(db, region, period)

    first_ids = {r[0] for r in first["runs"]}
    second_ids = {r[0] for r in second["runs"]}
    shown_ids = {r[0] for r in shown_now["runs"]}
    assert first_ids <= second_ids, "runs seen earlier are kept"
    assert second_ids == first_ids | shown_ids
    assert second == truth_rows(sandbox.truth(region, period))
    assert first_ids - shown_ids, "some runs fell out of the boards in the meantime"


def test_a_week_that_has_ended_keeps_no_parse_cache(sandbox, pipeline, data_dir):
    instance, resources = pipeline
    region = "eu"
    current = sandbox.current_period(region)
    ended = max(p for p, _, _ in sandbox.periods(region) if p < current)
    instance.add_dynamic_partitions("period", [str(ended), str(current)])
    week_ended = {}
    for period in (ended, current):
        result = load_partition(instance, resources, period, region)
        [check] = [
            c for c in result.get_asset_check_evaluations() if c.check_name == RUNS_FOR_PAST_PERIOD
        ]
        assert check.passed
        week_ended[period] = check.metadata["week_ended"].value
    assert week_ended == {ended: True, current: False}

    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        cached = dict(
            con.execute("SELECT period, count(*) FROM parse_cache.entries GROUP BY 1").fetchall()
        )
    assert set(cached) == {current} and cached[current] > 0
    assert read_partition(data_dir / "metawatch.duckdb", region, ended) == truth_rows(
        sandbox.truth(region, ended)
    )


def test_reparsing_the_same_snapshots_gives_identical_tables(sandbox, pipeline, data_dir):
    instance, resources = pipeline
    region, period = "eu", sandbox.current_period("eu")
    instance.add_dynamic_partitions("period", [str(period)])
    load_partition(instance, resources, period, region)

    def all_rows():
        with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
            return {
                table: sorted(map(repr, con.execute(f"SELECT * FROM {table}").fetchall()))
                for table in PARSED_TABLES
            }

    before = all_rows()
    dg.materialize(
        [leaderboard_tables],
        partition_key=partition_key(period, region),
        instance=instance,
        resources=resources,
    )
    assert all_rows() == before
    assert before["runs"]


def test_a_truncated_body_fails_a_check_and_the_next_load_fetches_its_board_whole(
    sandbox, pipeline, data_dir
):
    instance, resources = pipeline
    region, period = "eu", sandbox.current_period("eu")
    instance.add_dynamic_partitions("period", [str(period)])
    load_partition(instance, resources, period, region)
    [snapshot] = list_snapshots(data_dir / "raw", region, period)
    board = next(b for b in read_manifest(snapshot)["boards"] if b["status"] == "200")
    body = partition_dir(data_dir / "raw", region, period) / board["body"]
    with body.open("r+b") as handle:
        handle.truncate(100)

    reparsed = dg.materialize(
        [leaderboard_tables],
        partition_key=partition_key(period, region),
        instance=instance,
        resources=resources,
    )
    assert unreadable_body_check(reparsed) == (False, 1)
    [failed] = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("boards"), BODIES_READABLE), limit=1
    )
    recorded = failed.event.dagster_event.event_specific_data.metadata["partition"]
    assert recorded.value == partition_key(period, region)
    assert read_partition(data_dir / "metawatch.duckdb", region, period) != truth_rows(
        sandbox.truth(region, period)
    )
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        rejected = con.execute(
            "SELECT connected_realm_id, dungeon_id, reason FROM rejected_entries"
        ).fetchall()
    assert rejected == [(board["connected_realm_id"], board["dungeon_id"], "invalid_json")]

    reloaded = load_partition(instance, resources, period, region)
    fetched = reloaded.asset_materializations_for_node("leaderboard_pages")[0].metadata
    assert fetched["damaged_bodies_fetched_again"].value == 1
    newest = read_manifest(list_snapshots(data_dir / "raw", region, period)[-1])["boards"]
    assert [b["status"] for b in newest if b["body"] and b["body"].endswith(body.name)] == ["200"]
    assert unreadable_body_check(reloaded) == (True, 0)
    assert read_partition(data_dir / "metawatch.duckdb", region, period) == truth_rows(
        sandbox.truth(region, period)
    )


def fetch_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = result.asset_materializations_for_node("leaderboard_pages")
    return {name: entry.value for name, entry in materialization.metadata.items()}


def unreadable_body_check(result: dg.ExecuteInProcessResult) -> tuple[bool, int]:
    """Whether the check passed, and the boards it counted."""
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == BODIES_READABLE]
    return check.passed, check.metadata["boards_with_unreadable_body"].value


def test_no_secret_in_the_event_log_or_the_data_folder(sandbox, pipeline, data_dir):
    instance, resources = pipeline
    period = sandbox.current_period("us")
    instance.add_dynamic_partitions("period", [str(period)])
    load_partition(instance, resources, period, "us")

    events = [
        repr(record) for run in instance.get_runs() for record in instance.all_logs(run.run_id)
    ]
    assert len(events) > 10
    secret = sandbox.client_secret
    assert not any(secret in event or "Bearer" in event for event in events)
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            if path.suffix == ".gz":
                content = gzip.decompress(content)
            assert secret.encode() not in content, path
