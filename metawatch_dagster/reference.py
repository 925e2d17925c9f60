"""Reference data: periods, seasons, connected realms, season dungeons with timers, specializations.

Fetched with the API client and kept as small normalized JSON files under ``data/reference/``; the
leaderboard fetcher plans its boards from these files (it never opens DuckDB), and a separate step
loads them into the ``ref_*`` tables.

A season's dungeon set is only visible through a leaderboard index while the season is current, so it
is recorded then, with its source. An older season's set comes from that record or from a file a person
writes in the same place (source "configured"); it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from metawatch_dagster.files import atomic_write_json, read_json

_PERIOD_IN_HREF = re.compile(r"/period/(\d+)")
# Detail requests in flight at once: a region's ~150 requests one after another took ~9 s of latency.
REFERENCE_WORKERS = 16

_Detail = TypeVar("_Detail")


def fetch_each(fetch: Callable[[int], _Detail], ids: Iterable[int]) -> dict[int, _Detail]:
    """{id: fetch(id)} for every id, in the ids' order, fetched several at a time (the client is
    thread-safe); the first failure is raised."""
    ids = list(ids)
    with ThreadPoolExecutor(max_workers=REFERENCE_WORKERS, thread_name_prefix="reference") as pool:
        return dict(zip(ids, pool.map(fetch, ids), strict=True))


class ReferenceClient(Protocol):
    def connected_realm_ids(self, region: str) -> list[int]: ...
    def connected_realm(self, region: str, connected_realm_id: int) -> dict[str, Any]: ...
    def leaderboard_index(self, region: str, connected_realm_id: int) -> dict[str, Any]: ...
    def period_index(self, region: str) -> dict[str, Any]: ...
    def period(self, region: str, period_id: int) -> dict[str, Any]: ...
    def season_index(self, region: str) -> dict[str, Any]: ...
    def season(self, region: str, season_id: int) -> dict[str, Any]: ...
    def dungeon(self, region: str, dungeon_id: int) -> dict[str, Any]: ...
    def specialization_index(self, region: str) -> dict[str, Any]: ...
    def specialization(self, region: str, spec_id: int) -> dict[str, Any]: ...


class ReferenceMissing(LookupError):
    """Reference data the caller needs has not been fetched, recorded or configured."""


def ms_to_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


@dataclass(frozen=True)
class Dungeon:
    dungeon_id: int
    name: str
    timer_ms: int
    upgrade_2_ms: int | None
    upgrade_3_ms: int | None


@dataclass(frozen=True)
class BoardPlan:
    """Every board a (period, region) partition should have: connected realms × season dungeons."""

    region: str
    period: int
    season: int
    connected_realm_ids: tuple[int, ...]
    dungeons: tuple[Dungeon, ...]
    dungeons_source: str

    @property
    def boards(self) -> list[tuple[int, int]]:
        return [(cr, d.dungeon_id) for cr in self.connected_realm_ids for d in self.dungeons]


class ReferenceStore:
    """The reference files of one data directory."""

    def __init__(self, reference_dir: Path):
        self.root = reference_dir

    def _region_dir(self, region: str) -> Path:
        return self.root / region

    @property
    def specs_path(self) -> Path:
        return self.root / "specs.json"

    def periods_path(self, region: str) -> Path:
        return self._region_dir(region) / "periods.json"

    def seasons_path(self, region: str) -> Path:
        return self._region_dir(region) / "seasons.json"

    def connected_realms_path(self, region: str) -> Path:
        return self._region_dir(region) / "connected_realms.json"

    def season_dungeons_path(self, region: str, season: int) -> Path:
        return self._region_dir(region) / "season_dungeons" / f"{season}.json"

    def _read(self, path: Path, what: str) -> Any:
        if not path.exists():
            raise ReferenceMissing(f"{what} not fetched yet ({path}); materialize reference_files")
        return read_json(path)

    def periods(self, region: str) -> dict[str, Any]:
        return self._read(self.periods_path(region), f"periods of {region}")

    def seasons(self, region: str) -> dict[str, Any]:
        return self._read(self.seasons_path(region), f"seasons of {region}")

    def connected_realms(self, region: str) -> list[dict[str, Any]]:
        return self._read(self.connected_realms_path(region), f"connected realms of {region}")

    def specs(self) -> list[dict[str, Any]]:
        return self._read(self.specs_path, "specializations")

    def season_dungeons(self, region: str, season: int) -> dict[str, Any]:
        path = self.season_dungeons_path(region, season)
        if not path.exists():
            raise ReferenceMissing(
                f"the dungeons of season {season} in {region} were not recorded while it was current; "
                f"write them to {path} (source 'configured') to load its periods"
            )
        return read_json(path)

    def season_of_period(self, region: str, period: int) -> int:
        for season in self.seasons(region)["seasons"]:
            if period in season["periods"]:
                return season["season"]
        raise ReferenceMissing(f"period {period} belongs to no known season in {region}")

    def season_periods(self, region: str, season: int) -> list[int]:
        for entry in self.seasons(region)["seasons"]:
            if entry["season"] == season:
                return list(entry["periods"])
        raise ReferenceMissing(f"season {season} is not known in {region}")

    def board_plan(self, region: str, period: int) -> BoardPlan:
        season = self.season_of_period(region, period)
        recorded = self.season_dungeons(region, season)
        realms = tuple(sorted(cr["connected_realm_id"] for cr in self.connected_realms(region)))
        return BoardPlan(
            region=region,
            period=period,
            season=season,
            connected_realm_ids=realms,
            dungeons=tuple(Dungeon(**d) for d in recorded["dungeons"]),
            dungeons_source=recorded["source"],
        )


@dataclass
class ReferenceRefresh:
    """What a refresh fetched, for the asset's metadata."""

    regions: list[str]
    periods: int = 0
    seasons: int = 0
    connected_realms: int = 0
    dungeons: int = 0
    specs: int = 0


def _season(season_id: int, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "season": season_id,
        "start": ms_to_iso(detail.get("start_timestamp")),
        "end": ms_to_iso(detail.get("end_timestamp")),
        "periods": sorted(p["id"] for p in detail.get("periods", [])),
    }


def _period(period_id: int, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "period": period_id,
        "start": ms_to_iso(detail["start_timestamp"]),
        "end": ms_to_iso(detail["end_timestamp"]),
    }


class ReferenceFetcher:
    """Fetches reference data and writes the files; past periods and closed seasons are fetched once."""

    def __init__(self, client: ReferenceClient, store: ReferenceStore):
        self.client = client
        self.store = store

    def refresh(self, regions: list[str]) -> ReferenceRefresh:
        report = ReferenceRefresh(regions=list(regions))
        for region in regions:
            seasons = self._refresh_seasons(region)
            report.seasons += len(seasons["seasons"])
            report.periods += len(self._refresh_periods(region, seasons)["periods"])
            realms = self._refresh_connected_realms(region)
            report.connected_realms += len(realms)
            report.dungeons += len(self._record_current_dungeons(region, seasons, realms))
        report.specs = len(self._refresh_specs(regions[0]))
        return report

    def _refresh_seasons(self, region: str) -> dict[str, Any]:
        index = self.client.season_index(region)
        current = index["current_season"]["id"]
        known = {}
        if self.store.seasons_path(region).exists():
            known = {s["season"]: s for s in self.store.seasons(region)["seasons"]}
        listed = [entry["id"] for entry in index["seasons"]]
        closed = {s for s, k in known.items() if s != current and k["end"]}
        to_fetch = [s for s in listed if s not in closed]
        details = fetch_each(lambda s: self.client.season(region, s), to_fetch)
        seasons = [_season(s, details[s]) if s in details else known[s] for s in listed]
        value = {"current_season": current, "seasons": sorted(seasons, key=lambda s: s["season"])}
        atomic_write_json(self.store.seasons_path(region), value)
        return value

    def _refresh_periods(self, region: str, seasons: dict[str, Any]) -> dict[str, Any]:
        index = self.client.period_index(region)
        current = index["current_period"]["id"]
        in_seasons = {p for s in seasons["seasons"] for p in s["periods"]}
        wanted = sorted(
            p["id"] for p in index["periods"] if p["id"] in in_seasons or p["id"] == current
        )
        known = {}
        if self.store.periods_path(region).exists():
            known = {p["period"]: p for p in self.store.periods(region)["periods"]}
        to_fetch = [p for p in wanted if p not in known or p == current]
        details = fetch_each(lambda p: self.client.period(region, p), to_fetch)
        periods = [_period(p, details[p]) if p in details else known[p] for p in wanted]
        value = {"current_period": current, "periods": periods}
        atomic_write_json(self.store.periods_path(region), value)
        return value

    def _refresh_connected_realms(self, region: str) -> list[dict[str, Any]]:
        ids = sorted(self.client.connected_realm_ids(region))
        details = fetch_each(lambda cr_id: self.client.connected_realm(region, cr_id), ids)
        realms = [
            {
                "connected_realm_id": cr_id,
                "realms": [
                    {"realm_id": r["id"], "name": r.get("name"), "slug": r.get("slug")}
                    for r in detail.get("realms", [])
                ],
            }
            for cr_id, detail in details.items()
        ]
        atomic_write_json(self.store.connected_realms_path(region), realms)
        return realms

    def _record_current_dungeons(
        self, region: str, seasons: dict[str, Any], realms: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The current season's dungeons, from the leaderboard index of the first connected realm."""
        if not realms:
            return []
        cr_id = realms[0]["connected_realm_id"]
        index = self.client.leaderboard_index(region, cr_id)
        boards = index.get("current_leaderboards", [])
        details = fetch_each(lambda d: self.client.dungeon(region, d), [b["id"] for b in boards])
        dungeons = []
        for board in boards:
            detail = details[board["id"]]
            thresholds = {
                u["upgrade_level"]: u["qualifying_duration"]
                for u in detail.get("keystone_upgrades", [])
            }
            dungeons.append(
                {
                    "dungeon_id": board["id"],
                    "name": detail.get("name") or board.get("name"),
                    "timer_ms": thresholds[1],
                    "upgrade_2_ms": thresholds.get(2),
                    "upgrade_3_ms": thresholds.get(3),
                }
            )
        periods_in_hrefs = {
            int(m.group(1))
            for board in index.get("current_leaderboards", [])
            if (m := _PERIOD_IN_HREF.search(board["key"]["href"]))
        }
        season = seasons["current_season"]
        atomic_write_json(
            self.store.season_dungeons_path(region, season),
            {
                "season": season,
                "source": f"leaderboard index of connected realm {cr_id}, "
                f"period {','.join(map(str, sorted(periods_in_hrefs)))}",
                "dungeons": sorted(dungeons, key=lambda d: d["dungeon_id"]),
            },
        )
        return dungeons

    def _refresh_specs(self, region: str) -> list[dict[str, Any]]:
        index = self.client.specialization_index(region)
        ids = [entry["id"] for entry in index["character_specializations"]]
        specs = []
        details = fetch_each(lambda spec_id: self.client.specialization(region, spec_id), ids)
        for detail in details.values():
            specs.append(
                {
                    "spec_id": detail["id"],
                    "spec_name": detail["name"],
                    "class_id": detail["playable_class"]["id"],
                    "class_name": detail["playable_class"]["name"],
                    "role": detail["role"]["type"],
                }
            )
        specs.sort(key=lambda s: s["spec_id"])
        atomic_write_json(self.store.specs_path, specs)
        return specs
