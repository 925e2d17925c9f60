"""JSON bodies in the shapes of Blizzard's real responses (see tests/fixtures/blizzard/).

Hrefs keep Blizzard's form (https://{region}.api.blizzard.com/...) so recorded bodies look real; clients
read ids. Leaderboard entries are rendered once per run and joined into boards as bytes.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

import numpy as np

from metawatch_dagster.sandbox import catalog
from metawatch_dagster.sandbox.catalog import ROLE_NAMES, Dungeon, Spec
from metawatch_dagster.sandbox.population import Character, ConnectedRealm
from metawatch_dagster.sandbox.runs import Week

_MEMBER = b'{"profile":{"name":%b,"id":%d,"realm":%b},"faction":{"type":%b},"specialization":%b}'
# a leaderboard entry after '{"ranking":N,' (key order as in Blizzard's bodies)
_ENTRY = (
    b'"duration":%d,"completed_timestamp":%d,"keystone_level":%d,"members":[%b],'
    b'"mythic_rating":{"color":%b,"rating":%r}}'
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


class Renderer:
    def __init__(self, region: str):
        self.region = region
        self.dynamic = f"dynamic-{region}"
        self.static = f"{catalog.STATIC_NAMESPACE_VERSION}-{region}"
        # rendered parts of leaderboard members: whole members by member key (see Week.member),
        # realms by realm id, specializations by spec id
        self._members: dict[int, bytes] = {}
        self._realm_parts: dict[int, bytes] = {}
        self._spec_parts: dict[int, bytes] = {}

    def href(self, path: str, static: bool = False) -> str:
        namespace = self.static if static else self.dynamic
        return f"https://{self.region}.api.blizzard.com/data/wow/{path}?namespace={namespace}"

    def key(self, path: str, static: bool = False) -> dict[str, str]:
        return {"href": self.href(path, static)}

    def links(self, path: str, static: bool = False) -> dict[str, Any]:
        return {"self": self.key(path, static)}

    # --- realms ---------------------------------------------------------------------------------
    def connected_realm_index(self, realms: tuple[ConnectedRealm, ...]) -> bytes:
        return dumps(
            {
                "_links": self.links("connected-realm/"),
                "connected_realms": [self.key(f"connected-realm/{cr.id}") for cr in realms],
            }
        )

    def connected_realm(self, cr: ConnectedRealm) -> bytes:
        region_name = catalog.REGION_NAMES[self.region]
        region_id = catalog.REGION_IDS[self.region]
        return dumps(
            {
                "_links": self.links(f"connected-realm/{cr.id}"),
                "id": cr.id,
                "has_queue": False,
                "status": {"type": "UP", "name": "Up"},
                "population": {"type": "HIGH", "name": "High"}
                if cr.weight > 1
                else {"type": "MEDIUM", "name": "Medium"},
                "realms": [
                    {
                        "id": realm.id,
                        "region": {
                            "key": self.key(f"region/{region_id}"),
                            "name": region_name,
                            "id": region_id,
                        },
                        "connected_realm": self.key(f"connected-realm/{cr.id}"),
                        "name": realm.name,
                        "category": region_name,
                        "locale": _LOCALES[self.region],
                        "timezone": _TIMEZONES[self.region],
                        "type": {"type": "NORMAL", "name": "Normal"},
                        "is_tournament": False,
                        "slug": realm.slug,
                    }
                    for realm in cr.realms
                ],
                "mythic_leaderboards": self.key(f"connected-realm/{cr.id}/mythic-leaderboard/"),
                "auctions": self.key(f"connected-realm/{cr.id}/auctions"),
            }
        )

    def leaderboard_index(self, cr_id: int, dungeons: tuple[Dungeon, ...], period: int) -> bytes:
        return dumps(
            {
                "_links": self.links(f"connected-realm/{cr_id}/mythic-leaderboard/"),
                "current_leaderboards": [
                    {
                        "key": self.key(
                            f"connected-realm/{cr_id}/mythic-leaderboard/{d.id}/period/{period}"
                        ),
                        "name": d.name,
                        "id": d.id,
                    }
                    for d in dungeons
                ],
            }
        )

    # --- leaderboards ---------------------------------------------------------------------------
    def leaderboard(
        self,
        cr_id: int,
        dungeon: Dungeon,
        period: int,
        week: Week,
        rows: np.ndarray,
    ) -> bytes:
        """The board showing the week's ``rows`` in order."""
        path = f"connected-realm/{cr_id}/mythic-leaderboard/{dungeon.id}/period/{period}"
        head = dumps(
            {
                "_links": self.links(path),
                "map": {"name": dungeon.name, "id": dungeon.map_id},
                "period": period,
                "period_start_timestamp": _ms(catalog.period_start(self.region, period)),
                "period_end_timestamp": _ms(catalog.period_end(self.region, period)),
                "connected_realm": self.key(f"connected-realm/{cr_id}"),
            }
        )
        tail = dumps(
            {
                "keystone_affixes": [
                    {
                        "keystone_affix": {
                            "key": self.key(f"keystone-affix/{affix_id}", static=True),
                            "name": name,
                            "id": affix_id,
                        },
                        "starting_level": level,
                    }
                    for affix_id, name, level in catalog.affixes(period)
                ],
                "map_challenge_mode_id": dungeon.id,
                "name": dungeon.name,
            }
        )
        fragments = week.fragments
        shown = rows.tolist()
        missing = [row for row in shown if row not in fragments]
        if missing:
            self._render_entries(week, missing)
        groups = b",".join(
            [
                b'{"ranking":%d,%s' % (ranking, fragments[row])
                for ranking, row in enumerate(shown, 1)
            ]
        )
        return head[:-1] + b',"leading_groups":[' + groups + b"]," + tail[1:]

    def _render_entries(self, week: Week, rows: list[int]) -> None:
        """Entries without their ranking and opening brace, kept on the week (boards share them).

        Racing threads render the same bytes, so the caches need no lock.
        """
        columns = week.columns(rows)
        members = self._members
        for key in set(itertools.chain.from_iterable(columns.members)).difference(members):
            members[key] = self._member(*week.member(key))
        member = members.__getitem__
        for row, keys, duration, completed, level, rating in zip(
            rows,
            columns.members,
            columns.duration,
            columns.completed,
            columns.level,
            columns.rating,
            strict=True,
        ):
            week.fragments[row] = _ENTRY % (
                duration,
                completed,
                level,
                b",".join(map(member, keys)),
                _rating_color(rating),
                rating,
            )

    def _member(self, character: Character, spec_id: int) -> bytes:
        realm = self._realm_parts.get(character.realm_id)
        if realm is None:
            realm = dumps(
                {
                    "key": self.key(f"realm/{character.realm_id}"),
                    "id": character.realm_id,
                    "slug": character.realm_slug,
                }
            )
            self._realm_parts[character.realm_id] = realm
        spec = self._spec_parts.get(spec_id)
        if spec is None:
            spec = dumps(
                {"key": self.key(f"playable-specialization/{spec_id}", static=True), "id": spec_id}
            )
            self._spec_parts[spec_id] = spec
        return _MEMBER % (
            dumps(character.name),
            character.id,
            realm,
            dumps(character.faction),
            spec,
        )

    # --- periods and seasons ---------------------------------------------------------------------
    def period_index(self, periods: list[int]) -> bytes:
        return dumps(
            {
                "_links": self.links("mythic-keystone/period/"),
                "periods": [
                    {"key": self.key(f"mythic-keystone/period/{p}"), "id": p} for p in periods
                ],
                "current_period": {
                    "key": self.key(f"mythic-keystone/period/{periods[-1]}"),
                    "id": periods[-1],
                },
            }
        )

    def period(self, period: int) -> bytes:
        return dumps(
            {
                "_links": self.links(f"mythic-keystone/period/{period}"),
                "id": period,
                "start_timestamp": _ms(catalog.period_start(self.region, period)),
                "end_timestamp": _ms(catalog.period_end(self.region, period)),
            }
        )

    def season_index(self, season_id: int) -> bytes:
        return dumps(
            {
                "_links": self.links("mythic-keystone/season/"),
                "seasons": [
                    {"key": self.key(f"mythic-keystone/season/{season_id}"), "id": season_id}
                ],
                "current_season": {
                    "key": self.key(f"mythic-keystone/season/{season_id}"),
                    "id": season_id,
                },
            }
        )

    def season(self, season_id: int, periods: list[int]) -> bytes:
        """A running season has no end_timestamp yet."""
        return dumps(
            {
                "_links": self.links(f"mythic-keystone/season/{season_id}"),
                "id": season_id,
                "start_timestamp": _ms(catalog.period_start(self.region, periods[0])),
                "periods": [
                    {"key": self.key(f"mythic-keystone/period/{p}"), "id": p} for p in periods
                ],
            }
        )

    # --- dungeons and specs ----------------------------------------------------------------------
    def dungeon_index(self, dungeons: tuple[Dungeon, ...]) -> bytes:
        return dumps(
            {
                "_links": self.links("mythic-keystone/dungeon/"),
                "dungeons": [
                    {"key": self.key(f"mythic-keystone/dungeon/{d.id}"), "name": d.name, "id": d.id}
                    for d in dungeons
                ],
            }
        )

    def dungeon(self, d: Dungeon) -> bytes:
        return dumps(
            {
                "_links": self.links(f"mythic-keystone/dungeon/{d.id}"),
                "id": d.id,
                "name": d.name,
                "map": {"name": d.name, "id": d.map_id},
                "zone": {"slug": d.zone_slug},
                "dungeon": {
                    "key": self.key(f"journal-instance/{d.journal_id}", static=True),
                    "name": d.name,
                    "id": d.journal_id,
                },
                "keystone_upgrades": [
                    {"upgrade_level": level, "qualifying_duration": ms}
                    for level, ms in enumerate(d.upgrades_ms, start=1)
                ],
                "is_tracked": d.in_season,
            }
        )

    def spec_index(self, specs: tuple[Spec, ...]) -> bytes:
        return dumps(
            {
                "_links": self.links("playable-specialization/", static=True),
                "character_specializations": [
                    {
                        "key": self.key(f"playable-specialization/{s.id}", static=True),
                        "name": s.name,
                        "id": s.id,
                    }
                    for s in specs
                ],
                "pet_specializations": [
                    {
                        "key": self.key(f"playable-specialization/{sid}", static=True),
                        "name": name,
                        "id": sid,
                    }
                    for sid, name in catalog.PET_SPECS
                ],
            }
        )

    def spec(self, s: Spec) -> bytes:
        description = f"A {s.role.lower()} specialization of the {s.class_name}."
        return dumps(
            {
                "_links": self.links(f"playable-specialization/{s.id}", static=True),
                "id": s.id,
                "playable_class": {
                    "key": self.key(f"playable-class/{s.class_id}", static=True),
                    "name": s.class_name,
                    "id": s.class_id,
                },
                "name": s.name,
                "gender_description": {"male": description, "female": description},
                "media": {
                    "key": self.key(f"media/playable-specialization/{s.id}", static=True),
                    "id": s.id,
                },
                "role": {"type": s.role, "name": ROLE_NAMES[s.role]},
                "pvp_talents": [
                    {
                        "talent": {
                            "key": self.key(f"pvp-talent/{s.id * 10}", static=True),
                            "name": f"{s.name} Mastery",
                            "id": s.id * 10,
                        },
                        "spell_tooltip": {
                            "description": "A synthetic talent.",
                            "cast_time": "Instant",
                            "range": "40 yd range",
                            "cooldown": "1 min cooldown",
                        },
                    }
                ],
                "spec_talent_tree": {
                    "key": self.key(
                        f"talent-tree/{s.class_id * 100}/playable-specialization/{s.id}",
                        static=True,
                    ),
                    "name": s.name,
                },
                "power_type": {
                    "key": self.key("power-type/0", static=True),
                    "name": "Mana",
                    "id": 0,
                },
                "primary_stat_type": {"type": "INTELLECT", "name": "Intellect"},
            }
        )


_LOCALES = {"us": "enUS", "eu": "enGB", "kr": "koKR", "tw": "zhTW"}
_TIMEZONES = {
    "us": "America/Chicago",
    "eu": "Europe/Paris",
    "kr": "Asia/Seoul",
    "tw": "Asia/Taipei",
}
# a run's score colour, as the game tints it: orange, purple, blue, green, then white
_COLORS = ((420, (255, 128, 0)), (360, (163, 53, 238)), (300, (0, 112, 221)), (240, (30, 255, 0)))


_COLOR_BODIES = tuple((floor, b'{"r":%d,"g":%d,"b":%d,"a":1}' % rgb) for floor, rgb in _COLORS)
_WHITE = b'{"r":255,"g":255,"b":255,"a":1}'


def _rating_color(rating: float) -> bytes:
    return next((body for floor, body in _COLOR_BODIES if rating >= floor), _WHITE)


def error_body(status: int, detail: str) -> bytes:
    return dumps({"code": status, "type": f"BLZWEBAPI{status:08d}", "detail": detail})
