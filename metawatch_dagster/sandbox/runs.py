"""A dungeon's week of runs in one region, and how each connected realm's board grows from them.

A board at simulated time t is the top N runs completed by t that involve a member of that connected
realm, ordered by keystone level (desc), then duration (asc). Its versions change only when a newly
completed run enters the top N; ``change_times`` lists those moments (whole seconds, in ms).
"""

from __future__ import annotations

import bisect
import heapq
import random
from dataclasses import dataclass, field

from metawatch_dagster.run_identity import run_id
from metawatch_dagster.sandbox.catalog import SPECS, Dungeon, period_start
from metawatch_dagster.sandbox.population import Character, Population
from metawatch_dagster.sandbox.truth import TruthMember, TruthRun

_WEEK_S = 7 * 24 * 3600
_USUAL_COMP = ("TANK", "HEALER", "DAMAGE", "DAMAGE", "DAMAGE")
_ODD_COMPS = (
    ("TANK", "HEALER", "HEALER", "DAMAGE", "DAMAGE"),
    ("TANK", "DAMAGE", "DAMAGE", "DAMAGE", "DAMAGE"),
    ("TANK", "TANK", "HEALER", "DAMAGE", "DAMAGE"),
)


@dataclass(slots=True)
class SimRun:
    run_id: str
    truth: TruthRun
    connected_realms: tuple[int, ...]
    order: tuple  # board order: higher level first, then faster, then earlier
    rank: int = 0  # position in the week's board order over all realms (0 = best)
    fragment: bytes | None = None  # the rendered entry without its ranking, made on first use


@dataclass
class BoardHistory:
    """One connected realm's board for one dungeon and period."""

    runs: list[SimRun]  # the realm's runs in completion order
    completions: list[int]
    change_times: list[int]
    _versions: dict[int, tuple[SimRun, ...]] = field(default_factory=dict)

    def version_at(self, at_ms: int) -> int:
        """0 = nothing to show yet; n = the board after its n-th change."""
        return bisect.bisect_right(self.change_times, at_ms)

    def last_modified_ms(self, version: int) -> int:
        return self.change_times[version - 1]

    def entries(self, version: int, limit: int) -> tuple[SimRun, ...]:
        shown = self._versions.get(version)
        if shown is None:
            cutoff = bisect.bisect_right(self.completions, self.change_times[version - 1])
            shown = tuple(heapq.nsmallest(limit, self.runs[:cutoff], key=lambda r: r.rank))
            self._versions[version] = shown
        return shown


def board_histories(runs: list[SimRun], limit: int) -> dict[int, BoardHistory]:
    for rank, run in enumerate(sorted(runs, key=lambda r: r.order)):
        run.rank = rank
    per_realm: dict[int, list[SimRun]] = {}
    for run in runs:  # already in completion order
        for cr in run.connected_realms:
            per_realm.setdefault(cr, []).append(run)
    return {cr: _history(realm_runs, limit) for cr, realm_runs in per_realm.items()}


def _history(runs: list[SimRun], limit: int) -> BoardHistory:
    worst_first: list[int] = []  # heap of the shown runs' negated ranks: the worst on top
    changes: list[int] = []
    for run in runs:
        key = -run.rank
        if len(worst_first) < limit:
            heapq.heappush(worst_first, key)
        elif key > worst_first[0]:
            heapq.heapreplace(worst_first, key)
        else:
            continue
        if not changes or changes[-1] != run.truth.completed_timestamp:
            changes.append(run.truth.completed_timestamp)
    return BoardHistory(runs, [r.truth.completed_timestamp for r in runs], changes)


def generate_runs(
    seed: int, population: Population, period: int, dungeon: Dungeon, runs_per_board_week: int
) -> list[SimRun]:
    """The dungeon's whole week in the region, sorted by completion time."""
    region = population.region
    rng = random.Random(f"{seed}|{region}|{period}|{dungeon.id}|runs")
    realms = population.connected_realms
    realm_ids = [cr.id for cr in realms]
    realm_cum = _cumulative([cr.weight for cr in realms])
    realm_total = realm_cum[-1]
    random_ = rng.random
    specs_by_role = _spec_popularity(seed, period)
    start_s = int(period_start(region, period).timestamp())
    count = int(runs_per_board_week * len(realms) * 0.62)
    timer = dungeon.timer_ms

    pools = {cr.id: population.characters[cr.id] for cr in realms}
    members_seen: dict[tuple[int, int], TruthMember] = {}
    runs = []
    for _ in range(count):
        home = realm_ids[bisect.bisect(realm_cum, random_() * realm_total)]
        comp = _USUAL_COMP if random_() > 0.04 else _ODD_COMPS[int(random_() * len(_ODD_COMPS))]
        members: list[TruthMember] = []
        taken: set[int] = set()
        crs: set[int] = set()
        for role in comp:
            specs, spec_cum = specs_by_role[role]
            member = None
            while member is None:
                spec = specs[bisect.bisect(spec_cum, random_() * spec_cum[-1])]
                cr = home
                if random_() > 0.75:
                    cr = realm_ids[bisect.bisect(realm_cum, random_() * realm_total)]
                pool = pools[cr].get(spec.class_id)
                if not pool:
                    continue
                character: Character = pool[int(random_() * len(pool))]
                if id(character) in taken:
                    continue
                taken.add(id(character))
                crs.add(cr)
                member = members_seen.get((id(character), spec.id))
                if member is None:
                    member = TruthMember(
                        character.realm_id, character.id, character.name, spec.id, character.faction
                    )
                    members_seen[(id(character), spec.id)] = member
            members.append(member)
        level = _keystone_level(rng)
        ratio = rng.lognormvariate(-0.07, 0.11)
        duration = int(timer * ratio) + rng.randint(0, 999)
        offset_s = int((rng.random() ** 1.1) * (_WEEK_S - 1))
        completed = (start_s + max(offset_s, duration // 1000 + 60)) * 1000
        completed = min(completed, (start_s + _WEEK_S - 1) * 1000)
        rating = _rating(level, duration / timer)
        pairs = [(m.realm_id, m.character_id) for m in members]
        rid = run_id(region, period, dungeon.id, completed, duration, level, pairs)
        truth = TruthRun(
            region, period, dungeon.id, level, duration, completed, rating, tuple(members)
        )
        runs.append(SimRun(rid, truth, tuple(sorted(crs)), (-level, duration, completed, rid)))
    runs.sort(key=lambda r: (r.truth.completed_timestamp, r.run_id))
    return runs


def _spec_popularity(seed: int, period: int) -> dict[str, tuple[list, list[float]]]:
    """A few specs dominate each role; the favourites shift a little from week to week."""
    rng = random.Random(f"{seed}|{period // 4}|meta")
    result = {}
    for role in ("TANK", "HEALER", "DAMAGE"):
        specs = [s for s in SPECS if s.role == role]
        rng.shuffle(specs)
        result[role] = (specs, _cumulative([1.0 / (rank + 1) ** 1.3 for rank in range(len(specs))]))
    return result


def _cumulative(weights: list[float]) -> list[float]:
    cum, total = [], 0.0
    for weight in weights:
        total += weight
        cum.append(total)
    return cum


def _keystone_level(rng: random.Random) -> int:
    level = round(rng.gauss(9.5, 2.8))
    if rng.random() < 0.04:
        level += int(rng.expovariate(0.35))
    return max(2, min(level, 24))


def _rating(level: int, time_ratio: float) -> float:
    """A Dragonflight/TWW-like score: base by level and affix steps, plus or minus up to 15 for time."""
    score = 165 + 15 * (level - 2) + 15 * sum(level >= step for step in (4, 7, 10, 12))
    if time_ratio <= 1:
        score += 15 * min(1.0, (1 - time_ratio) / 0.4)
    else:
        score -= 15 + 15 * min(1.0, (time_ratio - 1) / 0.4)
    return round(score, 5)
