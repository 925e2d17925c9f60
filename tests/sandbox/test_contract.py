"""For every real response in tests/fixtures/blizzard/, the sandbox's answer has the same shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .shapes import shape_differences

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "blizzard"


def _endpoints(sb) -> dict[str, tuple[str, str, str]]:
    """fixture file -> (region, path, namespace kind) of the same endpoint in the sandbox."""
    us_cr = sb.world.connected_realms("us")[0].id
    eu_cr = sb.world.connected_realms("eu")[0].id
    us_period, eu_period = sb.current_period("us"), sb.current_period("eu")
    board = "/data/wow/connected-realm/{}/mythic-leaderboard/503/period/{}"
    return {
        "connected-realm-index.us.json": ("us", "/data/wow/connected-realm/index", "dynamic"),
        "connected-realm_11.us.json": ("us", f"/data/wow/connected-realm/{us_cr}", "dynamic"),
        "mythic-leaderboard-index_cr11.us.json": (
            "us",
            f"/data/wow/connected-realm/{us_cr}/mythic-leaderboard/index",
            "dynamic",
        ),
        "mythic-leaderboard-index_cr11_p1024.us.json": (
            "us",
            f"/data/wow/connected-realm/{us_cr}/mythic-leaderboard/index",
            "dynamic",
        ),
        "mythic-leaderboard_cr3694_d244_p663.us.full.json": (
            "us",
            board.format(us_cr, us_period),
            "dynamic",
        ),
        "mythic-leaderboard_cr1305_d199_p946.eu.trimmed.json": (
            "eu",
            board.format(eu_cr, eu_period),
            "dynamic",
        ),
        "mythic-keystone_period-index.us.json": (
            "us",
            "/data/wow/mythic-keystone/period/index",
            "dynamic",
        ),
        "mythic-keystone_period-index.us.trimmed.json": (
            "us",
            "/data/wow/mythic-keystone/period/index",
            "dynamic",
        ),
        "mythic-keystone_period_641.us.json": (
            "us",
            f"/data/wow/mythic-keystone/period/{us_period}",
            "dynamic",
        ),
        "mythic-keystone_season-index.us.json": (
            "us",
            "/data/wow/mythic-keystone/season/index",
            "dynamic",
        ),
        "mythic-keystone_season_1.us.json": (
            "us",
            "/data/wow/mythic-keystone/season/15",
            "dynamic",
        ),
        "mythic-keystone_dungeon-index.us.json": (
            "us",
            "/data/wow/mythic-keystone/dungeon/index",
            "dynamic",
        ),
        "mythic-keystone_dungeon_197.us.json": (
            "us",
            "/data/wow/mythic-keystone/dungeon/503",
            "dynamic",
        ),
        "playable-specialization-index.us.json": (
            "us",
            "/data/wow/playable-specialization/index",
            "static",
        ),
        "playable-specialization_262.us.json": (
            "us",
            "/data/wow/playable-specialization/262",
            "static",
        ),
    }


# mythic_rating exists only from 2021 on (the full 2018 board lacks it); a running season has no end yet.
OPTIONAL = frozenset({"mythic_rating", "end_timestamp"})


def test_every_fixture_has_an_endpoint(sandbox):
    assert set(_endpoints(sandbox)) == {p.name for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_sandbox_answers_in_the_real_shape(sandbox, client, fixture):
    region, path, namespace = _endpoints(sandbox)[fixture]
    reply = client.get(region, path, namespace=namespace)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    real = json.loads((FIXTURES / fixture).read_text())
    ours = reply.json()
    assert shape_differences(real, ours, optional=OPTIONAL) == []


def test_the_running_season_has_no_end_but_boards_have_ratings(sandbox, client):
    season = client.get("us", "/data/wow/mythic-keystone/season/15").json()
    assert "end_timestamp" not in season
    cr = sandbox.world.connected_realms("us")[0].id
    board = client.board("us", cr, 503, sandbox.current_period("us")).json()
    assert all(isinstance(g["mythic_rating"]["rating"], float) for g in board["leading_groups"])


def test_units_are_milliseconds_and_ids(sandbox, client):
    period = sandbox.current_period("us")
    detail = client.get("us", f"/data/wow/mythic-keystone/period/{period}").json()
    assert detail["end_timestamp"] - detail["start_timestamp"] == 604_800_000 - 1000
    cr = sandbox.world.connected_realms("us")[0].id
    board = client.board("us", cr, 503, period).json()
    timer = next(d for d in sandbox.world.dungeons if d.id == 503).timer_ms
    assert board["map_challenge_mode_id"] == 503 and board["map"]["id"] != 503
    assert board["period_start_timestamp"] == detail["start_timestamp"]
    for group in board["leading_groups"]:
        assert detail["start_timestamp"] < group["completed_timestamp"] <= detail["end_timestamp"]
        assert group["completed_timestamp"] % 1000 == 0
        assert timer // 2 < group["duration"] < timer * 2
        for member in group["members"]:
            assert isinstance(member["profile"]["id"], int)
            assert isinstance(member["profile"]["realm"]["id"], int)
