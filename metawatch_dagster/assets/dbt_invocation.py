"""How a dbt invocation learns its warehouse and partitions, and starts without needless costs.

dbt re-parses the whole project (seconds) whenever its `--vars` or its profile's connection differ
from the last parse's. So the warehouse and the partitions travel in environment variables, which
the in_partitions macro reads only when running, and each warehouse keeps the parse state its last
invocation left (the profile's path is part of that state) for the next one to start from.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliEventMessage, DbtCliInvocation, DbtCliResource
from packaging import version

from metawatch_dagster.partitions import CheckOutcome, about_partition, parse_partition_key

DbtDagsterEvent = (
    dg.Output
    | dg.AssetMaterialization
    | dg.AssetObservation
    | dg.AssetCheckResult
    | dg.AssetCheckEvaluation
)

# Read by dbt_project/profiles.yml and the in_partitions macro.
WAREHOUSE_ENV = "METAWATCH_WAREHOUSE_PATH"
PARTITIONS_ENV = "METAWATCH_DBT_PARTITIONS"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Each invocation's own target folder, under the project's (which holds the manifest Dagster loads);
# a failed invocation's stays, marked, for its compiled SQL and logs: the newest few of them.
INVOCATIONS_FOLDER = Path("target") / "invocations"
FAILED_MARK = "FAILED"
KEPT_FAILED_INVOCATIONS = 10
# An unmarked folder unchanged this long was left by a process that died: run monitoring ends every
# run after two hours (dagster_home/dagster.yaml).
ABANDONED_AFTER_SECONDS = 24 * 3600
# A failed or warning test's compiled SQL, which selects the rows it failed on.
FAILING_ROWS_METADATA = "failing_rows_sql"

# DbtCliResource.cli() hands the dbt process a copy of os.environ: the variables are set around
# that call only, one invocation at a time within this process.
_ENVIRON_LOCK = threading.Lock()


# The dbt of this interpreter's environment: its version is the installed dbt-core's.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class MetawatchDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs it pays in every step that runs dbt (measured with
    dagster-dbt 0.29.27, pinned): `dbt --version` in a subprocess to learn dbt's version (3 s), and
    dbt's adapter loaded in-process (1.3 s), which only fetch_row_counts and fetch_column_metadata
    use; both open a second DuckDB connection, which this project never does.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == DBT_EXECUTABLE:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_vars(partition_keys: Iterable[str], warehouse_path: Path) -> dict[str, Any]:
    """The warehouse's absolute path and the partitions to rebuild, as dbt's macros read them.

    No partition keys means a full build (the models read every partition).
    """
    partitions = sorted({parse_partition_key(key) for key in partition_keys})
    return {
        "warehouse_path": str(Path(warehouse_path).resolve()),
        "partitions": [{"period": p.period, "region": p.region} for p in partitions],
    }


def dbt_env(partition_keys: Iterable[str], warehouse_path: Path) -> dict[str, str]:
    """The environment variables of a dbt invocation for these partitions of this warehouse."""
    variables = dbt_vars(partition_keys, warehouse_path)
    return {
        WAREHOUSE_ENV: variables["warehouse_path"],
        PARTITIONS_ENV: json.dumps(variables["partitions"]),
    }


def parse_state_path(warehouse_path: Path) -> Path:
    """Where the parse state of dbt invocations on this warehouse is kept: in the state folder beside
    it (data/state/ for data/metawatch.duckdb), so that it goes with the warehouse's folder instead of
    piling up in the project, about 0.8 MB for every warehouse a test or a bench made."""
    warehouse = Path(warehouse_path)
    return warehouse.parent / "state" / f"{warehouse.stem}.dbt-parse.msgpack"


@contextmanager
def dbt_invocation(
    dbt: DbtCliResource,
    args: Sequence[str],
    *,
    warehouse_path: Path,
    partition_keys: Iterable[str] = (),
    context: dg.AssetExecutionContext | None = None,
    target_path: Path | None = None,
) -> Iterator[DbtCliInvocation]:
    """Start `dbt <args>` on the warehouse for the partitions (none: every partition).

    Yields the running invocation (stream or wait on it inside the block); once the block ends
    without error, the invocation's parse state is kept for the warehouse's next invocation. Without
    a `target_path`, dbt writes to a folder of its own under the project's target/invocations/
    (2-4 MB), removed once the block ends without error: every partition run makes one. A failed
    invocation's folder stays, marked FAILED, for its compiled SQL and logs (see
    prune_invocation_folders).
    """
    project_dir = Path(dbt.project_dir)
    target = target_path or _unique_target_path(project_dir, context)
    kept = parse_state_path(warehouse_path)
    if kept.exists():
        # dagster-dbt seeds a target folder from the project's own parse only when it has none.
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept, target / PARTIAL_PARSE_FILE)
    with _environ(dbt_env(partition_keys, warehouse_path)):
        invocation = dbt.cli(args, context=context, target_path=target)
    try:
        yield invocation
    except BaseException:
        if target_path is None:
            invocation.target_path.mkdir(parents=True, exist_ok=True)
            (invocation.target_path / FAILED_MARK).touch()
        raise
    _keep_parse_state(invocation.target_path / PARTIAL_PARSE_FILE, kept)
    if target_path is None:
        shutil.rmtree(invocation.target_path, ignore_errors=True)


def asset_events(invocation: DbtCliInvocation) -> Iterator[DbtDagsterEvent]:
    """The invocation's Dagster events, as `invocation.stream()` gives them, its tests' outcomes
    naming the run's partition, and each message a model logs (`log(..., info=True)`, such as the
    rows a rebuild by difference wrote) in the run's event log: dagster-dbt writes dbt's log only to
    the step's stdout.

    A test that did not pass carries the SQL that lists its failing rows (`failing_rows_sql`): the
    path dbt's own message gives is in the invocation's target folder, gone once dbt succeeds."""
    context = invocation.context
    partition = context.partition_key if context is not None and context.has_partition_key else None
    for event in invocation.stream_raw_events():
        info = event.raw_event["info"]
        if info["name"] == "JinjaLogInfo" and context is not None:
            context.log.info(info["msg"])
        for dagster_event in event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        ):
            if isinstance(dagster_event, CheckOutcome):
                if partition:
                    dagster_event = about_partition(dagster_event, partition)
                if not dagster_event.passed:
                    dagster_event = _with_failing_rows_sql(dagster_event, invocation, event)
            yield dagster_event


def _with_failing_rows_sql(
    check: CheckOutcome, invocation: DbtCliInvocation, event: DbtCliEventMessage
) -> CheckOutcome:
    """The outcome with its test's compiled SQL; unchanged, with a warning, when that SQL cannot be
    read: it is there to help a person look, never to fail the step."""
    try:
        node = invocation.manifest["nodes"][event.raw_event["data"]["node_info"]["unique_id"]]
        sql = _compiled_sql_path(invocation.target_path, node).read_text().strip()
    except (KeyError, OSError, UnicodeDecodeError) as error:
        dg.get_dagster_logger().warning(
            f"{check.check_name}: no compiled SQL to attach ({error!r})"
        )
        return check
    return check.with_metadata(
        {**check.metadata, FAILING_ROWS_METADATA: dg.MetadataValue.md(f"```sql\n{sql}\n```")}
    )


def _compiled_sql_path(target_path: Path, node: Mapping[str, Any]) -> Path:
    """Where dbt wrote the node's compiled SQL (as dbt-core's get_target_write_path): at its file's
    path, or, for one of several nodes a file defines (a YAML file's tests), under that path."""
    source = Path(node["original_file_path"])
    if Path(node["path"]).name != source.name:
        source = source / node["path"]
    return target_path / "compiled" / node["package_name"] / source


def _unique_target_path(project_dir: Path, context: dg.AssetExecutionContext | None) -> Path:
    name = context.op_execution_context.op.name if context else "dbt"
    folder = project_dir / INVOCATIONS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    prune_invocation_folders(folder)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=folder))


def prune_invocation_folders(folder: Path) -> None:
    """Remove the folders of failed invocations but the newest KEPT_FAILED_INVOCATIONS (a test
    failing every hour, and its retry, would otherwise keep about 100 MB a day), and unmarked ones
    unchanged for ABANDONED_AFTER_SECONDS. A folder being written by a running invocation, in this
    process or another, has no mark and is recent."""
    failed, abandoned = [], []
    oldest_running = time.time() - ABANDONED_AFTER_SECONDS
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile by another process
            mark = path / FAILED_MARK
            if mark.is_file():
                failed.append((mark.stat().st_mtime, path))
            elif path.is_dir() and path.stat().st_mtime < oldest_running:
                abandoned.append(path)
    failed.sort(reverse=True)
    for path in [path for _, path in failed[KEPT_FAILED_INVOCATIONS:]] + abandoned:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    with _ENVIRON_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _keep_parse_state(produced: Path, kept: Path) -> None:
    """Replace the kept state atomically: concurrent invocations each read a whole file."""
    if not produced.exists():
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=kept.parent, suffix=".tmp")
    os.close(handle)
    shutil.copyfile(produced, scratch)
    os.replace(scratch, kept)
