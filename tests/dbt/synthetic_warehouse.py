"""A deterministic synthetic warehouse: the contract and ref_* tables filled with a few hundred runs.

Stands in for the parser's output. Real spec ids and roles, dungeons with timers, characters with a
main spec, mostly one tank / one healer / three damage per run and a few non-standard groups.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from metawatch_dagster.contract import CONTRACT_TABLES, REFERENCE_TABLES, column_names
from metawatch_dagster.run_identity import run_id

SEASON = 13
PERIODS = (1001, 1002, 1003)
REGIONS = ("us", "eu")
RUNS_PER_PARTITION = 80
CONNECTED_REALMS = {"us": (11, 12, 13), "eu": (1301, 1302, 1303)}
# Naive datetimes are UTC, as the contract's TIMESTAMP columns.
WEEK_START = {"us": datetime(2025, 3, 4, 15), "eu": datetime(2025, 3, 5, 4)}

# (spec_id, spec_name, class_id, class_name, role)
SPECS = [
    (250, "Blood", 6, "Death Knight", "TANK"),
    (581, "Vengeance", 12, "Demon Hunter", "TANK"),
    (104, "Guardian", 11, "Druid", "TANK"),
    (268, "Brewmaster", 10, "Monk", "TANK"),
    (66, "Protection", 2, "Paladin", "TANK"),
    (73, "Protection", 1, "Warrior", "TANK"),
    (105, "Restoration", 11, "Druid", "HEALER"),
    (1468, "Preservation", 13, "Evoker", "HEALER"),
    (270, "Mistweaver", 10, "Monk", "HEALER"),
    (65, "Holy", 2, "Paladin", "HEALER"),
    (256, "Discipline", 5, "Priest", "HEALER"),
    (264, "Restoration", 7, "Shaman", "HEALER"),
    (251, "Frost", 6, "Death Knight", "DAMAGE"),
    (577, "Havoc", 12, "Demon Hunter", "DAMAGE"),
    (102, "Balance", 11, "Druid", "DAMAGE"),
    (1467, "Devastation", 13, "Evoker", "DAMAGE"),
    (1473, "Augmentation", 13, "Evoker", "DAMAGE"),
    (253, "Beast Mastery", 3, "Hunter", "DAMAGE"),
    (62, "Arcane", 8, "Mage", "DAMAGE"),
    (63, "Fire", 8, "Mage", "DAMAGE"),
    (269, "Windwalker", 10, "Monk", "DAMAGE"),
    (70, "Retribution", 2, "Paladin", "DAMAGE"),
    (258, "Shadow", 5, "Priest", "DAMAGE"),
    (260, "Outlaw", 4, "Rogue", "DAMAGE"),
    (262, "Elemental", 7, "Shaman", "DAMAGE"),
    (263, "Enhancement", 7, "Shaman", "DAMAGE"),
    (266, "Demonology", 9, "Warlock", "DAMAGE"),
    (72, "Fury", 1, "Warrior", "DAMAGE"),
]
# (dungeon_id, name, timer_ms): +2 at 80% and +3 at 60% of the timer, as Blizzard's thresholds.
DUNGEONS = [
    (247, "The MOTHERLODE!!", 2_000_000),
    (370, "Operation: Mechagon - Workshop", 1_920_000),
    (382, "Theater of Pain", 2_040_000),
    (499, "Priory of the Sacred Flame", 1_950_000),
    (500, "The Rookery", 1_740_000),
    (504, "Darkflame Cleft", 1_860_000),
    (506, "Cinderbrew Meadery", 1_980_000),
    (525, "Operation: Floodgate", 1_980_000),
]
CHARACTERS_PER_ROLE = {"TANK": 30, "HEALER": 30, "DAMAGE": 110}


@dataclass
class Warehouse:
    """The generated rows, table by table, as dicts in the contract's column order."""

    tables: dict[str, list[dict]] = field(default_factory=dict)

    def rows(self, table: str, period: int | None = None, region: str | None = None) -> list[dict]:
        return [
            row
            for row in self.tables[table]
            if (period is None or row["period"] == period)
            and (region is None or row["region"] == region)
        ]


def _characters(rng: random.Random, region: str) -> dict[str, list[tuple[int, int, int]]]:
    """(realm_id, character_id, main spec) per role; realms of the region's connected realms."""
    by_role: dict[str, list[tuple[int, int, int]]] = {}
    next_id = 1000
    for role, count in CHARACTERS_PER_ROLE.items():
        specs = [s[0] for s in SPECS if s[4] == role]
        weights = [len(specs) - i for i in range(len(specs))]  # some specs are more popular
        chars = []
        for _ in range(count):
            realm = rng.choice(CONNECTED_REALMS[region]) * 10 + rng.randint(0, 1)
            chars.append((realm, next_id, rng.choices(specs, weights)[0]))
            next_id += rng.randint(1, 50)
        by_role[role] = chars
    return by_role


def _pick(rng: random.Random, pool: list[tuple[int, int, int]], n: int, taken: set) -> list:
    chosen = []
    while len(chosen) < n:
        char = pool[min(int(rng.expovariate(1 / 15)), len(pool) - 1)]  # a few players play a lot
        if (char[0], char[1]) not in taken:
            taken.add((char[0], char[1]))
            chosen.append(char)
    return chosen


def generate(seed: int = 7) -> Warehouse:
    rng = random.Random(seed)
    wh = Warehouse({table: [] for table in [*CONTRACT_TABLES, *REFERENCE_TABLES]})
    role_of = {s[0]: s[4] for s in SPECS}
    for region in REGIONS:
        characters = _characters(rng, region)
        for i, period in enumerate(PERIODS):
            start = WEEK_START[region] + timedelta(weeks=i)
            wh.tables["ref_periods"].append(
                {
                    "region": region,
                    "period": period,
                    "start": start,
                    "end": start + timedelta(weeks=1),
                }
            )
            for _ in range(RUNS_PER_PARTITION):
                _add_run(rng, wh, characters, role_of, region, period, start)
            for cr in CONNECTED_REALMS[region]:
                for dungeon_id, _, _ in DUNGEONS:
                    status = rng.choices(["200", "304", "404"], [8, 3, 1])[0]
                    entries = None if status == "404" else rng.choice([120, 340, 500])
                    wh.tables["boards"].append(
                        {
                            "region": region,
                            "period": period,
                            "connected_realm_id": cr,
                            "dungeon_id": dungeon_id,
                            "status": status,
                            "entries": entries,
                            "is_full": None if entries is None else entries == 500,
                            "last_modified": start + timedelta(days=1),
                            "fetched_at": start + timedelta(days=2),
                        }
                    )
        first = WEEK_START[region]
        wh.tables["ref_seasons"].append(
            {
                "season": SEASON,
                "region": region,
                "start": first,
                "end": None,
                "first_period": PERIODS[0],
                "last_period": PERIODS[-1],
            }
        )
        for cr in CONNECTED_REALMS[region]:
            wh.tables["ref_connected_realms"].append(
                {"region": region, "connected_realm_id": cr, "realm_count": 2}
            )
            for realm in (cr * 10, cr * 10 + 1):
                wh.tables["ref_realms"].append(
                    {
                        "region": region,
                        "realm_id": realm,
                        "connected_realm_id": cr,
                        "name": f"Realm {realm}",
                        "slug": f"realm-{realm}",
                    }
                )
    for dungeon_id, name, timer in DUNGEONS:
        wh.tables["ref_dungeons"].append(
            {
                "season": SEASON,
                "dungeon_id": dungeon_id,
                "name": name,
                "timer_ms": timer,
                "upgrade_2_ms": timer * 8 // 10,
                "upgrade_3_ms": timer * 6 // 10,
                "source": "synthetic",
            }
        )
    wh.tables["ref_specs"] = [
        dict(zip(["spec_id", "spec_name", "class_id", "class_name", "role"], s, strict=True))
        for s in SPECS
    ]
    return wh


def _add_run(rng, wh: Warehouse, characters, role_of, region: str, period: int, start) -> None:
    taken: set = set()
    shape = rng.choices([("TANK", "HEALER", 3), ("TANK", "TANK", 3)], [19, 1])[0]
    if shape[1] == "TANK":  # a non-standard group: two tanks, no healer
        members = _pick(rng, characters["TANK"], 2, taken)
    else:
        members = _pick(rng, characters["TANK"], 1, taken) + _pick(
            rng, characters["HEALER"], 1, taken
        )
    members += _pick(rng, characters["DAMAGE"], shape[2], taken)
    dungeon_id, _, timer = rng.choice(DUNGEONS)
    level = rng.randint(2, 24)
    duration = int(timer * rng.uniform(0.55, 1.3))
    completed = start + timedelta(seconds=rng.randint(3600, 6 * 86400))
    completed_ms = int(completed.replace(tzinfo=UTC).timestamp() * 1000)
    rid = run_id(
        region, period, dungeon_id, completed_ms, duration, level, [m[:2] for m in members]
    )
    seen = start + timedelta(days=2)
    wh.tables["runs"].append(
        {
            "run_id": rid,
            "region": region,
            "period": period,
            "dungeon_id": dungeon_id,
            "keystone_level": level,
            "duration_ms": duration,
            "completed_at": completed,
            "mythic_rating": round(level * 15 + rng.random() * 10, 1),
            "first_seen_at": seen,
            "last_seen_at": seen,
        }
    )
    for realm, character, spec in members:
        # A character sometimes plays an off-spec of the same role.
        if rng.random() < 0.1:
            spec = rng.choice([s for s, r in role_of.items() if r == role_of[spec]])
        wh.tables["run_members"].append(
            {
                "run_id": rid,
                "region": region,
                "period": period,
                "realm_id": realm,
                "character_id": character,
                "character_name": f"char{character}",
                "name_unknown": False,
                "spec_id": spec,
                "faction": rng.choice(["ALLIANCE", "HORDE"]),
            }
        )
    for cr in {m[0] // 10 for m in members}:
        wh.tables["run_boards"].append(
            {
                "run_id": rid,
                "region": region,
                "period": period,
                "connected_realm_id": cr,
                "best_ranking": rng.randint(1, 500),
                "first_seen_at": seen,
                "last_seen_at": seen,
            }
        )


def write(wh: Warehouse, path: Path) -> None:
    """Create the contract and ref_* tables in the DuckDB file at `path` and insert the rows."""
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table, columns_sql in {**CONTRACT_TABLES, **REFERENCE_TABLES}.items():
            con.execute(f"CREATE TABLE {table} ({columns_sql})")
            columns = column_names(columns_sql)
            frame = pd.DataFrame(wh.tables[table], columns=[c.strip('"') for c in columns])
            con.register("incoming", frame)
            con.execute(f"INSERT INTO {table} SELECT {', '.join(columns)} FROM incoming")
            con.unregister("incoming")
