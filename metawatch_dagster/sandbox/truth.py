"""What the sandbox served: the exact runs, members and board listings a correct loader must end up with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TruthMember:
    realm_id: int
    character_id: int
    name: str
    spec_id: int
    faction: str


@dataclass(frozen=True, slots=True)
class TruthRun:
    region: str
    period: int
    dungeon_id: int
    keystone_level: int
    duration_ms: int
    completed_timestamp: int  # ms since the epoch, as the API writes it
    mythic_rating: float
    members: tuple[TruthMember, ...]


@dataclass
class Truth:
    runs: dict[str, TruthRun] = field(default_factory=dict)
    # (run_id, connected_realm_id) -> the best (smallest) ranking served or shown
    listings: dict[tuple[str, int], int] = field(default_factory=dict)

    def add_listing(
        self, run_id: str, run: TruthRun, connected_realm_id: int, ranking: int
    ) -> None:
        self.runs[run_id] = run
        key = (run_id, connected_realm_id)
        best = self.listings.get(key)
        if best is None or ranking < best:
            self.listings[key] = ranking

    def run_rows(self) -> set[tuple[str, int, int, int, float]]:
        """(run_id, dungeon_id, keystone_level, duration_ms, mythic_rating) of every run served."""
        return {
            (run_id, r.dungeon_id, r.keystone_level, r.duration_ms, r.mythic_rating)
            for run_id, r in self.runs.items()
        }

    def member_rows(self) -> set[tuple[str, int, int, int]]:
        """(run_id, realm_id, character_id, spec_id) of every member of every run served."""
        return {
            (run_id, m.realm_id, m.character_id, m.spec_id)
            for run_id, r in self.runs.items()
            for m in r.members
        }

    def to_json(self) -> dict:
        return {
            "runs": {
                run_id: {
                    "region": r.region,
                    "period": r.period,
                    "dungeon_id": r.dungeon_id,
                    "keystone_level": r.keystone_level,
                    "duration_ms": r.duration_ms,
                    "completed_timestamp": r.completed_timestamp,
                    "mythic_rating": r.mythic_rating,
                    "members": [
                        {
                            "realm_id": m.realm_id,
                            "character_id": m.character_id,
                            "name": m.name,
                            "spec_id": m.spec_id,
                            "faction": m.faction,
                        }
                        for m in r.members
                    ],
                }
                for run_id, r in sorted(self.runs.items())
            },
            "listings": [
                {"run_id": run_id, "connected_realm_id": cr, "best_ranking": ranking}
                for (run_id, cr), ranking in sorted(self.listings.items())
            ],
        }
