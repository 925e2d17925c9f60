"""The deterministic world: regions' realms and characters, the season's periods, dungeons and boards.

Everything is derived from the seed and built lazily: a region's population on first use, a dungeon's
week of runs (and every board's history over it) when one of its boards is first asked for.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from metawatch_dagster.sandbox import catalog
from metawatch_dagster.sandbox.boards import BoardHistory, board_histories
from metawatch_dagster.sandbox.catalog import DUNGEONS, SEASON_DUNGEONS, SPECS, Dungeon, Spec
from metawatch_dagster.sandbox.meta import Meta, spec_meta
from metawatch_dagster.sandbox.population import ConnectedRealm, Population, build_population
from metawatch_dagster.sandbox.runs import SimRun, Week, draw_week

_HOLE_RATE = 0.03  # share of realm/dungeon/period boards that answer 404 whatever happens


@dataclass(frozen=True, eq=False)
class BoardView:
    """A board as shown at one moment: its version, when it last changed, and its runs in order."""

    version: int
    last_modified_ms: int
    week: Week
    rows: np.ndarray  # the week's rows shown, best first

    @property
    def entries(self) -> list[SimRun]:
        return self.week.sim_runs(self.rows)


class World:
    def __init__(
        self,
        seed: int,
        scale: str,
        regions: tuple[str, ...],
        board_limit: int,
        runs_per_board_week: int | None,
    ):
        self.seed = seed
        self.scale = scale
        self.regions = tuple(regions)
        self.board_limit = board_limit
        # enough for boards to overflow by mid-week; at real scale a lighter default keeps builds quick
        busy = 2.4 if scale == "small" else 1.5
        self.runs_per_board_week = runs_per_board_week or int(board_limit * busy)
        self.season_id = catalog.SEASON_ID
        self.specs: tuple[Spec, ...] = SPECS
        self.dungeons: tuple[Dungeon, ...] = DUNGEONS
        self.season_dungeons: tuple[Dungeon, ...] = SEASON_DUNGEONS
        self._lock = threading.Lock()
        self._populations: dict[str, Population] = {}
        self._weeks: dict[tuple[str, int, int], dict[int, BoardHistory]] = {}
        self._week_locks: dict[tuple[str, int, int], threading.Lock] = {}

    # --- realms ---------------------------------------------------------------------------------
    def population(self, region: str) -> Population:
        if region not in self.regions:
            raise KeyError(region)
        with self._lock:
            found = self._populations.get(region)
            if found is None:
                found = build_population(self.seed, region, self.scale)
                self._populations[region] = found
            return found

    def connected_realms(self, region: str) -> tuple[ConnectedRealm, ...]:
        return self.population(region).connected_realms

    def connected_realm(self, region: str, connected_realm_id: int) -> ConnectedRealm | None:
        return self.population(region).connected_realm(connected_realm_id)

    # --- calendar -------------------------------------------------------------------------------
    def current_period(self, region: str, now: datetime) -> int | None:
        """The running period, or None before the season's first reset in that region."""
        period = catalog.period_at(region, now)
        return period if period >= catalog.SEASON_FIRST_PERIOD else None

    def started_periods(self, region: str, now: datetime) -> list[int]:
        current = self.current_period(region, now)
        if current is None:
            return []
        return list(range(catalog.SEASON_FIRST_PERIOD, current + 1))

    def dungeon(self, dungeon_id: int) -> Dungeon | None:
        return next((d for d in self.dungeons if d.id == dungeon_id), None)

    def spec(self, spec_id: int) -> Spec | None:
        return next((s for s in self.specs if s.id == spec_id), None)

    def meta(self, period: int) -> Meta:
        """How strong and how popular each spec is that week (the same in every region)."""
        return spec_meta(self.seed, period)

    # --- boards ---------------------------------------------------------------------------------
    def is_hole(self, region: str, period: int, dungeon_id: int, connected_realm_id: int) -> bool:
        text = f"{self.seed}|{region}|{period}|{dungeon_id}|{connected_realm_id}|hole"
        draw = int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big") / 2**64
        return draw < _HOLE_RATE

    def board(
        self, region: str, period: int, dungeon_id: int, connected_realm_id: int, now: datetime
    ) -> BoardView | None:
        """The board as shown at ``now``, or None where the API answers 404."""
        dungeon = self.dungeon(dungeon_id)
        if dungeon is None or not dungeon.in_season:
            return None
        if period not in self.started_periods(region, now):
            return None
        if self.connected_realm(region, connected_realm_id) is None:
            return None
        if self.is_hole(region, period, dungeon_id, connected_realm_id):
            return None
        history = self._histories(region, period, dungeon).get(connected_realm_id)
        if history is None:
            return None
        at_ms = int(now.timestamp()) * 1000  # boards move in whole seconds, like Last-Modified
        version = history.version_at(at_ms)
        return self.board_version(region, period, dungeon_id, connected_realm_id, version)

    def board_version(
        self, region: str, period: int, dungeon_id: int, connected_realm_id: int, version: int
    ) -> BoardView | None:
        if version == 0:
            return None
        dungeon = self.dungeon(dungeon_id)
        assert dungeon is not None
        history = self._histories(region, period, dungeon)[connected_realm_id]
        return BoardView(
            version,
            history.last_modified_ms(version),
            history.week,
            history.shown(version, self.board_limit),
        )

    def _histories(self, region: str, period: int, dungeon: Dungeon) -> dict[int, BoardHistory]:
        key = (region, period, dungeon.id)
        with self._lock:
            found = self._weeks.get(key)
            if found is not None:
                return found
            week_lock = self._week_locks.setdefault(key, threading.Lock())
        with week_lock:  # one builder per dungeon-week; other dungeon-weeks build in parallel
            with self._lock:
                found = self._weeks.get(key)
            if found is not None:
                return found
            week = draw_week(
                self.seed,
                self.population(region),
                period,
                dungeon,
                self.runs_per_board_week,
                self.meta(period),
            )
            histories = board_histories(week, self.board_limit)
            with self._lock:
                self._weeks[key] = histories
            return histories
