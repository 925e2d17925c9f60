"""The weekly marts built by dbt through Dagster equal values computed in Python from the sandbox's truth."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb
import numpy as np
import pytest

from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.definitions import defs
from metawatch_dagster.jobs import PARTITION_JOB
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.sandbox import Sandbox, SandboxConfig
from metawatch_dagster.sandbox.catalog import DUNGEONS, SPECS
from metawatch_dagster.sandbox.truth import Truth

REGION = "eu"
TIMERS = {d.id: d.timer_ms for d in DUNGEONS}
ROLES = {s.id: s.role for s in SPECS}


class Loaded(NamedTuple):
    truth: Truth  # after the reload
    period: int
    db: Path
    first_runs: int  # runs the first load found
    reload_messages: list[str]  # the reload's event log


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """One partition loaded through Dagster, then reloaded later in the week as the hourly schedule
    does (its dbt step rebuilds fct_runs by difference); the tests only read its marts."""
    data_dir = tmp_path_factory.mktemp("data")
    config = SandboxConfig(seed=5, scale="small", regions=(REGION,))
    with pytest.MonkeyPatch.context() as env, Sandbox(config, port=0) as sandbox:
        for name, value in sandbox.env().items():
            env.setenv(name, value)
        env.setenv("METAWATCH_REGIONS", REGION)
        env.setenv("METAWATCH_DATA_DIR", str(data_dir))
        instance = dg.DagsterInstance.ephemeral()
        resources = {"metawatch": MetawatchResource(data_dir=str(data_dir))}
        assert dg.materialize(
            [reference_files, ref_tables], instance=instance, resources=resources
        ).success
        period = sandbox.current_period(REGION)
        instance.add_dynamic_partitions("period", [str(period)])
        job = defs.resolve_job_def(PARTITION_JOB)
        key = partition_key(period, REGION)
        assert job.execute_in_process(partition_key=key, instance=instance).success
        first_runs = len(sandbox.truth(REGION, period).runs)
        sandbox.clock.advance(timedelta(hours=6))
        reload = job.execute_in_process(partition_key=key, instance=instance)
        assert reload.success
        yield Loaded(
            sandbox.truth(REGION, period),
            period,
            data_dir / "metawatch.duckdb",
            first_runs,
            [entry.message for entry in instance.all_logs(reload.run_id)],
        )


def rows_by_key(db, sql, period):
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql, [period, REGION])
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_spec_weekly_equals_the_truth(loaded):
    truth, period, db = loaded.truth, loaded.period, loaded.db
    levels, timed, appearances = defaultdict(list), defaultdict(list), defaultdict(int)
    for run in truth.runs.values():
        for spec in {m.spec_id for m in run.members}:
            levels[spec].append(run.keystone_level)
            timed[spec].append(run.duration_ms <= TIMERS[run.dungeon_id])
        for member in run.members:
            appearances[member.spec_id] += 1
    role_total = defaultdict(int)
    for spec, count in appearances.items():
        role_total[ROLES[spec]] += count

    mart = rows_by_key(
        db,
        "SELECT spec_id, runs, appearances, role_share, median_level, max_level, timed_rate "
        "FROM marts.spec_weekly WHERE period = ? AND region = ?",
        period,
    )
    assert set(mart) == set(levels)
    for spec, row in mart.items():
        assert row["runs"] == len(levels[spec])
        assert row["appearances"] == appearances[spec]
        assert row["role_share"] == pytest.approx(
            appearances[spec] / role_total[ROLES[spec]], rel=1e-12
        )
        assert row["median_level"] == pytest.approx(np.percentile(levels[spec], 50), rel=1e-12)
        assert row["max_level"] == max(levels[spec])
        assert row["timed_rate"] == pytest.approx(np.mean(timed[spec]), rel=1e-12)


def test_dungeon_weekly_equals_the_truth(loaded):
    truth, period, db = loaded.truth, loaded.period, loaded.db
    runs_by_dungeon = defaultdict(list)
    for run in truth.runs.values():
        runs_by_dungeon[run.dungeon_id].append(run)

    mart = rows_by_key(
        db,
        "SELECT dungeon_id, runs, timed_rate, median_timer_share, max_level "
        "FROM marts.dungeon_weekly WHERE period = ? AND region = ?",
        period,
    )
    assert set(mart) == set(runs_by_dungeon)
    for dungeon, row in mart.items():
        runs = runs_by_dungeon[dungeon]
        timer = TIMERS[dungeon]
        assert row["runs"] == len(runs)
        assert row["timed_rate"] == pytest.approx(
            np.mean([r.duration_ms <= timer for r in runs]), rel=1e-12
        )
        assert row["median_timer_share"] == pytest.approx(
            np.percentile([r.duration_ms / timer for r in runs], 50), rel=1e-12
        )
        assert row["max_level"] == max(r.keystone_level for r in runs)


def test_the_reload_rebuilt_fct_runs_by_difference(loaded):
    new_runs = len(loaded.truth.runs) - loaded.first_runs
    assert new_runs > 0
    expected = (
        f"fct_runs: {new_runs} rows new or changed written, {loaded.first_runs} unchanged rows kept"
    )
    assert expected in loaded.reload_messages


def test_fct_runs_equals_the_truth(loaded):
    truth, period, db = loaded.truth, loaded.period, loaded.db
    expected = {
        key: (
            run.keystone_level,
            run.mythic_rating,
            "-".join(str(spec) for spec in sorted(m.spec_id for m in run.members)),
            run.duration_ms <= TIMERS[run.dungeon_id],
        )
        for key, run in truth.runs.items()
    }
    fct = rows_by_key(
        db,
        "SELECT run_id, keystone_level, mythic_rating, composition, is_timed "
        "FROM marts.fct_runs WHERE period = ? AND region = ?",
        period,
    )
    assert {key: tuple(row.values())[1:] for key, row in fct.items()} == expected
