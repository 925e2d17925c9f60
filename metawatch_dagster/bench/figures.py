"""Repeated measurements and their summary: the median of the runs, with min and max."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Sample = dict[str, float]


@dataclass(frozen=True)
class Figure:
    median: float
    min: float
    max: float
    runs: int

    @classmethod
    def of(cls, values: list[float]) -> Figure:
        if not values:
            raise ValueError("a figure needs at least one measured run")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def repeat(run_once: Callable[[], Sample], runs: int, warmups: int) -> list[Sample]:
    """Runs `run_once` warmups + runs times and keeps the samples of the measured runs only."""
    for _ in range(warmups):
        run_once()
    return [run_once() for _ in range(runs)]


def summarize(samples: list[Sample]) -> dict[str, Figure]:
    """One figure per measured quantity, over the samples that have it."""
    names = dict.fromkeys(name for sample in samples for name in sample)
    return {name: Figure.of([s[name] for s in samples if name in s]) for name in names}


def ratio_figure(numerators: list[float], denominators: list[float]) -> Figure:
    """Run-by-run ratios, so a noisy moment moves one pair rather than the comparison."""
    return Figure.of([n / d for n, d in zip(numerators, denominators, strict=True) if d])
