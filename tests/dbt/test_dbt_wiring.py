"""How the dbt project shows up in Dagster: keys, lineage, partitions, pools, checks, docs."""

from __future__ import annotations

import dagster as dg

CONTRACT_KEYS = {"runs", "run_members", "run_boards", "boards", "rejected_entries"}
REF_KEYS = {
    "ref_periods",
    "ref_seasons",
    "ref_connected_realms",
    "ref_realms",
    "ref_dungeons",
    "ref_specs",
}


def _keys(keys) -> set[str]:
    return {key.to_user_string() for key in keys}


def test_sources_are_the_contract_tables_upstream_of_staging() -> None:
    from metawatch_dagster.assets.dbt import dbt_staging, dbt_weekly

    upstream = _keys(k for deps in dbt_staging.asset_deps.values() for k in deps)
    assert upstream - _keys(dbt_staging.keys) == CONTRACT_KEYS | REF_KEYS
    assert _keys(dbt_staging.asset_deps[dg.AssetKey("stg_runs")]) == {"runs"}
    assert "stg_runs" in _keys(dbt_weekly.asset_deps[dg.AssetKey("fct_runs")])
    # The views are not in the partition jobs: the marts name the tables the views read, so a job
    # runs the parse before the marts.
    assert {"runs", "run_members"} <= _keys(dbt_weekly.asset_deps[dg.AssetKey("fct_runs")])


def test_weekly_marts_are_partitioned_and_staging_and_season_marts_are_not() -> None:
    from metawatch_dagster.assets.dbt import WEEKLY_MARTS, dbt_season, dbt_staging, dbt_weekly
    from metawatch_dagster.partitions import period_region_partitions

    assert _keys(dbt_weekly.keys) == set(WEEKLY_MARTS)
    assert len([k for k in _keys(dbt_staging.keys) if k.startswith("stg_")]) == 11
    assert dbt_staging.partitions_def is None
    assert dbt_weekly.partitions_def == period_region_partitions
    assert _keys(dbt_season.keys) == {"spec_tiers"}
    assert dbt_season.partitions_def is None
    assert "fct_runs" in _keys(dbt_season.asset_deps[dg.AssetKey("spec_tiers")])


def test_every_dbt_step_holds_the_duckdb_pool() -> None:
    from metawatch_dagster.assets.dbt import dbt_docs, dbt_season, dbt_staging, dbt_weekly
    from metawatch_dagster.assets.exports import mart_exports, serving_warehouse

    for assets in (dbt_staging, dbt_weekly, dbt_season, dbt_docs, serving_warehouse, mart_exports):
        assert assets.op.pool == "duckdb", assets


def test_dbt_tests_are_asset_checks_on_their_models() -> None:
    from metawatch_dagster.assets.dbt import dbt_season, dbt_staging, dbt_weekly

    checks = {
        (c.asset_key.to_user_string(), c.name)
        for assets in (dbt_staging, dbt_weekly)
        for c in assets.check_specs
    }
    assert ("fct_runs", "five_members_per_run") in checks
    assert ("fct_runs", "one_tank_one_healer_per_group") in checks
    assert ("stg_runs", "unique_stg_runs_run_id") in checks
    assert ("stg_specs", "accepted_values_stg_specs_role__TANK__HEALER__DAMAGE") in checks
    checked = {asset for asset, _ in checks}
    assert checked >= {"fct_runs", "spec_weekly", "composition_weekly", "dungeon_weekly"}
    assert {c.asset_key.to_user_string() for c in dbt_season.check_specs} == {"spec_tiers"}


def test_every_check_says_what_it_checks() -> None:
    from metawatch_dagster.definitions import defs

    graph = defs.resolve_asset_graph()
    described = {key.name: graph.get(key).description for key in graph.asset_check_keys}
    assert [name for name, description in described.items() if not description] == []
    assert described["accepted_values_fct_runs_upgrade_level__False__0__1__2__3"] == (
        "upgrade_level is one of 0, 1, 2, 3."
    )


def test_models_and_columns_are_all_documented(dbt_manifest) -> None:
    import json

    manifest = json.loads(dbt_manifest.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) == 17
    undocumented = [m["name"] for m in models if not m["description"].strip()]
    undocumented += [
        f"{m['name']}.{c}"
        for m in models
        for c, col in m["columns"].items()
        if not col["description"].strip()
    ]
    assert undocumented == []


def test_staging_views_are_built_with_the_reference_and_at_publish_not_per_partition() -> None:
    from metawatch_dagster.definitions import defs
    from metawatch_dagster.jobs import PARTITION_JOB, PUBLISH_JOB, REFERENCE_JOB, REPARSE_JOB

    def selected(job_name: str) -> set[str]:
        return _keys(defs.resolve_job_def(job_name).asset_layer.selected_asset_keys)

    assert "stg_runs" in selected(PUBLISH_JOB)
    # A load's reference step stays quick: dbt_weekly creates missing views itself.
    assert "stg_runs" not in selected(REFERENCE_JOB)
    for job_name in (PARTITION_JOB, REPARSE_JOB):
        assert "fct_runs" in selected(job_name) and "stg_runs" not in selected(job_name), job_name


def test_staging_views_missing_or_built_from_other_sql_are_to_build(dbt_manifest, tmp_path) -> None:
    import json

    import duckdb

    from metawatch_dagster.assets.dbt import staging_views_to_build

    checksums = {
        node["name"]: node["checksum"]["checksum"]
        for node in json.loads(dbt_manifest.read_text())["nodes"].values()
        if node["resource_type"] == "model" and "staging" in node["tags"]
    }
    warehouse = tmp_path / "metawatch.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA staging")
        for view, comment in (("stg_runs", checksums["stg_runs"]), ("stg_specs", "older sql")):
            con.execute(f"CREATE VIEW staging.{view} AS SELECT 1 AS x")
            con.execute(f"COMMENT ON VIEW staging.{view} IS '{comment}'")

    assert staging_views_to_build(warehouse) == sorted(set(checksums) - {"stg_runs"})
