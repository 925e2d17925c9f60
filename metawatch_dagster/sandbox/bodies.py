"""JSON bodies in the shapes of Blizzard's real responses (see tests/fixtures/blizzard/).

Hrefs keep Blizzard's form (https://{region}.api.blizzard.com/...) so recorded bodies look real; clients
read ids. Leaderboard entries are rendered once per run and joined into boards as bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from metawatch_dagster.sandbox import catalog
from metawatch_dagster.sandbox.catalog import ROLE_NAMES, Dungeon, Spec
from metawatch_dagster.sandbox.population import ConnectedRealm, Population
from metawatch_dagster.sandbox.runs import SimRun


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


class Renderer:
    def __init__(self, region: str):
        self.region = region
        self.dynamic = f"dynamic-{region}"
        self.static = f"{catalog.STATIC_NAMESPACE_VERSION}-{region}"

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
        entries: tuple[SimRun, ...],
        population: Population,
    ) -> bytes:
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
        slugs = {r.id: r.slug for cr in population.connected_realms for r in cr.realms}
        groups = b",".join(
            b'{"ranking":%d,%s' % (ranking, self._entry(run, slugs))
            for ranking, run in enumerate(entries, start=1)
        )
        return head[:-1] + b',"leading_groups":[' + groups + b"]," + tail[1:]

    def _entry(self, run: SimRun, slugs: dict[int, str]) -> bytes:
        """The entry without its ranking and opening brace (cached on the run)."""
        if run.fragment is None:
            truth = run.truth
            entry = {
                "duration": truth.duration_ms,
                "completed_timestamp": truth.completed_timestamp,
                "keystone_level": truth.keystone_level,
                "members": [
                    {
                        "profile": {
                            "name": m.name,
                            "id": m.character_id,
                            "realm": {
                                "key": self.key(f"realm/{m.realm_id}"),
                                "id": m.realm_id,
                                "slug": slugs[m.realm_id],
                            },
                        },
                        "faction": {"type": m.faction},
                        "specialization": {
                            "key": self.key(f"playable-specialization/{m.spec_id}", static=True),
                            "id": m.spec_id,
                        },
                    }
                    for m in truth.members
                ],
                "mythic_rating": {
                    "color": _rating_color(truth.mythic_rating),
                    "rating": truth.mythic_rating,
                },
            }
            run.fragment = dumps(entry)[1:]
        return run.fragment

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


def _rating_color(rating: float) -> dict[str, int]:
    r, g, b = next((rgb for floor, rgb in _COLORS if rating >= floor), (255, 255, 255))
    return {"r": r, "g": g, "b": b, "a": 1}


def error_body(status: int, detail: str) -> bytes:
    return dumps({"code": status, "type": f"BLZWEBAPI{status:08d}", "detail": detail})
