"""The new-period sensor and the current-period schedule against a sandbox whose clock moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from metawatch_dagster.assets.leaderboards import leaderboard_pages, leaderboard_tables
from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.automation.current_period import current_period_hourly
from metawatch_dagster.automation.new_periods import new_periods
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.reference import ReferenceStore
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .warehouse_rows import read_partition, truth_rows

REGIONS = ("us", "eu")


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(seed=11, scale="small", regions=REGIONS), port=0) as sb:
        yield sb


@pytest.fixture
def instance(tmp_path):
    # A persistent instance (schedule contexts need one), not entered as a context manager: that
    # would leave Dagster's context-wide state pointing at it after the test.
    (tmp_path / "instance").mkdir()
    test_instance = dg.DagsterInstance.local_temp(str(tmp_path / "instance"))
    yield test_instance
    test_instance.dispose()


@pytest.fixture
def resources(sandbox, data_dir, point_at):
    point_at(sandbox, REGIONS)
    return {"metawatch": MetawatchResource(data_dir=str(data_dir))}


def evaluate(instance, resources, cursor=None):
    # Entered, so the instance the context opens is closed with it.
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = new_periods(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def loads(result: dg.SensorResult) -> list[tuple[str, str]]:
    assert {r.job_name for r in result.run_requests} == {"load_partition"}
    return sorted((r.partition_key, r.tags["metawatch/load"]) for r in result.run_requests)


def load_reference(instance, resources) -> None:
    assert dg.materialize(
        [reference_files, ref_tables], instance=instance, resources=resources
    ).success


def test_on_a_new_instance_the_sensor_loads_the_reference_before_any_period(
    sandbox, resources, instance
):
    first = evaluate(instance, resources)
    assert isinstance(first, dg.RunRequest)
    assert first.job_name == "refresh_reference"
    assert instance.get_dynamic_partitions("period") == []

    running = dg.DagsterRun(job_name="refresh_reference", status=dg.DagsterRunStatus.STARTED)
    instance.add_run(running)
    waiting = evaluate(instance, resources)
    assert isinstance(waiting, dg.SkipReason)
    assert f"waiting for run {running.run_id[:8]} to load the reference tables" in (
        waiting.skip_message
    )

    load_reference(instance, resources)
    current = sandbox.current_period("us")
    assert loads(evaluate(instance, resources)) == [
        (f"{current}|eu", "first"),
        (f"{current}|us", "first"),
    ]


def test_sensor_registers_only_the_region_that_reset(sandbox, resources, instance):
    load_reference(instance, resources)
    current = sandbox.current_period("us")
    assert sandbox.current_period("eu") == current

    first = evaluate(instance, resources)
    assert loads(first) == [(f"{current}|eu", "first"), (f"{current}|us", "first")]
    assert instance.get_dynamic_partitions("period") == [str(current)]
    assert isinstance(evaluate(instance, resources, first.cursor), dg.SkipReason)

    us_reset = next(start for p, start, _ in sandbox.periods("us") if p == current) + timedelta(
        weeks=1
    )
    sandbox.clock.set(us_reset + timedelta(minutes=5))
    assert sandbox.current_period("us") == current + 1
    assert sandbox.current_period("eu") == current, "the EU resets hours after the US"

    after_us_reset = evaluate(instance, resources, first.cursor)
    assert loads(after_us_reset) == [(f"{current}|us", "final"), (f"{current + 1}|us", "first")]
    assert instance.get_dynamic_partitions("period") == [str(current), str(current + 1)]
    assert isinstance(evaluate(instance, resources, after_us_reset.cursor), dg.SkipReason)


def load_a_week_just_started_in_the_us(sandbox, resources, instance) -> tuple[int, list[str]]:
    """Move the clock past the US reset and load the new week; its period and the run's log."""
    current = sandbox.current_period("us")
    started = next(start for p, start, _ in sandbox.periods("us") if p == current)
    sandbox.clock.set(started + timedelta(weeks=1, minutes=5))
    assert sandbox.current_period("us") == current + 1
    instance.add_dynamic_partitions("period", [str(current + 1)])
    result = dg.materialize(
        [leaderboard_pages, leaderboard_tables],
        partition_key=partition_key(current + 1, "us"),
        instance=instance,
        resources=resources,
    )
    assert result.success
    return current + 1, [event.message or "" for event in instance.all_logs(result.run_id)]


def us_periods_in_the_ref_tables(data_dir) -> tuple[int]:
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        return con.execute("SELECT max(period) FROM ref_periods WHERE region = 'us'").fetchone()


def test_the_load_of_a_week_just_started_brings_the_reference_tables_up_to_it(
    sandbox, resources, instance, data_dir
):
    load_reference(instance, resources)
    new_week, messages = load_a_week_just_started_in_the_us(sandbox, resources, instance)
    current = new_week - 1
    assert any(
        f"the ref_* tables did not list period {current + 1} of us: reloaded them" in message
        for message in messages
    ), messages
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        seasons = con.execute(
            "SELECT count(*) FROM ref_seasons WHERE region = 'us' AND $period BETWEEN first_period"
            " AND last_period",
            {"period": current + 1},
        ).fetchone()
    assert us_periods_in_the_ref_tables(data_dir) == (current + 1,)
    assert seasons == (1,), "the new week has its season"


def test_a_region_without_reference_files_leaves_the_tables_behind_but_the_load_stored(
    sandbox, resources, instance, data_dir
):
    load_reference(instance, resources)
    ReferenceStore(data_dir / "reference").periods_path("eu").unlink()
    new_week, messages = load_a_week_just_started_in_the_us(sandbox, resources, instance)
    assert any(
        message.startswith(
            f"the ref_* tables do not list period {new_week} of us and could not be reloaded:"
            " periods of eu not fetched yet ("
        )
        and message.endswith("; the next reference refresh loads them")
        for message in messages
    ), messages
    assert us_periods_in_the_ref_tables(data_dir) == (new_week - 1,)
    assert read_partition(data_dir / "metawatch.duckdb", "us", new_week) == truth_rows(
        sandbox.truth("us", new_week)
    )


def test_schedule_tick_loads_each_current_period_and_then_only_new_runs(
    sandbox, resources, instance, data_dir
):
    load_reference(instance, resources)
    current = sandbox.current_period("us")
    instance.add_dynamic_partitions("period", [str(current)])

    def tick():
        with dg.build_schedule_context(
            instance=instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
        ) as context:
            requests = current_period_hourly(context)
        assert sorted(r.partition_key for r in requests) == sorted(
            partition_key(current, region) for region in REGIONS
        )
        for request in requests:
            result = dg.materialize(
                [leaderboard_pages, leaderboard_tables],
                partition_key=request.partition_key,
                instance=instance,
                resources=resources,
            )
            assert result.success

    tick()
    before = read_partition(data_dir / "metawatch.duckdb", "us", current)
    sandbox.clock.advance(timedelta(hours=6))
    tick()
    after = read_partition(data_dir / "metawatch.duckdb", "us", current)

    new_runs = {r[0] for r in after["runs"]} - {r[0] for r in before["runs"]}
    served = truth_rows(sandbox.truth("us", current))
    assert new_runs, "six simulated hours should bring new runs"
    assert after == served
    assert {r[0] for r in before["runs"]} <= {r[0] for r in after["runs"]}


def test_schedule_skips_a_partition_whose_load_is_still_queued_or_running(
    sandbox, resources, instance
):
    current = sandbox.current_period("us")
    instance.add_dynamic_partitions("period", [str(current)])
    us, eu = partition_key(current, "us"), partition_key(current, "eu")

    def tick() -> list[str] | dg.SkipReason:
        with dg.build_schedule_context(
            instance=instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
        ) as context:
            result = current_period_hourly(context)
        return result if isinstance(result, dg.SkipReason) else [r.partition_key for r in result]

    def add_load(
        key: str, status: dg.DagsterRunStatus, job_name: str = "load_partition"
    ) -> dg.DagsterRun:
        run = dg.DagsterRun(job_name=job_name, status=status, tags={"dagster/partition": key})
        instance.add_run(run)
        return run

    add_load(us, dg.DagsterRunStatus.SUCCESS)
    add_load(eu, dg.DagsterRunStatus.FAILURE)
    assert sorted(tick()) == sorted([us, eu]), "finished loads do not hold the next one back"

    add_load(us, dg.DagsterRunStatus.NOT_STARTED)
    assert tick() == [eu]

    running = add_load(eu, dg.DagsterRunStatus.STARTED)
    skipped = tick()
    assert isinstance(skipped, dg.SkipReason)
    assert "already loading" in skipped.skip_message

    instance.report_run_failed(running)
    assert tick() == [eu]

    add_load(eu, dg.DagsterRunStatus.STARTED, job_name="__ASSET_JOB")  # a backfill from the UI
    assert isinstance(tick(), dg.SkipReason)
