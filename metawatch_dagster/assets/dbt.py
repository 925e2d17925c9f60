"""dbt models as Dagster assets: staging views whole, weekly marts per (period, region), season
marts whole.

Lineage runs from the contract tables (asset keys `runs`, `run_members`, ..., `ref_specs`) through
`stg_*` views to the marts; dbt tests are asset checks. Every dbt step holds the `duckdb` pool.
The staging views read every partition, so they are built once (by the first partition run that finds
them missing or changed, and at publish time with their tests over all partitions), not on every
partition's run.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of ops as an object.
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from metawatch_dagster.assets.dbt_invocation import (
    DBT_EXECUTABLE,
    DbtDagsterEvent,
    MetawatchDbtCliResource,
    asset_events,
    dbt_invocation,
)

# dbt_env and dbt_vars are re-exported: the bench and the tests import them from here.
from metawatch_dagster.assets.dbt_invocation import dbt_env as dbt_env
from metawatch_dagster.assets.dbt_invocation import dbt_vars as dbt_vars
from metawatch_dagster.assets.dbt_test_descriptions import describe_test
from metawatch_dagster.config import Settings
from metawatch_dagster.partitions import PeriodRegion, parse_partition_key, period_region_partitions
from metawatch_dagster.resources import MetawatchResource


def _put_interpreter_scripts_on_path() -> None:
    """dagster-dbt's project preparer runs `dbt parse` from PATH (the resource below names its dbt);
    a virtualenv used without activation (`.venv/bin/dagster`, `.venv/bin/pytest`) has it beside the
    interpreter but not on PATH."""
    scripts = Path(sys.executable).parent
    if shutil.which("dbt") is None and (scripts / "dbt").exists():
        os.environ["PATH"] = f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"


_put_interpreter_scripts_on_path()

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DUCKDB_POOL = "duckdb"
STAGING_GROUP = "staging"
MARTS_GROUP = "marts"
DOCS_GROUP = "docs"

STAGING_SELECTION = "tag:staging"
WEEKLY_SELECTION = "tag:weekly"
SEASON_SELECTION = "tag:season"
MARTS_SCHEMA = "marts"
# Counted for each weekly mart's materialization, as Dagster's UI shows it.
ROW_COUNT_METADATA = "dagster/row_count"
WEEKLY_MARTS = ("fct_runs", "spec_weekly", "composition_weekly", "dungeon_weekly", "board_coverage")
SEASON_MARTS = ("spec_tiers",)
MARTS = WEEKLY_MARTS + SEASON_MARTS
# The files of the static docs site that `dbt docs generate` writes to its target folder.
DOCS_FILES = ("index.html", "static_index.html", "manifest.json", "catalog.json")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    # A fresh checkout outside `dagster dev` (the CLI, a first import): parse once so assets load.
    dbt_project.preparer.prepare(dbt_project)


class MetawatchDbtTranslator(DagsterDbtTranslator):
    """Asset keys read like the warehouse: sources are the contract tables, models their names."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] != "model":
            return None
        return STAGING_GROUP if "staging" in dbt_resource_props["fqn"] else MARTS_GROUP

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """A mart also depends on the tables its staging views read: the views are built outside
        the partition jobs, and a job orders its steps by the deps among its own assets only."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model" or "staging" in props["fqn"]:
            return spec
        read_through_views = {
            self.get_asset_key(manifest["sources"][source])
            for parent in props["depends_on"]["nodes"]
            if "staging" in manifest["nodes"].get(parent, {}).get("fqn", [])
            for source in manifest["nodes"][parent]["depends_on"]["nodes"]
            if source.startswith("source.")
        }
        known = {dep.asset_key for dep in spec.deps}
        return spec.merge_attributes(deps=sorted(read_through_views - known))

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """A test's check says what it checks."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


translator = MetawatchDbtTranslator()


def dbt_resource() -> DbtCliResource:
    return MetawatchDbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(DBT_EXECUTABLE),
    )


def staging_views_to_build(warehouse_path: Path) -> list[str]:
    """The staging views the warehouse lacks or built from other SQL (each view's comment holds the
    checksum of the model it was built from): all of them when the warehouse is fresh."""
    expected = {
        node["name"]: node["checksum"]["checksum"]
        for node in json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
        if node["resource_type"] == "model" and "staging" in node["tags"]
    }
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        built = dict(
            con.execute(
                "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'staging'"
            ).fetchall()
        )
    return sorted(name for name, checksum in expected.items() if built.get(name) != checksum)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=STAGING_SELECTION,
    name="dbt_staging",
    dagster_dbt_translator=translator,
    project=dbt_project,
    pool=DUCKDB_POOL,
)
def dbt_staging(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, metawatch: MetawatchResource
):
    """The staging views over the contract and reference tables, with their tests over every partition."""
    # Cautious: a test that also reads a mart (fct_runs' relationship to stg_runs) is the mart's.
    args = ["build", "--indirect-selection", "cautious"]
    warehouse_path = metawatch.settings().warehouse_path
    with dbt_invocation(dbt, args, warehouse_path=warehouse_path, context=context) as invocation:
        yield from asset_events(invocation)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=WEEKLY_SELECTION,
    name="dbt_weekly",
    partitions_def=period_region_partitions,
    dagster_dbt_translator=translator,
    project=dbt_project,
    pool=DUCKDB_POOL,
)
def dbt_weekly(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, metawatch: MetawatchResource
):
    """The weekly marts, rebuilt for exactly the run's (period, region) partitions.

    Staging views missing or built from older SQL (a fresh warehouse, a new release) are built first.
    """
    warehouse_path = metawatch.settings().warehouse_path
    if stale := staging_views_to_build(warehouse_path):
        context.log.info(f"building the missing or changed staging views first: {', '.join(stale)}")
        staging = ["run", "--select", STAGING_SELECTION]
        with dbt_invocation(dbt, staging, warehouse_path=warehouse_path) as invocation:
            invocation.wait()
    partitions = [parse_partition_key(key) for key in context.partition_keys]
    events: list[DbtDagsterEvent] = []
    try:
        with dbt_invocation(
            dbt,
            ["build"],
            warehouse_path=warehouse_path,
            partition_keys=context.partition_keys,
            context=context,
        ) as invocation:
            for event in asset_events(invocation):
                events.append(event)
    except Exception:
        # What dbt built and tested before it failed (a failed test, say) is reported too.
        yield from with_row_counts(events, warehouse_path, partitions)
        raise
    yield from with_row_counts(events, warehouse_path, partitions)


def with_row_counts(
    events: list[DbtDagsterEvent], warehouse_path: Path, partitions: list[PeriodRegion]
) -> Iterator[DbtDagsterEvent]:
    """The events, each mart's output with the rows its partitions hold. Counted once dbt has
    exited: a second connection while dbt runs would meet its lock on the warehouse."""
    marts = [event.output_name for event in events if isinstance(event, dg.Output)]
    if not marts:
        yield from events
        return
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        rows = {
            mart: sum(
                con.execute(
                    f"SELECT count(*) FROM {MARTS_SCHEMA}.{mart}"
                    " WHERE period = $period AND region = $region",
                    {"period": partition.period, "region": partition.region},
                ).fetchone()[0]
                for partition in partitions
            )
            for mart in marts
        }
    for event in events:
        if isinstance(event, dg.Output):
            event = event.with_metadata(
                {**event.metadata, ROW_COUNT_METADATA: rows[event.output_name]}
            )
        yield event


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=SEASON_SELECTION,
    name="dbt_season",
    dagster_dbt_translator=translator,
    project=dbt_project,
    pool=DUCKDB_POOL,
)
def dbt_season(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, metawatch: MetawatchResource
):
    """Marts per season and across regions, rebuilt whole from every partition."""
    warehouse_path = metawatch.settings().warehouse_path
    with dbt_invocation(
        dbt, ["build"], warehouse_path=warehouse_path, context=context
    ) as invocation:
        yield from asset_events(invocation)


def build_docs(settings: Settings, dbt: DbtCliResource | None = None) -> Path:
    """Generate dbt's docs site (with the warehouse's catalog) into `$METAWATCH_DATA_DIR/docs`.

    Opens the warehouse: hold the `duckdb` pool (the asset does) or make sure nothing else has it
    open. Returns the docs folder; `static_index.html` is a single self-contained page.
    """
    dbt = dbt or dbt_resource()
    docs_dir = settings.data_dir / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".docs-") as target,
        dbt_invocation(
            dbt,
            ["docs", "generate", "--static"],
            warehouse_path=settings.warehouse_path,
            target_path=Path(target),
        ) as invocation,
    ):
        invocation.wait()
        for name in DOCS_FILES:
            shutil.copy2(Path(target) / name, docs_dir / name)
    return docs_dir


@dg.asset(
    deps=[dg.AssetKey(name) for name in MARTS],
    group_name=DOCS_GROUP,
    kinds={"dbt", "html"},
    pool=DUCKDB_POOL,
)
def dbt_docs(metawatch: MetawatchResource, dbt: DbtCliResource) -> dg.MaterializeResult:
    """dbt's static docs site (models, columns, tests, lineage, catalog) under data/docs/."""
    docs_dir = build_docs(metawatch.settings(), dbt)
    catalog = json.loads((docs_dir / "catalog.json").read_text())
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(docs_dir / "index.html")),
            "catalog_nodes": len(catalog.get("nodes", {})),
        }
    )
