"""A replay folder around one real leaderboard fixture, in the layout `metawatch-sandbox --replay` serves.

The real board is served byte for byte; the index and reference files around it are made here to the
real API's shapes (taken from the other fixtures), since no capture holds them for that week.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from metawatch_dagster.sandbox.catalog import SPECS

SEASON_FOR_PERIOD = {663: 1, 946: 11}


def _write(root: Path, region: str, api_path: str, value) -> None:
    path = root / region / f"{api_path}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    path.write_bytes(data)


def _href(region: str, path: str, namespace: str = "dynamic") -> dict:
    return {"href": f"https://{region}.api.blizzard.com/{path}?namespace={namespace}-{region}"}


def build_replay(root: Path, fixtures: Path, board_file: str, region: str) -> dict:
    """Writes the replay folder; returns the board's period, connected realm and dungeon."""
    raw = (fixtures / board_file).read_bytes()
    board = json.loads(raw)
    period = board["period"]
    dungeon = board["map_challenge_mode_id"]
    cr = int(re.search(r"connected-realm/(\d+)", board["connected_realm"]["href"]).group(1))
    season = SEASON_FOR_PERIOD[period]
    base = "data/wow"

    _write(
        root,
        region,
        f"{base}/connected-realm/{cr}/mythic-leaderboard/{dungeon}/period/{period}",
        raw,
    )
    _write(
        root,
        region,
        f"{base}/mythic-keystone/season/index",
        {
            "_links": {"self": _href(region, f"{base}/mythic-keystone/season/")},
            "seasons": [
                {"key": _href(region, f"{base}/mythic-keystone/season/{season}"), "id": season}
            ],
            "current_season": {
                "key": _href(region, f"{base}/mythic-keystone/season/{season}"),
                "id": season,
            },
        },
    )
    _write(
        root,
        region,
        f"{base}/mythic-keystone/season/{season}",
        {
            "_links": {"self": _href(region, f"{base}/mythic-keystone/season/{season}")},
            "id": season,
            "start_timestamp": board["period_start_timestamp"],
            "periods": [
                {"key": _href(region, f"{base}/mythic-keystone/period/{period}"), "id": period}
            ],
        },
    )
    _write(
        root,
        region,
        f"{base}/mythic-keystone/period/index",
        {
            "_links": {"self": _href(region, f"{base}/mythic-keystone/period/")},
            "periods": [
                {"key": _href(region, f"{base}/mythic-keystone/period/{period}"), "id": period}
            ],
            "current_period": {
                "key": _href(region, f"{base}/mythic-keystone/period/{period}"),
                "id": period,
            },
        },
    )
    _write(
        root,
        region,
        f"{base}/mythic-keystone/period/{period}",
        {
            "_links": {"self": _href(region, f"{base}/mythic-keystone/period/{period}")},
            "id": period,
            "start_timestamp": board["period_start_timestamp"],
            "end_timestamp": board["period_end_timestamp"],
        },
    )
    _write(
        root,
        region,
        f"{base}/connected-realm/index",
        {
            "_links": {"self": _href(region, f"{base}/connected-realm/")},
            "connected_realms": [_href(region, f"{base}/connected-realm/{cr}")],
        },
    )
    realm = json.loads((fixtures / "connected-realm_11.us.json").read_text())
    realm["id"] = cr
    realm["realms"] = [dict(realm["realms"][0], id=cr, name=f"Realm {cr}", slug=f"realm-{cr}")]
    _write(root, region, f"{base}/connected-realm/{cr}", realm)
    _write(
        root,
        region,
        f"{base}/connected-realm/{cr}/mythic-leaderboard/index",
        {
            "_links": {"self": _href(region, f"{base}/connected-realm/{cr}/mythic-leaderboard/")},
            "current_leaderboards": [
                {
                    "key": _href(
                        region,
                        f"{base}/connected-realm/{cr}/mythic-leaderboard/{dungeon}/period/{period}",
                    ),
                    "name": board["name"],
                    "id": dungeon,
                }
            ],
        },
    )
    timers = json.loads((fixtures / "mythic-keystone_dungeon_197.us.json").read_text())
    _write(
        root,
        region,
        f"{base}/mythic-keystone/dungeon/{dungeon}",
        dict(timers, id=dungeon, name=board["name"]),
    )

    specs_index = json.loads((fixtures / "playable-specialization-index.us.json").read_text())
    _write(root, region, f"{base}/playable-specialization/index", specs_index)
    template = json.loads((fixtures / "playable-specialization_262.us.json").read_text())
    for spec in SPECS:
        detail = dict(
            template,
            id=spec.id,
            name=spec.name,
            playable_class=dict(template["playable_class"], id=spec.class_id, name=spec.class_name),
            role={"type": spec.role, "name": spec.role.title()},
        )
        _write(root, region, f"{base}/playable-specialization/{spec.id}", detail)
    return {"period": period, "connected_realm_id": cr, "dungeon_id": dungeon, "board": board}
