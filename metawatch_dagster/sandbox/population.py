"""A region's connected realms, realms and characters, drawn deterministically from the seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from metawatch_dagster.sandbox.catalog import SPECS

_REALM_ID_RANGES = {"us": (1, 1700), "eu": (500, 4000), "kr": (200, 2200), "tw": (960, 3700)}
_REAL_CONNECTED_REALMS = {"us": 83, "eu": 92, "kr": 9, "tw": 8}
_REALM_FIRST = (
    "Storm", "Silver", "Shadow", "Iron", "Frost", "Sun", "Moon", "Thunder", "Dragon", "Stone",
    "Ember", "Mist", "Raven", "Wyrm", "Blood", "Star", "Thorn", "Dawn", "Dusk", "Gold",
)  # fmt: skip
_REALM_SECOND = (
    "reach", "moon", "hammer", "forge", "spire", "hold", "wind", "crest", "vale", "watch",
    "fall", "mane", "shore", "peak", "brook", "song", "gate", "heart", "blade", "haven",
)  # fmt: skip
_NAME_PARTS = (
    "ka", "ri", "zo", "mel", "tha", "dor", "ven", "lia", "gor", "ash", "el", "ny", "bra", "kor",
    "sy", "mir", "ul", "dra", "fen", "ia", "ro", "th", "val", "xi", "an", "mo", "rek", "sa",
)  # fmt: skip
_ACCENTS = {"o": "ø", "a": "á", "e": "ë", "u": "ú", "i": "í"}
UNKNOWN_NAME = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Realm:
    id: int
    name: str
    slug: str
    connected_realm_id: int


@dataclass(frozen=True, slots=True)
class Character:
    realm_id: int
    realm_slug: str
    id: int
    name: str
    class_id: int
    faction: str


@dataclass(frozen=True)
class ConnectedRealm:
    id: int
    realms: tuple[Realm, ...]
    weight: float  # how busy it is relative to the region's average (1.0)


@dataclass(frozen=True, eq=False)
class Roster:
    """Every character of a region in one flat order, grouped by connected realm then class.

    The characters of connected realm number ``c`` (its position in the region) and class ``k`` are
    ``characters[start[c, k] : start[c, k] + size[c, k]]``; arrays let runs draw groups in bulk.
    """

    characters: tuple[Character, ...]
    start: np.ndarray  # int64 (connected realms, class ids + 1)
    size: np.ndarray  # int64, same shape
    connected_index: np.ndarray  # int64 per character: its connected realm's position
    roster_order: np.ndarray  # int64 per character: its rank by (realm id, character id)

    def run_rosters(self, groups: np.ndarray) -> list[str]:
        """Each group (a row of characters) as run_identity's text writes it: ``realm:character``
        sorted numerically, joined by commas."""
        order = np.argsort(self.roster_order[groups], axis=1)
        labels = self._labels
        return [
            ",".join([labels[c] for c in row])
            for row in np.take_along_axis(groups, order, axis=1).tolist()
        ]

    @cached_property
    def _labels(self) -> list[str]:
        return [f"{c.realm_id}:{c.id}" for c in self.characters]


@dataclass(frozen=True, eq=False)
class Population:
    region: str
    connected_realms: tuple[ConnectedRealm, ...]
    roster: Roster

    def connected_realm(self, connected_realm_id: int) -> ConnectedRealm | None:
        for cr in self.connected_realms:
            if cr.id == connected_realm_id:
                return cr
        return None

    @property
    def realm_to_connected(self) -> dict[int, int]:
        return {r.id: cr.id for cr in self.connected_realms for r in cr.realms}


def build_population(seed: int, region: str, scale: str) -> Population:
    rng = random.Random(f"{seed}|{region}|population")
    count = _REAL_CONNECTED_REALMS[region] if scale == "real" else rng.randint(3, 4)
    realm_counts = [rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0] for _ in range(count)]
    low, high = _REALM_ID_RANGES[region]
    realm_ids = rng.sample(range(low, high), sum(realm_counts))
    names = _realm_names(rng, len(realm_ids))

    connected = []
    cursor = 0
    for n in realm_counts:
        ids = realm_ids[cursor : cursor + n]
        cr_id = ids[0]  # Blizzard names a connected realm after one of its realms
        realms = tuple(
            Realm(rid, names[cursor + i], _slug(names[cursor + i]), cr_id)
            for i, rid in enumerate(ids)
        )
        cursor += n
        weight = rng.uniform(0.85, 1.2) if scale == "small" else rng.lognormvariate(0, 0.35)
        connected.append(ConnectedRealm(cr_id, realms, weight))
    mean = sum(cr.weight for cr in connected) / len(connected)
    connected = [ConnectedRealm(cr.id, cr.realms, cr.weight / mean) for cr in connected]
    connected.sort(key=lambda cr: cr.id)

    per_unit = 220 if scale == "small" else 500
    by_connected: list[dict[int, list[Character]]] = []
    used_ids: list[int] = []
    for cr in connected:
        by_class: dict[int, list[Character]] = {}
        seen: set[tuple[int, int]] = set()  # a reused id may land on a realm that already has it
        for _ in range(int(per_unit * cr.weight)):
            realm = rng.choice(cr.realms)
            class_id = rng.choice(SPECS).class_id
            if used_ids and rng.random() < 0.01:
                character_id = rng.choice(used_ids)  # ids repeat across realms, as in the real API
            else:
                character_id = rng.randint(100_000_000, 260_000_000)
            used_ids.append(character_id)
            name = UNKNOWN_NAME if rng.random() < 0.003 else _character_name(rng)
            faction = "ALLIANCE" if rng.random() < 0.55 else "HORDE"
            if (realm.id, character_id) not in seen:
                seen.add((realm.id, character_id))
                by_class.setdefault(class_id, []).append(
                    Character(realm.id, realm.slug, character_id, name, class_id, faction)
                )
        by_connected.append(by_class)
    return Population(region, tuple(connected), _roster(by_connected))


def _roster(by_connected: list[dict[int, list[Character]]]) -> Roster:
    classes = max(spec.class_id for spec in SPECS) + 1
    start = np.zeros((len(by_connected), classes), dtype=np.int64)
    size = np.zeros_like(start)
    characters: list[Character] = []
    connected_index: list[int] = []
    for position, by_class in enumerate(by_connected):
        for class_id in sorted(by_class):
            chars = by_class[class_id]
            start[position, class_id] = len(characters)
            size[position, class_id] = len(chars)
            characters.extend(chars)
            connected_index.extend([position] * len(chars))
    realm_ids = np.array([c.realm_id for c in characters], dtype=np.int64)
    character_ids = np.array([c.id for c in characters], dtype=np.int64)
    roster_order = np.empty(len(characters), dtype=np.int64)
    roster_order[np.lexsort((character_ids, realm_ids))] = np.arange(len(characters))
    return Roster(
        tuple(characters), start, size, np.array(connected_index, dtype=np.int64), roster_order
    )


def _realm_names(rng: random.Random, count: int) -> list[str]:
    pool = [a + b for a in _REALM_FIRST for b in _REALM_SECOND]
    pool += [f"{a} {b.capitalize()}" for a in _REALM_FIRST for b in _REALM_SECOND]
    return rng.sample(pool, count)


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-").replace("'", "")


def _character_name(rng: random.Random) -> str:
    name = "".join(rng.choice(_NAME_PARTS) for _ in range(rng.randint(2, 4)))[:12]
    if rng.random() < 0.04:
        vowel = next((v for v in _ACCENTS if v in name), None)
        if vowel:
            name = name.replace(vowel, _ACCENTS[vowel], 1)
    return name.capitalize()
