"""dbt through Dagster on a synthetic warehouse: partitions build, marts equal values computed
independently in Python, other partitions stay untouched, a full refresh equals building partition
by partition; then docs, the serving copy and the exports.

One warehouse per module and few dbt invocations (each costs a few seconds of dbt start-up).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
from synthetic_warehouse import DUNGEONS, PERIODS, SPECS, Warehouse, generate, write

from metawatch_dagster.config import Settings
from metawatch_dagster.resources import MetawatchResource

pytestmark = pytest.mark.e2e

BUILT = ("1001|us", "1001|eu", "1002|us")  # 1002|eu and 1003|* are never built incrementally
WEEKLY_MARTS = ("fct_runs", "spec_weekly", "composition_weekly", "dungeon_weekly", "board_coverage")
TIMER = {dungeon_id: timer for dungeon_id, _, timer in DUNGEONS}
ROLE = {spec[0]: spec[4] for spec in SPECS}


def _materialize(assets, data_dir: Path, instance, partition_key: str | None = None):
    from metawatch_dagster.assets.dbt import dbt_resource

    return dg.materialize(
        [assets],
        partition_key=partition_key,
        instance=instance,
        resources={"dbt": dbt_resource(), "metawatch": MetawatchResource(data_dir=str(data_dir))},
        raise_on_error=True,
    )


def _mart(path: Path, mart: str, where: str = "true") -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{mart} WHERE {where} ORDER BY ALL").fetchall()


def _rebuild(copy: Path, partition_keys: list[str], target_path: Path) -> str:
    """`dbt run` of the weekly marts for the partitions; returns dbt's log."""
    from metawatch_dagster.assets.dbt import WEEKLY_SELECTION, dbt_resource
    from metawatch_dagster.assets.dbt_invocation import dbt_invocation

    with dbt_invocation(
        dbt_resource(),
        ["run", "--select", WEEKLY_SELECTION],
        warehouse_path=copy,
        partition_keys=partition_keys,
        target_path=target_path,
    ) as invocation:
        invocation.wait()
    return (target_path / "dbt.log").read_text()


def _full_refresh_equals(warehouse: Path, tmp_path: Path) -> Path:
    """A --full-refresh build of a copy of the warehouse gives the same weekly marts for the built
    partitions; returns the copy."""
    from metawatch_dagster.assets.dbt import WEEKLY_SELECTION, dbt_resource, dbt_vars

    refreshed = tmp_path / "refreshed" / "metawatch.duckdb"
    refreshed.parent.mkdir()
    shutil.copy(warehouse, refreshed)
    variables = json.dumps(dbt_vars([], refreshed))
    args = ["build", "--full-refresh", "--select", WEEKLY_SELECTION, "--vars", variables]
    dbt_resource().cli(args, target_path=tmp_path / "refresh").wait()
    keys = ", ".join(f"({period}, '{region}')" for period, region in map(_split, BUILT))
    built_rows = f"(period, region) IN ({keys})"
    for mart in WEEKLY_MARTS:
        assert _mart(refreshed, mart, built_rows) == _mart(warehouse, mart, built_rows), mart
    return refreshed


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """Creates the staging views, then builds three partitions one run at a time, snapshotting the
    marts before the third."""
    from metawatch_dagster.assets import dbt_invocation
    from metawatch_dagster.assets.dbt import dbt_staging, dbt_weekly

    data_dir = tmp_path_factory.mktemp("data")
    warehouse = generate()
    write(warehouse, data_dir / "metawatch.duckdb")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("period", [str(p) for p in PERIODS])
    # The target folders these runs make, told apart from those of tests running beside them.
    target_folders = []
    make_target_folder = dbt_invocation._unique_target_path

    def recorded_target_folder(*args) -> Path:
        target_folders.append(make_target_folder(*args))
        return target_folders[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_invocation, "_unique_target_path", recorded_target_folder)
        staging = _materialize(dbt_staging, data_dir, instance)
        results = {key: _materialize(dbt_weekly, data_dir, instance, key) for key in BUILT[:2]}
        before = {m: _mart(data_dir / "metawatch.duckdb", m) for m in WEEKLY_MARTS}
        results[BUILT[2]] = _materialize(dbt_weekly, data_dir, instance, BUILT[2])
    return {
        "target_folders": target_folders,
        "data_dir": data_dir,
        "path": data_dir / "metawatch.duckdb",
        "warehouse": warehouse,
        "instance": instance,
        "staging": staging,
        "results": results,
        "before": before,
    }


def test_each_partition_builds_exactly_its_rows(built) -> None:
    counts = dict(
        duckdb.connect(str(built["path"]), read_only=True)
        .execute("SELECT period || '|' || region, count(*) FROM marts.fct_runs GROUP BY ALL")
        .fetchall()
    )
    wh: Warehouse = built["warehouse"]
    assert counts == {key: len(wh.rows("runs", *_split(key))) for key in BUILT}


def test_each_mart_materialization_counts_its_partition_s_rows(built) -> None:
    for key, result in built["results"].items():
        period, region = _split(key)
        counted = {
            m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
            for m in (event.materialization for event in result.get_asset_materialization_events())
        }
        partition = f"period = {period} AND region = '{region}'"
        assert counted == {
            mart: len(_mart(built["path"], mart, partition)) for mart in WEEKLY_MARTS
        }, key
        assert all(counted.values())


def test_a_failed_dbt_test_fails_the_run_and_what_dbt_built_before_it_is_reported(
    built, tmp_path: Path
) -> None:
    from metawatch_dagster.assets.dbt import dbt_resource, dbt_weekly

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(built["path"], data_dir / "metawatch.duckdb")
    with duckdb.connect(str(data_dir / "metawatch.duckdb")) as con:
        con.execute(
            "DELETE FROM run_members WHERE rowid = (SELECT min(rowid) FROM run_members"
            " WHERE period = 1002 AND region = 'eu')"
        )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("period", [str(p) for p in PERIODS])

    result = dg.materialize(
        [dbt_weekly],
        partition_key="1002|eu",
        instance=instance,
        resources={"dbt": dbt_resource(), "metawatch": MetawatchResource(data_dir=str(data_dir))},
        raise_on_error=False,
    )

    assert not result.success
    [four] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "five_members_per_run"
    ]
    assert not four.passed and four.severity == dg.AssetCheckSeverity.ERROR
    assert four.metadata["dagster_dbt/failed_row_count"].value == 1
    assert four.metadata["partition"].value == "1002|eu"
    [failing] = _failing_rows(data_dir / "metawatch.duckdb", four)
    assert failing["member_count"] == 4 and failing["period"] == 1002 and failing["region"] == "eu"
    [fct_runs] = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("fct_runs")
    ]
    runs = len(built["warehouse"].rows("runs", 1002, "eu"))
    assert fct_runs.metadata["dagster/row_count"].value == runs


def test_a_new_partition_leaves_the_others_untouched(built) -> None:
    for mart, rows_before in built["before"].items():
        others = _mart(built["path"], mart, "NOT (period = 1002 AND region = 'us')")
        assert others == rows_before, mart
        assert _mart(built["path"], mart, "period = 1002 AND region = 'us'"), mart


def test_the_runs_leave_no_dbt_target_folder_behind(built) -> None:
    folders = built["target_folders"]
    assert len(folders) == 1 + len(BUILT)  # the staging views, then each partition
    assert [folder for folder in folders if folder.exists()] == []


def test_dbt_tests_report_as_asset_checks(built) -> None:
    staging = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in built["staging"].get_asset_check_evaluations()
    }
    assert staging[("stg_runs", "unique_stg_runs_run_id")].passed
    assert [k for k, e in staging.items() if not e.passed] == []
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in built["results"]["1002|us"].get_asset_check_evaluations()
    }
    assert evaluations[("fct_runs", "five_members_per_run")].passed
    # The synthetic data holds a few two-tank groups: a warning, not a failure.
    tanks = evaluations[("fct_runs", "one_tank_one_healer_per_group")]
    assert not tanks.passed and tanks.severity == dg.AssetCheckSeverity.WARN
    failed = [k for k, e in evaluations.items() if not e.passed and k[1] != tanks.check_name]
    assert failed == []
    assert [k for k, e in evaluations.items() if "failing_rows_sql" in e.metadata] == [
        ("fct_runs", tanks.check_name)
    ], "only a check that did not pass carries its failing rows' SQL"


def test_a_partition_s_dbt_checks_count_only_its_own_rows(built) -> None:
    """Each partition's check counts its own two-tank groups, not those of partitions built before,
    and names its partition."""
    counted = {}
    for key, result in built["results"].items():
        [tanks] = [
            e
            for e in result.get_asset_check_evaluations()
            if e.check_name == "one_tank_one_healer_per_group"
        ]
        assert tanks.metadata["partition"].value == key
        counted[key] = tanks.metadata["dagster_dbt/failed_row_count"].value
        listed = _failing_rows(built["path"], tanks)
        assert len(listed) == counted[key], key
        assert {(row["period"], row["region"]) for row in listed} == {_split(key)}, key
    assert counted == {key: _two_tank_groups(built["warehouse"], key) for key in BUILT}
    assert all(counted.values())


def _failing_rows(warehouse: Path, check: dg.AssetCheckEvaluation) -> list[dict]:
    """The rows a dbt check failed on, from the SQL its outcome carries, run on the warehouse."""
    sql = check.metadata["failing_rows_sql"].value.removeprefix("```sql\n").removesuffix("\n```")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _two_tank_groups(warehouse, key: str) -> int:
    period, region = _split(key)
    roles = defaultdict(list)
    for member in warehouse.rows("run_members", period, region):
        roles[member["run_id"]].append(ROLE[member["spec_id"]])
    return sum(r.count("TANK") != 1 or r.count("HEALER") != 1 for r in roles.values())


def test_spec_weekly_equals_python_truth(built) -> None:
    period, region = 1002, "us"
    expected = _spec_weekly_truth(built["warehouse"], period, region)
    with duckdb.connect(str(built["path"]), read_only=True) as con:
        rows = con.execute(
            """SELECT spec_id, runs, appearances, role_share, runs_below_10, runs_10_to_14,
                      runs_15_to_19, runs_20_plus, median_level, max_level, timed_rate
               FROM marts.spec_weekly WHERE period = ? AND region = ?""",
            [period, region],
        ).fetchall()
    actual = {row[0]: row[1:] for row in rows}
    assert actual.keys() == expected.keys()
    for spec_id, values in expected.items():
        assert actual[spec_id] == pytest.approx(values, rel=1e-12), spec_id


def test_dungeon_weekly_equals_python_truth(built) -> None:
    period, region = 1001, "eu"
    wh: Warehouse = built["warehouse"]
    runs_by_dungeon = defaultdict(list)
    for run in wh.rows("runs", period, region):
        runs_by_dungeon[run["dungeon_id"]].append(run)
    expected = {}
    for dungeon_id, runs in runs_by_dungeon.items():
        timed = [r for r in runs if r["duration_ms"] <= TIMER[dungeon_id]]
        expected[dungeon_id] = (
            len(runs),
            len(timed),
            len(timed) / len(runs),
            float(np.quantile([r["duration_ms"] / TIMER[dungeon_id] for r in runs], 0.5)),
            max(r["keystone_level"] for r in runs),
            max((r["keystone_level"] for r in timed), default=None),
        )
    with duckdb.connect(str(built["path"]), read_only=True) as con:
        rows = con.execute(
            """SELECT dungeon_id, runs, timed_runs, timed_rate, median_timer_share, max_level,
                      max_timed_level
               FROM marts.dungeon_weekly WHERE period = ? AND region = ?""",
            [period, region],
        ).fetchall()
    actual = {row[0]: row[1:] for row in rows}
    assert actual.keys() == expected.keys()
    for dungeon_id, values in expected.items():
        assert actual[dungeon_id] == pytest.approx(values, rel=1e-12), dungeon_id


def test_full_refresh_equals_building_partition_by_partition(built, tmp_path: Path) -> None:
    refreshed = _full_refresh_equals(built["path"], tmp_path)

    all_partitions = _mart(refreshed, "board_coverage")
    assert len(all_partitions) == len(PERIODS) * 2


def test_the_second_dbt_run_on_a_warehouse_reuses_the_first_parse(built, tmp_path: Path) -> None:
    copy = tmp_path / "metawatch.duckdb"
    shutil.copy(built["path"], copy)
    _rebuild(copy, ["1002|eu"], tmp_path / "target-0")
    log = _rebuild(copy, ["1003|us"], tmp_path / "target-1")

    assert "Partial parsing enabled" in log
    assert "Unable to do partial parsing" not in log
    counts = dict(
        duckdb.connect(str(copy), read_only=True)
        .execute("SELECT period || '|' || region, count(*) FROM marts.fct_runs GROUP BY ALL")
        .fetchall()
    )
    wh: Warehouse = built["warehouse"]
    assert counts == {
        key: len(wh.rows("runs", *_split(key))) for key in (*BUILT, "1002|eu", "1003|us")
    }


def test_a_mart_whose_columns_drifted_fails_until_a_full_refresh(built, tmp_path: Path) -> None:
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from metawatch_dagster.assets.dbt import dbt_resource
    from metawatch_dagster.assets.dbt_invocation import dbt_invocation

    copy = tmp_path / "metawatch.duckdb"
    shutil.copy(built["path"], copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("ALTER TABLE marts.dungeon_weekly DROP COLUMN max_timed_level")
    args = ["run", "--select", "dungeon_weekly"]
    with (
        pytest.raises(DagsterDbtCliRuntimeError),
        dbt_invocation(
            dbt_resource(),
            args,
            warehouse_path=copy,
            partition_keys=["1001|us"],
            target_path=tmp_path / "t",
        ) as invocation,
    ):
        invocation.wait()

    assert (
        "has other columns than its model: max_timed_level"
        in (tmp_path / "t" / "dbt.log").read_text()
    )
    assert _mart(copy, "dungeon_weekly") == [
        row[:-1] for row in _mart(built["path"], "dungeon_weekly")
    ]


def test_a_rebuild_writes_only_the_runs_that_changed(built, tmp_path: Path) -> None:
    copy = tmp_path / "metawatch.duckdb"
    shutil.copy(built["path"], copy)
    new_run = "f" * 32
    with duckdb.connect(str(copy)) as con:
        rerated, respecced, gone, template = (
            row[0]
            for row in con.execute(
                """SELECT run_id FROM runs
                   WHERE period = 1001 AND region = 'us' AND mythic_rating IS NOT NULL
                   ORDER BY run_id LIMIT 4"""
            ).fetchall()
        )
        con.execute("UPDATE runs SET mythic_rating = mythic_rating + 7 WHERE run_id = ?", [rerated])
        con.execute(
            """UPDATE run_members SET spec_id = 105 WHERE run_id = $run AND character_id = (
                   SELECT min(character_id) FROM run_members WHERE run_id = $run)""",
            {"run": respecced},
        )
        for table in ("runs", "run_members", "run_boards"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [gone])
            con.execute(
                f"INSERT INTO {table} SELECT * REPLACE (? AS run_id) FROM {table} WHERE run_id = ?",
                [new_run, template],
            )

    log = _rebuild(copy, ["1001|us"], tmp_path / "t")

    assert "fct_runs: 3 rows new or changed written, 77 unchanged rows kept" in log
    with duckdb.connect(str(copy), read_only=True) as con:
        fct = dict(
            con.execute(
                "SELECT run_id, composition FROM marts.fct_runs WHERE run_id IN (?, ?, ?)",
                [respecced, gone, new_run],
            ).fetchall()
        )
    assert fct.keys() == {respecced, new_run}
    assert "105" in fct[respecced].split("-")
    _full_refresh_equals(copy, tmp_path)


def test_changed_reference_rows_rebuild_the_partition_whole(built, tmp_path: Path) -> None:
    copy = tmp_path / "metawatch.duckdb"
    shutil.copy(built["path"], copy)
    dungeon_id = DUNGEONS[0][0]
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "UPDATE ref_dungeons SET timer_ms = timer_ms // 2 WHERE dungeon_id = ?", [dungeon_id]
        )
        con.execute("UPDATE ref_specs SET role = 'DAMAGE' WHERE spec_id = 250")

    log = _rebuild(copy, list(BUILT), tmp_path / "t")

    assert "rows new or changed written" not in log
    partition = "period = 1001 AND region = 'us'"
    assert _mart(copy, "fct_runs", partition) != _mart(built["path"], "fct_runs", partition)
    _full_refresh_equals(copy, tmp_path)


def test_spec_tiers_lower_bound_clusters_by_character(built) -> None:
    from metawatch_dagster.assets.dbt import dbt_season

    _materialize(dbt_season, built["data_dir"], built["instance"])
    expected = _spec_tiers_truth(built["warehouse"])
    with duckdb.connect(str(built["path"]), read_only=True) as con:
        rows = con.execute(
            """SELECT scope, spec_id, runs, characters, level_median, mean_level, lower_bound
               FROM marts.spec_tiers WHERE scope = 'all'"""
        ).fetchall()
    actual = {row[1]: row[2:] for row in rows}
    assert actual.keys() == expected.keys()
    for spec_id, values in expected.items():
        assert actual[spec_id] == pytest.approx(values, rel=1e-9), spec_id


def test_docs_catalog_lists_every_mart(built) -> None:
    from metawatch_dagster.assets.dbt import MARTS, build_docs

    docs = build_docs(Settings(data_dir=built["data_dir"]))

    catalog = json.loads((docs / "catalog.json").read_text())
    assert {f"model.metawatch.{mart}" for mart in MARTS} <= catalog["nodes"].keys()
    assert (docs / "static_index.html").stat().st_size > 0


def test_exports_write_each_mart_as_parquet_and_a_summary(built) -> None:
    from metawatch_dagster.assets.dbt import MARTS
    from metawatch_dagster.assets.exports import export_marts, exports_dir

    folder = exports_dir(built["data_dir"])
    report = export_marts(built["path"], folder)

    for mart in MARTS:
        parquet = duckdb.sql(f"SELECT count(*) FROM '{folder / (mart + '.parquet')}'").fetchone()
        assert parquet[0] == report.rows[mart] == len(_mart(built["path"], mart)), mart
    summary = json.loads((folder / "summary.json").read_text())
    assert [(w["period"], w["region"]) for w in summary["weeks"]] == [
        (1001, "eu"),
        (1001, "us"),
        (1002, "us"),
    ]
    assert {(t["region"], t["period"]) for t in summary["latest_top_specs"]} == {
        ("eu", 1001),
        ("us", 1002),
    }
    assert len(summary["latest_top_specs"]) == 2 * 3 * 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{m}.parquet" for m in MARTS] + ["summary.json"]
    )


def test_serving_copy_opens_read_only_while_a_writer_holds_the_warehouse(built) -> None:
    from metawatch_dagster.assets.exports import serving_path, write_serving_copy

    serving = write_serving_copy(built["path"], serving_path(built["data_dir"]))
    writer = subprocess.Popen(
        [sys.executable, "-c", _HOLD_OPEN, str(built["path"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(built["path"]), read_only=True)
        with duckdb.connect(str(serving), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.fct_runs").fetchone()[0] == 240
            assert con.execute("SELECT count(*) FROM staging.stg_runs").fetchone()[0] == 480
    finally:
        writer.communicate("done\n", timeout=30)
    assert sorted(p.name for p in serving.parent.iterdir()) == ["metawatch.duckdb"]


_HOLD_OPEN = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS writer_was_here (x INTEGER)")
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def _split(key: str) -> tuple[int, str]:
    period, region = key.split("|")
    return int(period), region


def _spec_weekly_truth(wh: Warehouse, period: int, region: str) -> dict[int, tuple]:
    runs = {r["run_id"]: r for r in wh.rows("runs", period, region)}
    players = defaultdict(lambda: defaultdict(int))  # spec -> run -> players of the spec
    for member in wh.rows("run_members", period, region):
        players[member["spec_id"]][member["run_id"]] += 1
    role_appearances = defaultdict(int)
    for spec_id, by_run in players.items():
        role_appearances[ROLE[spec_id]] += sum(by_run.values())
    truth = {}
    for spec_id, by_run in players.items():
        levels = [runs[r]["keystone_level"] for r in by_run]
        timed = [runs[r]["duration_ms"] <= TIMER[runs[r]["dungeon_id"]] for r in by_run]
        appearances = sum(by_run.values())
        truth[spec_id] = (
            len(by_run),
            appearances,
            appearances / role_appearances[ROLE[spec_id]],
            sum(level < 10 for level in levels),
            sum(10 <= level <= 14 for level in levels),
            sum(15 <= level <= 19 for level in levels),
            sum(level >= 20 for level in levels),
            float(np.quantile(levels, 0.5)),  # numpy "linear" == DuckDB quantile_cont
            max(levels),
            sum(timed) / len(timed),
        )
    return truth


def _spec_tiers_truth(wh: Warehouse) -> dict[int, tuple]:
    """Scope "all" over the built partitions: mean level minus 1.645 cluster-robust (CR1) standard
    errors, one cluster per character."""
    built = {_split(key) for key in BUILT}
    levels = {r["run_id"]: r["keystone_level"] for r in wh.tables["runs"]}
    observations = defaultdict(list)  # spec -> [(character, run, level)]
    for m in wh.tables["run_members"]:
        if (m["period"], m["region"]) in built:
            character = (m["region"], m["realm_id"], m["character_id"])
            observations[m["spec_id"]].append((character, m["run_id"], levels[m["run_id"]]))
    truth = {}
    for spec_id, obs in observations.items():
        values = np.array([level for _, _, level in obs], dtype=float)
        mean = values.mean()
        by_character = defaultdict(float)
        for character, _, level in obs:
            by_character[character] += level - mean
        clusters = len(by_character)
        variance = sum(s * s for s in by_character.values()) / len(values) ** 2
        variance *= clusters / (clusters - 1)
        truth[spec_id] = (
            len({run for _, run, _ in obs}),
            clusters,
            float(np.quantile(values, 0.5)),
            mean,
            mean - 1.645 * variance**0.5,
        )
    return truth


def test_built_staging_views_carry_their_models_checksums(built) -> None:
    from metawatch_dagster.assets.dbt import staging_views_to_build

    assert staging_views_to_build(built["path"]) == []
