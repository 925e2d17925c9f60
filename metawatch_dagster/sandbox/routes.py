"""API paths to bodies: the synthetic world's answers (cached as bytes) or recorded files (replay)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from metawatch_dagster.sandbox import catalog
from metawatch_dagster.sandbox.bodies import Renderer
from metawatch_dagster.sandbox.replay import ReplayStore
from metawatch_dagster.sandbox.world import World

BoardKey = tuple[str, int, int, int, int]  # region, period, dungeon, connected realm, version


@dataclass(frozen=True)
class Answer:
    body: bytes
    last_modified: datetime
    board: BoardKey | None = None  # set for leaderboards, so truth can record what was served


_STATIC_PATH = re.compile(r"^/data/wow/playable-specialization/")
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in (
        ("connected_realm_index", r"^/data/wow/connected-realm/index$"),
        ("connected_realm", r"^/data/wow/connected-realm/(\d+)$"),
        ("leaderboard_index", r"^/data/wow/connected-realm/(\d+)/mythic-leaderboard/index$"),
        ("leaderboard", r"^/data/wow/connected-realm/(\d+)/mythic-leaderboard/(\d+)/period/(\d+)$"),
        ("period_index", r"^/data/wow/mythic-keystone/period/index$"),
        ("period", r"^/data/wow/mythic-keystone/period/(\d+)$"),
        ("season_index", r"^/data/wow/mythic-keystone/season/index$"),
        ("season", r"^/data/wow/mythic-keystone/season/(\d+)$"),
        ("dungeon_index", r"^/data/wow/mythic-keystone/dungeon/index$"),
        ("dungeon", r"^/data/wow/mythic-keystone/dungeon/(\d+)$"),
        ("spec_index", r"^/data/wow/playable-specialization/index$"),
        ("spec", r"^/data/wow/playable-specialization/(\d+)$"),
    )
]


def namespace_fits(region: str, api_path: str, namespace: str | None) -> bool:
    """dynamic-{region} for game data, static-{region} (optionally versioned) for specializations."""
    if not namespace:
        return False
    if _STATIC_PATH.match(api_path):
        return re.fullmatch(rf"static(-[0-9][0-9._]*)?-{region}", namespace) is not None
    return namespace == f"dynamic-{region}"


class BodyCache:
    """Rendered bodies by key, least recently used dropped beyond a byte budget."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
                return body
        body = render()  # outside the lock: other requests keep being served meanwhile
        with self._lock:
            if key not in self._bodies:
                self._bodies[key] = body
                self._size += len(body)
            while self._size > self.max_bytes and len(self._bodies) > 1:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)
        return body


class WorldRoutes:
    def __init__(self, world: World):
        self.world = world
        self.cache = BodyCache()
        self._renderers = {region: Renderer(region) for region in world.regions}

    def answer(self, region: str, api_path: str, now: datetime) -> Answer | None:
        if region not in self.world.regions:
            return None
        for name, pattern in _ROUTES:
            match = pattern.match(api_path)
            if match:
                args = [int(g) for g in match.groups()]
                return getattr(self, f"_{name}")(region, now, *args)
        return None

    def _season_start(self, region: str) -> datetime:
        return catalog.period_start(region, catalog.SEASON_FIRST_PERIOD)

    def _connected_realm_index(self, region: str, now: datetime) -> Answer:
        realms = self.world.connected_realms(region)
        body = self.cache.get(
            ("cr_index", region), lambda: self._renderers[region].connected_realm_index(realms)
        )
        return Answer(body, self._season_start(region))

    def _connected_realm(self, region: str, now: datetime, cr_id: int) -> Answer | None:
        cr = self.world.connected_realm(region, cr_id)
        if cr is None:
            return None
        body = self.cache.get(
            ("cr", region, cr_id), lambda: self._renderers[region].connected_realm(cr)
        )
        return Answer(body, self._season_start(region))

    def _leaderboard_index(self, region: str, now: datetime, cr_id: int) -> Answer | None:
        current = self.world.current_period(region, now)
        if current is None or self.world.connected_realm(region, cr_id) is None:
            return None
        dungeons = self.world.season_dungeons
        body = self.cache.get(
            ("lb_index", region, cr_id, current),
            lambda: self._renderers[region].leaderboard_index(cr_id, dungeons, current),
        )
        return Answer(body, catalog.period_start(region, current))

    def _leaderboard(
        self, region: str, now: datetime, cr_id: int, dungeon_id: int, period: int
    ) -> Answer | None:
        view = self.world.board(region, period, dungeon_id, cr_id, now)
        if view is None:
            return None
        dungeon = self.world.dungeon(dungeon_id)
        key = (region, period, dungeon_id, cr_id, view.version)
        body = self.cache.get(
            ("lb", *key),
            lambda: self._renderers[region].leaderboard(
                cr_id, dungeon, period, view.week, view.rows
            ),
        )
        last_modified = datetime.fromtimestamp(view.last_modified_ms / 1000, UTC)
        return Answer(body, last_modified, board=key)

    def _period_index(self, region: str, now: datetime) -> Answer | None:
        periods = self.world.started_periods(region, now)
        if not periods:
            return None
        body = self.cache.get(
            ("period_index", region, periods[-1]),
            lambda: self._renderers[region].period_index(periods),
        )
        return Answer(body, catalog.period_start(region, periods[-1]))

    def _period(self, region: str, now: datetime, period: int) -> Answer | None:
        if period not in self.world.started_periods(region, now):
            return None
        body = self.cache.get(
            ("period", region, period), lambda: self._renderers[region].period(period)
        )
        return Answer(body, catalog.period_start(region, period))

    def _season_index(self, region: str, now: datetime) -> Answer | None:
        if not self.world.started_periods(region, now):
            return None
        season = self.world.season_id
        body = self.cache.get(
            ("season_index", region), lambda: self._renderers[region].season_index(season)
        )
        return Answer(body, self._season_start(region))

    def _season(self, region: str, now: datetime, season_id: int) -> Answer | None:
        periods = self.world.started_periods(region, now)
        if season_id != self.world.season_id or not periods:
            return None
        body = self.cache.get(
            ("season", region, season_id, periods[-1]),
            lambda: self._renderers[region].season(season_id, periods),
        )
        return Answer(body, catalog.period_start(region, periods[-1]))

    def _dungeon_index(self, region: str, now: datetime) -> Answer:
        dungeons = self.world.dungeons
        body = self.cache.get(
            ("dungeon_index", region), lambda: self._renderers[region].dungeon_index(dungeons)
        )
        return Answer(body, self._season_start(region))

    def _dungeon(self, region: str, now: datetime, dungeon_id: int) -> Answer | None:
        dungeon = self.world.dungeon(dungeon_id)
        if dungeon is None:
            return None
        body = self.cache.get(
            ("dungeon", region, dungeon_id), lambda: self._renderers[region].dungeon(dungeon)
        )
        return Answer(body, self._season_start(region))

    def _spec_index(self, region: str, now: datetime) -> Answer:
        specs = self.world.specs
        body = self.cache.get(
            ("spec_index", region), lambda: self._renderers[region].spec_index(specs)
        )
        return Answer(body, self._season_start(region))

    def _spec(self, region: str, now: datetime, spec_id: int) -> Answer | None:
        spec = self.world.spec(spec_id)
        if spec is None:
            return None
        body = self.cache.get(("spec", region, spec_id), lambda: self._renderers[region].spec(spec))
        return Answer(body, self._season_start(region))


class ReplayRoutes:
    def __init__(self, store: ReplayStore):
        self.store = store

    def answer(self, region: str, api_path: str, now: datetime) -> Answer | None:
        path = self.store.find(region, api_path)
        if path is None:
            return None
        modified = datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
        return Answer(path.read_bytes(), modified)
