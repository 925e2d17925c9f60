"""A dungeon's week of runs in one region, drawn in bulk: groups, key levels, clear times, completions.

Tens of thousands of groups per dungeon-week at real scale, so the week lives in numpy arrays (one row per
run, in draw order); Python objects (``SimRun`` with its ``TruthRun``) are made only for runs that some
served board shows, when truth asks for them.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass

import numpy as np

from metawatch_dagster.sandbox.catalog import SPECS, Dungeon, period_start
from metawatch_dagster.sandbox.meta import Meta
from metawatch_dagster.sandbox.population import Character, Population, Roster
from metawatch_dagster.sandbox.truth import TruthMember, TruthRun

_WEEK_S = 7 * 24 * 3600
_GROUP = 5
# rows of role positions in meta.ROLES (tank, healer, damage): the usual group, then odd ones
_COMPS = np.array(
    [[0, 1, 2, 2, 2], [0, 1, 1, 2, 2], [0, 2, 2, 2, 2], [0, 0, 1, 2, 2]], dtype=np.int64
)
_ODD_COMP_SHARE = 0.04
_AWAY_SHARE = 0.25  # a member comes from a random connected realm instead of the group's home
_RUNS_PER_BOARD_RUN = 0.62  # a region's runs of a dungeon-week per realm per run a board can hold

# Key level: mean, the pull of the group's summed spec strength, and the rest of the spread.
_LEVEL_MEAN = 9.5
_LEVEL_PER_STRENGTH = 1.2
_LEVEL_NOISE = 1.9
_PUSH_SHARE, _PUSH_RATE = 0.04, 0.35  # a few groups push far beyond their usual level
_LEVEL_MIN, _LEVEL_MAX = 2, 24
# Clear time / timer is log-normal: centred a little under the timer, faster for stronger groups.
_TIME_LOG_MEAN = -0.055
_TIME_LOG_PER_STRENGTH = 0.025
_TIME_LOG_NOISE = 0.10

_CLASS_OF_SPEC = np.array([spec.class_id for spec in SPECS], dtype=np.int64)
_SPEC_IDS = [spec.id for spec in SPECS]
_SPEC_SLOTS = 64  # > len(SPECS): a (character, spec) pair as one int


@dataclass(slots=True)
class SimRun:
    run_id: str
    truth: TruthRun


@dataclass(frozen=True, eq=False)
class EntryColumns:
    """Some runs' fields as plain lists (what a leaderboard entry shows), for rendering in bulk."""

    duration: list[int]
    completed: list[int]
    level: list[int]
    rating: list[float]
    members: list[list[int]]  # member keys, see ``Week.member``


class Week:
    """A dungeon's week of runs in one region, one row per run in draw order."""

    def __init__(
        self,
        population: Population,
        period: int,
        dungeon_id: int,
        characters: np.ndarray,
        specs: np.ndarray,
        outcomes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ):
        self.population = population
        self.period = period
        self.dungeon_id = dungeon_id
        self.characters = characters  # (runs, 5) roster positions
        self.member_keys = characters * _SPEC_SLOTS + specs  # (runs, 5): character and spec
        self.level, self.duration, self.completed, self.rating = outcomes
        rows = np.arange(len(self.level))
        self.rank = np.empty_like(rows)  # place in the board order over all realms (0 = best)
        self.rank[np.lexsort((rows, self.completed, self.duration, -self.level))] = rows
        self.fragments: dict[int, bytes] = {}  # row -> rendered entry, kept by the renderer
        self._sim_runs: dict[int, SimRun] = {}
        self._members: dict[int, TruthMember] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.level)

    def member(self, key: int) -> tuple[Character, int]:
        """A member key's character and spec id."""
        return self.population.roster.characters[key // _SPEC_SLOTS], _SPEC_IDS[key % _SPEC_SLOTS]

    def columns(self, rows: list[int]) -> EntryColumns:
        picked = np.array(rows, dtype=np.int64)
        return EntryColumns(
            self.duration[picked].tolist(),
            self.completed[picked].tolist(),
            self.level[picked].tolist(),
            self.rating[picked].tolist(),
            self.member_keys[picked].tolist(),
        )

    def sim_runs(self, rows: np.ndarray) -> list[SimRun]:
        """The runs of ``rows`` as objects; each run has one object however many boards show it."""
        wanted = rows.tolist()
        with self._lock:
            made = self._sim_runs
            missing = [row for row in wanted if row not in made]
            if missing:
                self._make(missing)
            return [made[row] for row in wanted]

    def _make(self, rows: list[int]) -> None:
        region, period, dungeon_id = self.population.region, self.period, self.dungeon_id
        columns = self.columns(rows)
        members = self._members
        for key in set(itertools.chain.from_iterable(columns.members)).difference(members):
            character, spec_id = self.member(key)
            members[key] = TruthMember(
                character.realm_id, character.id, character.name, spec_id, character.faction
            )
        member = members.__getitem__
        rosters = self.population.roster.run_rosters(self.characters[np.array(rows)])
        # run_identity.run_id's text, built in bulk (tests check every served id against run_id)
        prefix = f"{region}|{period}|{dungeon_id}|"
        for row, keys, roster, level, duration, completed, rating in zip(
            rows,
            columns.members,
            rosters,
            columns.level,
            columns.duration,
            columns.completed,
            columns.rating,
            strict=True,
        ):
            text = f"{prefix}{completed}|{duration}|{level}|{roster}"
            truth = TruthRun(
                region,
                period,
                dungeon_id,
                level,
                duration,
                completed,
                rating,
                tuple(map(member, keys)),
            )
            self._sim_runs[row] = SimRun(hashlib.md5(text.encode()).hexdigest(), truth)


def draw_week(
    seed: int,
    population: Population,
    period: int,
    dungeon: Dungeon,
    runs_per_board_week: int,
    meta: Meta,
) -> Week:
    region = population.region
    rng = np.random.Generator(np.random.PCG64(_seed(f"{seed}|{region}|{period}|{dungeon.id}|runs")))
    weights = np.array([cr.weight for cr in population.connected_realms])
    count = int(runs_per_board_week * len(weights) * _RUNS_PER_BOARD_RUN)
    characters, specs, roles = _draw_groups(rng, population.roster, meta, weights, count)
    outcomes = _draw_outcomes(rng, meta, specs, roles, dungeon, region, period)
    return Week(population, period, dungeon.id, characters, specs, outcomes)


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.md5(text.encode()).digest(), "big")


def _draw_groups(
    rng: np.random.Generator, roster: Roster, meta: Meta, weights: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(runs, 5) characters, specs and roles: a home realm per group, members mostly from it."""
    cumulative = np.cumsum(weights)

    def realms(n: int) -> np.ndarray:
        picks = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        return np.minimum(picks, len(weights) - 1)

    home = realms(count)
    odd = rng.random(count) < _ODD_COMP_SHARE
    odd_kind = 1 + (rng.random(count) * (len(_COMPS) - 1)).astype(np.int64)
    roles = _COMPS[np.where(odd, odd_kind, 0)]
    characters = np.full((count, _GROUP), -1, dtype=np.int64)
    specs = np.zeros((count, _GROUP), dtype=np.int64)
    todo = np.ones((count, _GROUP), dtype=bool)
    while todo.any():
        rows, slots = np.nonzero(todo)
        n = len(rows)
        spec = meta.draw_specs(roles[rows, slots], rng.random(n))
        away = rng.random(n) < _AWAY_SHARE
        realm = np.where(away, realms(n), home[rows])
        klass = _CLASS_OF_SPEC[spec]
        size = roster.size[realm, klass]
        pick = roster.start[realm, klass] + (rng.random(n) * size).astype(np.int64)
        found = size > 0  # a realm may have nobody of that class: draw that member again
        characters[rows[found], slots[found]] = pick[found]
        specs[rows[found], slots[found]] = spec[found]
        todo[:] = False
        todo[rows[~found], slots[~found]] = True
        for first in range(_GROUP):  # a character plays once per group: later repeats draw again
            for later in range(first + 1, _GROUP):
                repeat = (characters[:, later] == characters[:, first]) & (
                    characters[:, later] >= 0
                )
                characters[repeat, later] = -1
                todo[repeat, later] = True
    return characters, specs, roles


def _draw_outcomes(
    rng: np.random.Generator,
    meta: Meta,
    specs: np.ndarray,
    roles: np.ndarray,
    dungeon: Dungeon,
    region: str,
    period: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level, duration (ms), completion (ms) and rating; level and clear time follow the group's
    strength (its specs' summed strength), plus noise."""
    count = len(specs)
    # relative to an ordinary group of the same roles, so the world's averages stay put
    strength = (meta.strength[specs] - meta.role_mean_strength[roles]).sum(axis=1)
    level = np.rint(
        _LEVEL_MEAN + _LEVEL_PER_STRENGTH * strength + _LEVEL_NOISE * rng.standard_normal(count)
    )
    pushed = rng.random(count) < _PUSH_SHARE
    push = np.floor(-np.log1p(-rng.random(count)) / _PUSH_RATE)
    level = np.clip(level + np.where(pushed, push, 0), _LEVEL_MIN, _LEVEL_MAX).astype(np.int64)

    timer = dungeon.timer_ms
    ratio = np.exp(
        _TIME_LOG_MEAN
        - _TIME_LOG_PER_STRENGTH * strength
        + _TIME_LOG_NOISE * rng.standard_normal(count)
    )
    duration = (np.floor(timer * ratio) + np.floor(rng.random(count) * 1000)).astype(np.int64)

    start_s = int(period_start(region, period).timestamp())
    offset_s = np.floor(rng.random(count) ** 1.1 * (_WEEK_S - 1)).astype(np.int64)
    # no run ends before it began
    completed_s = start_s + np.maximum(offset_s, duration // 1000 + 60)
    completed = np.minimum(completed_s, start_s + _WEEK_S - 1) * 1000
    return level, duration, completed, _rating(level, duration / timer)


def _rating(level: np.ndarray, time_ratio: np.ndarray) -> np.ndarray:
    """A Dragonflight/TWW-like score: base by level and affix steps, plus or minus up to 15 for time."""
    steps = sum((level >= step).astype(np.int64) for step in (4, 7, 10, 12))
    score = 165.0 + 15 * (level - 2) + 15 * steps
    early = 15 * np.minimum(1.0, (1 - time_ratio) / 0.4)
    late = -15 - 15 * np.minimum(1.0, (time_ratio - 1) / 0.4)
    return np.round(score + np.where(time_ratio <= 1, early, late), 5)
