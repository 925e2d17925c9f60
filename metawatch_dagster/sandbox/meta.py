"""The meta: how strong each spec is and how often it is played, per role, drawn from the seed.

Strength is a spec's pull on its group's key level and clear time (in standard units: most specs lie
within ±2). Popularity follows strength only in part: a fixed "fame" per spec (how fashionable it is,
whatever its numbers) weighs about as much, so popular-but-average and rare-but-strong specs both exist.
Both drift a little every four periods, like balance patches.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from metawatch_dagster.sandbox.catalog import SPECS

ROLES = ("TANK", "HEALER", "DAMAGE")
_PATCH_PERIODS = 4
_DRIFT = 0.3  # how far strength and fame move at each patch, relative to their spread
_POPULARITY_FROM_STRENGTH = 0.9
_POPULARITY_FROM_FAME = 0.9


@dataclass(frozen=True, eq=False)
class Meta:
    """Arrays are indexed like ``SPECS`` (a spec's position there), roles like ``ROLES``."""

    strength: np.ndarray  # float64 per spec
    popularity: np.ndarray  # float64 per spec: relative pick weight within its role
    role_specs: tuple[np.ndarray, ...]  # per role: its spec positions
    role_cumulative: tuple[np.ndarray, ...]  # per role: cumulative popularity of role_specs
    role_mean_strength: np.ndarray  # per role: the popularity-weighted mean strength of its picks

    def draw_specs(self, roles: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """One spec position per (role, uniform draw in [0, 1)), picked by popularity within the role."""
        specs = np.empty(len(roles), dtype=np.int64)
        for role, (members, cumulative) in enumerate(
            zip(self.role_specs, self.role_cumulative, strict=True)
        ):
            mask = roles == role
            slots = np.searchsorted(cumulative, draws[mask] * cumulative[-1], side="right")
            specs[mask] = members[np.minimum(slots, len(members) - 1)]
        return specs

    def by_spec_id(self) -> dict[int, tuple[float, float]]:
        """spec id -> (strength, share of its role's picks), for reports and tests."""
        shares = {}
        for members in self.role_specs:
            total = self.popularity[members].sum()
            shares.update({int(i): float(self.popularity[i] / total) for i in members})
        return {SPECS[i].id: (float(self.strength[i]), shares[i]) for i in range(len(SPECS))}


def spec_meta(seed: int, period: int) -> Meta:
    patch = period // _PATCH_PERIODS
    base = random.Random(f"{seed}|spec-meta")
    strength = [base.gauss(0, 1) for _ in SPECS]
    fame = [base.gauss(0, 1) for _ in SPECS]
    drift = random.Random(f"{seed}|{patch}|spec-meta")
    strength = [s + drift.gauss(0, _DRIFT) for s in strength]
    fame = [f + drift.gauss(0, _DRIFT) for f in fame]
    popularity = [
        math.exp(_POPULARITY_FROM_STRENGTH * s + _POPULARITY_FROM_FAME * f)
        for s, f in zip(strength, fame, strict=True)
    ]
    strength_array = np.array(strength)
    popularity_array = np.array(popularity)
    role_specs = tuple(
        np.array([i for i, spec in enumerate(SPECS) if spec.role == role], dtype=np.int64)
        for role in ROLES
    )
    role_mean = np.array(
        [np.average(strength_array[m], weights=popularity_array[m]) for m in role_specs]
    )
    return Meta(
        strength_array,
        popularity_array,
        role_specs,
        tuple(np.cumsum(popularity_array[m]) for m in role_specs),
        role_mean,
    )
