"""The data contract in code: the tables other tools read, with their column types.

ARCHITECTURE.md describes them; change them only on purpose, and document the change.
Times are TIMESTAMP in UTC.
"""

from __future__ import annotations

CONTRACT_TABLES: dict[str, str] = {
    "runs": """
        run_id VARCHAR NOT NULL,
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        dungeon_id INTEGER NOT NULL,
        keystone_level INTEGER NOT NULL,
        duration_ms BIGINT NOT NULL,
        completed_at TIMESTAMP NOT NULL,
        mythic_rating DOUBLE,
        first_seen_at TIMESTAMP NOT NULL,
        last_seen_at TIMESTAMP NOT NULL
    """,
    "run_members": """
        run_id VARCHAR NOT NULL,
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        realm_id INTEGER NOT NULL,
        character_id BIGINT NOT NULL,
        character_name VARCHAR,
        name_unknown BOOLEAN NOT NULL,
        spec_id INTEGER NOT NULL,
        faction VARCHAR
    """,
    "run_boards": """
        run_id VARCHAR NOT NULL,
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        connected_realm_id INTEGER NOT NULL,
        best_ranking INTEGER NOT NULL,
        first_seen_at TIMESTAMP NOT NULL,
        last_seen_at TIMESTAMP NOT NULL
    """,
    "boards": """
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        connected_realm_id INTEGER NOT NULL,
        dungeon_id INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        entries INTEGER,
        is_full BOOLEAN,
        last_modified TIMESTAMP,
        fetched_at TIMESTAMP NOT NULL
    """,
    "rejected_entries": """
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        connected_realm_id INTEGER NOT NULL,
        dungeon_id INTEGER NOT NULL,
        reason VARCHAR NOT NULL,
        raw JSON
    """,
}

# Board status values in `boards.status` and in snapshot manifests.
BOARD_STATUSES = ("200", "304", "404", "error")
FULL_BOARD_ENTRIES = 500

REFERENCE_TABLES: dict[str, str] = {
    "ref_periods": """
        region VARCHAR NOT NULL,
        period INTEGER NOT NULL,
        "start" TIMESTAMP NOT NULL,
        "end" TIMESTAMP NOT NULL
    """,
    "ref_seasons": """
        season INTEGER NOT NULL,
        region VARCHAR NOT NULL,
        "start" TIMESTAMP,
        "end" TIMESTAMP,
        first_period INTEGER,
        last_period INTEGER
    """,
    "ref_connected_realms": """
        region VARCHAR NOT NULL,
        connected_realm_id INTEGER NOT NULL,
        realm_count INTEGER NOT NULL
    """,
    "ref_realms": """
        region VARCHAR NOT NULL,
        realm_id INTEGER NOT NULL,
        connected_realm_id INTEGER NOT NULL,
        name VARCHAR,
        slug VARCHAR
    """,
    "ref_dungeons": """
        season INTEGER NOT NULL,
        dungeon_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        timer_ms BIGINT NOT NULL,
        upgrade_2_ms BIGINT,
        upgrade_3_ms BIGINT,
        source VARCHAR NOT NULL
    """,
    "ref_specs": """
        spec_id INTEGER NOT NULL,
        spec_name VARCHAR NOT NULL,
        class_id INTEGER NOT NULL,
        class_name VARCHAR NOT NULL,
        role VARCHAR NOT NULL
    """,
}

PARTITIONED_TABLES = ("runs", "run_members", "run_boards", "boards", "rejected_entries")


def column_names(columns_sql: str) -> list[str]:
    """The column names of one of the DDL column lists above, quoted where the DDL quotes them."""
    return [line.split()[0] for line in columns_sql.strip().split("\n") if line.strip()]
