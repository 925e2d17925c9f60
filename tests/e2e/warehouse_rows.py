"""Reading the warehouse back in tests, and the sandbox's truth in the same shape."""

from __future__ import annotations

from pathlib import Path

import duckdb


def read_partition(db_path: Path, region: str, period: int) -> dict[str, set]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        params = [region, period]
        runs = con.execute(
            "SELECT run_id, dungeon_id, keystone_level, duration_ms, mythic_rating FROM runs "
            "WHERE region = ? AND period = ?",
            params,
        ).fetchall()
        members = con.execute(
            "SELECT run_id, realm_id, character_id, spec_id FROM run_members "
            "WHERE region = ? AND period = ?",
            params,
        ).fetchall()
        listings = con.execute(
            "SELECT run_id, connected_realm_id, best_ranking FROM run_boards "
            "WHERE region = ? AND period = ?",
            params,
        ).fetchall()
    return {"runs": set(runs), "members": set(members), "listings": set(listings)}


def truth_rows(truth) -> dict[str, set]:
    listings = {(run_id, cr, ranking) for (run_id, cr), ranking in truth.listings.items()}
    return {"runs": truth.run_rows(), "members": truth.member_rows(), "listings": listings}
