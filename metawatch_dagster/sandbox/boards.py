"""How each connected realm's board grows over a dungeon's week.

A board at simulated time t is the top N runs completed by t that involve a member of that connected
realm, ordered by keystone level (desc), then duration (asc), then completion (asc). Its versions change
only when a newly completed run enters the top N; ``change_times`` lists those moments (whole seconds,
in ms). A run that does not enter a board when it completes never shows there later (the board only
gets better), so a history keeps only the runs that entered it.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass, field

import numpy as np

from metawatch_dagster.sandbox.runs import Week


@dataclass
class BoardHistory:
    """One connected realm's board for one dungeon and period."""

    week: Week
    rows: np.ndarray  # the week's runs that entered the board, in completion order
    completions: list[int]
    change_times: list[int]
    _versions: dict[int, np.ndarray] = field(default_factory=dict)

    def version_at(self, at_ms: int) -> int:
        """0 = nothing to show yet; n = the board after its n-th change."""
        return bisect.bisect_right(self.change_times, at_ms)

    def last_modified_ms(self, version: int) -> int:
        return self.change_times[version - 1]

    def shown(self, version: int, limit: int) -> np.ndarray:
        """The rows the board shows at ``version``, best first."""
        rows = self._versions.get(version)
        if rows is None:
            cutoff = bisect.bisect_right(self.completions, self.change_times[version - 1])
            rows = self.rows[:cutoff]
            ranks = self.week.rank[rows]
            if len(rows) > limit:
                best = np.argpartition(ranks, limit - 1)[:limit]
                rows, ranks = rows[best], ranks[best]
            rows = rows[np.argsort(ranks)]
            self._versions[version] = rows
        return rows


def board_histories(week: Week, limit: int) -> dict[int, BoardHistory]:
    """Every connected realm's board history: its runs are those with a member from it."""
    realms = week.population.connected_realms
    rows = np.arange(len(week))
    in_completion_order = np.empty_like(rows)
    in_completion_order[np.lexsort((rows, week.completed))] = rows

    # every (run, connected realm of a member) once, sorted by realm then completion
    member_realms = np.sort(week.population.roster.connected_index[week.characters], axis=1)
    first = np.ones_like(member_realms, dtype=bool)
    first[:, 1:] = member_realms[:, 1:] != member_realms[:, :-1]
    pair_runs, pair_realms = np.nonzero(first)[0], member_realms[first]
    order = np.lexsort((in_completion_order[pair_runs], pair_realms))
    pair_runs, pair_realms = pair_runs[order], pair_realms[order]
    bounds = np.searchsorted(pair_realms, np.arange(len(realms) + 1))

    histories = {}
    for index, cr in enumerate(realms):
        realm_runs = pair_runs[bounds[index] : bounds[index + 1]]
        if len(realm_runs):
            entered = _entering(realm_runs, week.rank, limit)
            completions = week.completed[entered].tolist()
            changes = [t for i, t in enumerate(completions) if i == 0 or t != completions[i - 1]]
            histories[cr.id] = BoardHistory(week, entered, completions, changes)
    return histories


def _entering(runs: np.ndarray, rank: np.ndarray, limit: int) -> np.ndarray:
    """The runs (given in completion order) that are in the top ``limit`` when they complete."""
    if len(runs) <= limit:
        return runs
    worst_first: list[int] = []  # negated ranks of the shown runs: the worst on top
    kept = []
    for index, key in enumerate(rank[runs].tolist()):
        if len(worst_first) < limit:
            heapq.heappush(worst_first, -key)
        elif -key > worst_first[0]:
            heapq.heapreplace(worst_first, -key)
        else:
            continue
        kept.append(index)
    return runs[kept]
