"""The contract's run_id: one stable id per real run, however many boards listed it.

md5 of ``region|period|dungeon_id|completed_timestamp|duration|keystone_level|r1:c1,r2:c2,...``
with members ``realm_id:character_id`` sorted numerically by realm id, then character id.
The parser computes the same text in SQL; the sandbox's truth uses this function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def run_id_text(
    region: str,
    period: int,
    dungeon_id: int,
    completed_timestamp: int,
    duration: int,
    keystone_level: int,
    members: Iterable[tuple[int, int]],
) -> str:
    roster = ",".join(f"{realm}:{character}" for realm, character in sorted(members))
    return (
        f"{region}|{period}|{dungeon_id}|{completed_timestamp}|{duration}|{keystone_level}|{roster}"
    )


def run_id(
    region: str,
    period: int,
    dungeon_id: int,
    completed_timestamp: int,
    duration: int,
    keystone_level: int,
    members: Iterable[tuple[int, int]],
) -> str:
    text = run_id_text(
        region, period, dungeon_id, completed_timestamp, duration, keystone_level, members
    )
    return hashlib.md5(text.encode("utf-8")).hexdigest()
