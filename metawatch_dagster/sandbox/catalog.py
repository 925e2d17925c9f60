"""Static game facts the synthetic world is built from: specs, classes, dungeons, the period calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WEEK = timedelta(weeks=1)

# Period 641 started in the US on Tuesday 2018-04-10 15:00 UTC (real fixture mythic-keystone_period_641).
_US_PERIOD_641_START = datetime(2018, 4, 10, 15, 0, tzinfo=UTC)
_FIRST_KNOWN_PERIOD = 641
# Weekly reset of each region after the US one: EU Wednesday 04:00, KR/TW Wednesday 23:00 UTC.
RESET_OFFSET = {
    "us": timedelta(0),
    "eu": timedelta(hours=13),
    "kr": timedelta(hours=32),
    "tw": timedelta(hours=32),
}
REGION_NAMES = {"us": "North America", "eu": "Europe", "kr": "Korea", "tw": "Taiwan"}
REGION_IDS = {"us": 1, "kr": 2, "eu": 3, "tw": 4}

SEASON_ID = 15
SEASON_FIRST_PERIOD = 1020
STATIC_NAMESPACE_VERSION = "static-11.2.0_62213"


def period_start(region: str, period: int) -> datetime:
    return _US_PERIOD_641_START + (period - _FIRST_KNOWN_PERIOD) * WEEK + RESET_OFFSET[region]


def period_end(region: str, period: int) -> datetime:
    """The last second of the period, as Blizzard writes it (start + 1 week - 1 s)."""
    return period_start(region, period) + WEEK - timedelta(seconds=1)


def period_at(region: str, moment: datetime) -> int:
    """The period running in ``region`` at ``moment`` (may be before the season)."""
    weeks = (moment - _US_PERIOD_641_START - RESET_OFFSET[region]) // WEEK
    return _FIRST_KNOWN_PERIOD + weeks


def default_start() -> datetime:
    """Sunday 12:00 UTC in the season's third week: every region is days into a well-filled week."""
    return period_start("us", SEASON_FIRST_PERIOD + 2) + timedelta(days=4, hours=21)


@dataclass(frozen=True)
class Spec:
    id: int
    name: str
    class_id: int
    class_name: str
    role: str  # TANK, HEALER, DAMAGE


_CLASSES = {
    1: ("Warrior", {71: ("Arms", "DAMAGE"), 72: ("Fury", "DAMAGE"), 73: ("Protection", "TANK")}),
    2: (
        "Paladin",
        {65: ("Holy", "HEALER"), 66: ("Protection", "TANK"), 70: ("Retribution", "DAMAGE")},
    ),
    3: (
        "Hunter",
        {
            253: ("Beast Mastery", "DAMAGE"),
            254: ("Marksmanship", "DAMAGE"),
            255: ("Survival", "DAMAGE"),
        },
    ),
    4: (
        "Rogue",
        {259: ("Assassination", "DAMAGE"), 260: ("Outlaw", "DAMAGE"), 261: ("Subtlety", "DAMAGE")},
    ),
    5: (
        "Priest",
        {256: ("Discipline", "HEALER"), 257: ("Holy", "HEALER"), 258: ("Shadow", "DAMAGE")},
    ),
    6: (
        "Death Knight",
        {250: ("Blood", "TANK"), 251: ("Frost", "DAMAGE"), 252: ("Unholy", "DAMAGE")},
    ),
    7: (
        "Shaman",
        {
            262: ("Elemental", "DAMAGE"),
            263: ("Enhancement", "DAMAGE"),
            264: ("Restoration", "HEALER"),
        },
    ),
    8: ("Mage", {62: ("Arcane", "DAMAGE"), 63: ("Fire", "DAMAGE"), 64: ("Frost", "DAMAGE")}),
    9: (
        "Warlock",
        {
            265: ("Affliction", "DAMAGE"),
            266: ("Demonology", "DAMAGE"),
            267: ("Destruction", "DAMAGE"),
        },
    ),
    10: (
        "Monk",
        {268: ("Brewmaster", "TANK"), 269: ("Windwalker", "DAMAGE"), 270: ("Mistweaver", "HEALER")},
    ),
    11: (
        "Druid",
        {
            102: ("Balance", "DAMAGE"),
            103: ("Feral", "DAMAGE"),
            104: ("Guardian", "TANK"),
            105: ("Restoration", "HEALER"),
        },
    ),
    12: ("Demon Hunter", {577: ("Havoc", "DAMAGE"), 581: ("Vengeance", "TANK")}),
    13: (
        "Evoker",
        {
            1467: ("Devastation", "DAMAGE"),
            1468: ("Preservation", "HEALER"),
            1473: ("Augmentation", "DAMAGE"),
        },
    ),
}

SPECS: tuple[Spec, ...] = tuple(
    Spec(spec_id, spec_name, class_id, class_name, role)
    for class_id, (class_name, specs) in _CLASSES.items()
    for spec_id, (spec_name, role) in specs.items()
)
PET_SPECS = ((74, "Ferocity"), (79, "Cunning"), (81, "Tenacity"))
ROLE_NAMES = {"TANK": "Tank", "HEALER": "Healer", "DAMAGE": "Damage"}


@dataclass(frozen=True)
class Dungeon:
    id: int
    name: str
    map_id: int
    zone_slug: str
    journal_id: int
    timer_ms: int
    in_season: bool

    @property
    def upgrades_ms(self) -> tuple[int, int, int]:
        """Qualifying durations for +1/+2/+3 (the timer, 80 % and 60 % of it)."""
        return self.timer_ms, self.timer_ms * 4 // 5, self.timer_ms * 3 // 5


DUNGEONS: tuple[Dungeon, ...] = (
    Dungeon(197, "Eye of Azshara", 1456, "eye-of-azshara", 716, 2_100_000, False),
    Dungeon(199, "Black Rook Hold", 1501, "black-rook-hold", 740, 2_340_000, False),
    Dungeon(244, "Atal'Dazar", 1763, "ataldazar", 968, 1_800_000, False),
    Dungeon(378, "Halls of Atonement", 2287, "halls-of-atonement", 1185, 1_860_000, True),
    Dungeon(391, "Tazavesh: Streets of Wonder", 2441, "tazavesh-streets", 1194, 2_100_000, True),
    Dungeon(392, "Tazavesh: So'leah's Gambit", 2441, "tazavesh-gambit", 1194, 1_800_000, True),
    Dungeon(
        499, "Priory of the Sacred Flame", 2649, "priory-of-the-sacred-flame", 1267, 1_950_000, True
    ),
    Dungeon(503, "Ara-Kara, City of Echoes", 2660, "arakara-city-of-echoes", 1271, 1_800_000, True),
    Dungeon(505, "The Dawnbreaker", 2662, "the-dawnbreaker", 1270, 1_860_000, True),
    Dungeon(525, "Operation: Floodgate", 2773, "operation-floodgate", 1298, 1_980_000, True),
    Dungeon(542, "Eco-Dome Al'dani", 2830, "ecodome-aldani", 1303, 2_040_000, True),
)
SEASON_DUNGEONS = tuple(d for d in DUNGEONS if d.in_season)

# (affix id, name, starting level); Tyrannical and Fortified swap places every other week.
_AFFIXES_EVEN = (
    (148, "Xal'atath's Bargain: Ascendant", 4),
    (9, "Tyrannical", 7),
    (10, "Fortified", 10),
)
_AFFIXES_ODD = (
    (158, "Xal'atath's Bargain: Voidbound", 4),
    (10, "Fortified", 7),
    (9, "Tyrannical", 10),
)
_GUILE = (147, "Xal'atath's Guile", 12)


def affixes(period: int) -> tuple[tuple[int, str, int], ...]:
    return (*(_AFFIXES_EVEN if period % 2 == 0 else _AFFIXES_ODD), _GUILE)
