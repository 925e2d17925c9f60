"""One measurement's outcome: its figures, the facts that frame them, and notes in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metawatch_dagster.bench.figures import Figure


@dataclass
class Section:
    figures: dict[str, Figure]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "figures": {name: figure.as_dict() for name, figure in self.figures.items()},
            "facts": self.facts,
            "notes": self.notes,
        }
