"""The real boards of the fixtures, served by the sandbox's replay mode, through the whole pipeline."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from metawatch_dagster.assets.leaderboards import leaderboard_pages, leaderboard_tables
from metawatch_dagster.assets.reference import ref_tables, reference_files
from metawatch_dagster.partitions import partition_key
from metawatch_dagster.resources import MetawatchResource
from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .replay_fixtures import build_replay


@pytest.mark.parametrize(
    ("board_file", "region", "runs", "members", "rated"),
    [
        ("mythic-leaderboard_cr1305_d199_p946.eu.trimmed.json", "eu", 3, 15, True),
        ("mythic-leaderboard_cr3694_d244_p663.us.full.json", "us", 500, 2500, False),
    ],
)
def test_real_board_through_replay(
    tmp_path, data_dir, fixtures_dir, point_at, board_file, region, runs, members, rated
):
    replay = build_replay(tmp_path / "replay", fixtures_dir, board_file, region)
    result = load_from_replay(
        tmp_path / "replay", data_dir, point_at, region, replay["period"], with_tables=True
    )
    assert result.success

    groups = replay["board"]["leading_groups"]
    with duckdb.connect(str(data_dir / "metawatch.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == runs
        assert con.execute("SELECT count(*) FROM run_members").fetchone()[0] == members
        assert con.execute("SELECT count(*) FROM rejected_entries").fetchone()[0] == 0
        ratings = [r for (r,) in con.execute("SELECT mythic_rating FROM runs").fetchall()]
        levels = sorted(r for (r,) in con.execute("SELECT keystone_level FROM runs").fetchall())
        board = con.execute("SELECT status, entries, is_full FROM boards").fetchall()
    assert levels == sorted(g["keystone_level"] for g in groups)
    if rated:
        assert sorted(ratings) == sorted(g["mythic_rating"]["rating"] for g in groups)
    else:
        assert ratings == [None] * runs
    assert board == [("200", len(groups), len(groups) == 500)]


def test_a_week_where_every_board_is_missing_fails_its_check(
    tmp_path, data_dir, fixtures_dir, point_at
):
    replay = build_replay(
        tmp_path / "replay",
        fixtures_dir,
        "mythic-leaderboard_cr1305_d199_p946.eu.trimmed.json",
        "eu",
    )
    board = (
        tmp_path
        / "replay"
        / "eu"
        / "data/wow/connected-realm/1305/mythic-leaderboard/199/period/946.json"
    )
    board.unlink()
    result = load_from_replay(tmp_path / "replay", data_dir, point_at, "eu", replay["period"])
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "all_boards_answered"
    assert not evaluation.passed
    assert evaluation.metadata["not_found"].value == 1


def load_from_replay(replay_dir, data_dir, point_at, region, period, with_tables=False):
    """Reference, then one partition's pages (and tables), from a sandbox replaying `replay_dir`."""
    config = SandboxConfig(regions=(region,), replay_dir=replay_dir)
    with Sandbox(config, port=0) as sandbox:
        point_at(sandbox, (region,))
        instance = dg.DagsterInstance.ephemeral()
        resources = {"metawatch": MetawatchResource(data_dir=str(data_dir))}
        reference = dg.materialize(
            [reference_files, ref_tables], instance=instance, resources=resources
        )
        assert reference.success
        instance.add_dynamic_partitions("period", [str(period)])
        assets = [leaderboard_pages, leaderboard_tables] if with_tables else [leaderboard_pages]
        return dg.materialize(
            assets,
            partition_key=partition_key(period, region),
            instance=instance,
            resources=resources,
        )
