"""The parse in DuckDB SQL: manifests and bodies in, the five contract tables out (as staged temp tables).

Statements take named parameters `$region`, `$period` and, where they read files, a list of paths.
Temp tables are prefixed `parse_` (work) and `staged_` (rows ready for the contract tables).
Every read_json sets hive_partitioning = false: the raw paths hold `region=`/`period=` folders, and
DuckDB would otherwise fill a body's or manifest's `period` from the path, hiding what the file says.
"""

from __future__ import annotations

from metawatch_dagster.contract import FULL_BOARD_ENTRIES

MAX_KEYSTONE_LEVEL = 40
PERIOD_SLACK_MS = 24 * 3600 * 1000
HTTP_DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"

_MANIFEST_BOARD = (
    "STRUCT(connected_realm_id INTEGER, dungeon_id INTEGER, status VARCHAR, last_modified VARCHAR,"
    " fetched_at VARCHAR, body VARCHAR, error VARCHAR, bytes BIGINT)"
)
MANIFEST_COLUMNS = (
    "{'format': 'INTEGER', 'region': 'VARCHAR', 'period': 'INTEGER', 'snapshot_id': 'VARCHAR',"
    f" 'boards': '{_MANIFEST_BOARD}[]'}}"
)

# Every number is read as BIGINT so an absurd value quarantines one entry instead of failing its board.
_MEMBER = (
    "STRUCT(profile STRUCT(name VARCHAR, id BIGINT, realm STRUCT(id BIGINT)),"
    " faction STRUCT(type VARCHAR), specialization STRUCT(id BIGINT))"
)
ENTRY_TYPE = (
    "STRUCT(ranking BIGINT, duration BIGINT, completed_timestamp BIGINT, keystone_level BIGINT,"
    f" members {_MEMBER}[], mythic_rating STRUCT(rating DOUBLE))"
)
BODY_COLUMNS = (
    "{'period': 'BIGINT', 'period_start_timestamp': 'BIGINT', 'period_end_timestamp': 'BIGINT',"
    f" 'map_challenge_mode_id': 'BIGINT', 'leading_groups': '{ENTRY_TYPE}[]'}}"
)
_READ_BODIES = (
    f"read_json($files, columns = {BODY_COLUMNS}, format = 'unstructured', hive_partitioning = false, compression = 'gzip',"
    " filename = true)"
)

CREATE_WORK_TABLES = (
    f"""CREATE OR REPLACE TEMP TABLE parse_snapshots (
        format INTEGER, region VARCHAR, period INTEGER, snapshot_id VARCHAR,
        boards {_MANIFEST_BOARD}[])""",
    f"""CREATE OR REPLACE TEMP TABLE parse_bodies (
        body_file VARCHAR, period BIGINT, period_start_timestamp BIGINT,
        period_end_timestamp BIGINT, map_challenge_mode_id BIGINT, leading_groups {ENTRY_TYPE}[])""",
    "CREATE OR REPLACE TEMP TABLE parse_bad_bodies (body_file VARCHAR, reason VARCHAR, detail VARCHAR)",
)

WORK_TABLES = (
    "parse_snapshots",
    "parse_manifest",
    "parse_bodies",
    "parse_bad_bodies",
    "parse_body_boards",
    "parse_body_seen",
    "parse_entries",
    "parse_valid",
    "parse_raw_entries",
    "parse_picked",
)

READ_MANIFESTS = f"""
INSERT INTO parse_snapshots
SELECT format, region, period, snapshot_id, boards
FROM read_json($files, columns = {MANIFEST_COLUMNS}, format = 'unstructured', hive_partitioning = false)
"""

FOREIGN_MANIFESTS = """
SELECT snapshot_id, format, region, period FROM parse_snapshots
WHERE format IS DISTINCT FROM 1 OR region IS DISTINCT FROM $region OR period IS DISTINCT FROM $period
"""

# One row per board per snapshot; body_file is the absolute path of the body the entry names.
BUILD_MANIFEST = """
CREATE OR REPLACE TEMP TABLE parse_manifest AS
SELECT
    snapshot_id,
    b.connected_realm_id,
    b.dungeon_id,
    b.status,
    b.last_modified,
    CAST(b.fetched_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS fetched_at,
    b.body,
    $partition_dir || '/' || b.body AS body_file
FROM (SELECT snapshot_id, unnest(boards) AS b FROM parse_snapshots)
"""

BODY_FILES = "SELECT DISTINCT body_file FROM parse_manifest WHERE body_file IS NOT NULL ORDER BY 1"

READ_BODIES = f"""
INSERT INTO parse_bodies
SELECT filename, period, period_start_timestamp, period_end_timestamp, map_challenge_mode_id,
       leading_groups
FROM {_READ_BODIES}
"""

# Bodies that read but are not one leaderboard object: empty files, several values, a bare null.
FLAG_BODIES_NOT_ONE_LEADERBOARD = """
INSERT INTO parse_bad_bodies
SELECT f.body_file, 'invalid_json', 'not exactly one JSON object'
FROM (SELECT unnest($files) AS body_file) f
LEFT JOIN (SELECT body_file, count(*) AS n FROM parse_bodies GROUP BY body_file) b USING (body_file)
WHERE coalesce(b.n, 0) <> 1
  AND f.body_file NOT IN (SELECT body_file FROM parse_bad_bodies)
UNION ALL
SELECT body_file, 'not_a_leaderboard', 'no period in the body'
FROM parse_bodies GROUP BY body_file HAVING count(*) = 1 AND bool_and(period IS NULL)
"""

DROP_BAD_BODIES = (
    "DELETE FROM parse_bodies WHERE body_file IN (SELECT body_file FROM parse_bad_bodies)"
)

BUILD_BODY_BOARDS = """
CREATE OR REPLACE TEMP TABLE parse_body_boards AS
SELECT DISTINCT body_file, connected_realm_id, dungeon_id
FROM parse_manifest WHERE body_file IS NOT NULL
"""

BUILD_BODY_SEEN = """
CREATE OR REPLACE TEMP TABLE parse_body_seen AS
SELECT body_file, min(fetched_at) AS first_seen_at, max(fetched_at) AS last_seen_at
FROM parse_manifest
WHERE body_file IS NOT NULL AND status IN ('200', '304')
GROUP BY body_file
"""

# The first rule an entry breaks is its reason; NULL means a valid run.
BUILD_ENTRIES = f"""
CREATE OR REPLACE TEMP TABLE parse_entries AS
SELECT
    bb.connected_realm_id,
    bb.dungeon_id,
    b.body_file,
    e.entry_index,
    e.g,
    CASE
        WHEN b.period <> $period THEN 'wrong_period'
        WHEN b.map_challenge_mode_id <> bb.dungeon_id THEN 'wrong_dungeon'
        WHEN e.g IS NULL THEN 'not_an_object'
        WHEN e.g.ranking IS NULL OR e.g.ranking < 1 THEN 'bad_ranking'
        WHEN e.g.completed_timestamp IS NULL THEN 'missing_completed_timestamp'
        WHEN e.g.completed_timestamp < b.period_start_timestamp - {PERIOD_SLACK_MS}
          OR e.g.completed_timestamp > b.period_end_timestamp + {PERIOD_SLACK_MS}
            THEN 'completed_outside_period'
        WHEN e.g.duration IS NULL OR e.g.duration <= 0 THEN 'bad_duration'
        WHEN e.g.keystone_level IS NULL OR e.g.keystone_level NOT BETWEEN 2 AND {MAX_KEYSTONE_LEVEL}
            THEN 'bad_keystone_level'
        WHEN e.g.members IS NULL OR len(e.g.members) <> 5 THEN 'not_five_members'
        WHEN list_bool_or(list_transform(e.g.members, lambda m:
                m IS NULL OR m.profile.id IS NULL OR m.profile.realm.id IS NULL))
            THEN 'member_without_id'
        WHEN list_bool_or(list_transform(e.g.members, lambda m: m.specialization.id IS NULL))
            THEN 'member_without_spec'
        WHEN len(list_distinct(list_transform(e.g.members, lambda m:
                [m.profile.realm.id, m.profile.id]))) <> 5
            THEN 'duplicate_member'
    END AS reason
FROM parse_bodies b
JOIN parse_body_boards bb USING (body_file)
CROSS JOIN unnest(b.leading_groups) WITH ORDINALITY AS e(g, entry_index)
"""

# run_id exactly as metawatch_dagster/run_identity.py: md5 of
# region|period|dungeon_id|completed_timestamp|duration|keystone_level|r1:c1,... (members sorted
# numerically by realm id, then character id).
RUN_ID_EXPRESSION = """md5(concat_ws('|', $region, $period, dungeon_id, g.completed_timestamp,
    g.duration, g.keystone_level,
    array_to_string(list_transform(
        list_sort(list_transform(g.members, lambda m: [m.profile.realm.id, m.profile.id])),
        lambda p: concat(p[1], ':', p[2])), ',')))"""

BUILD_VALID = f"""
CREATE OR REPLACE TEMP TABLE parse_valid AS
SELECT
    {RUN_ID_EXPRESSION} AS run_id,
    connected_realm_id,
    dungeon_id,
    body_file,
    entry_index,
    g.ranking,
    g.completed_timestamp,
    g.duration,
    g.keystone_level,
    g.mythic_rating.rating AS mythic_rating,
    g.members
FROM parse_entries
WHERE reason IS NULL
"""

# Names, specs and rating come from the run's most recent listing (ties broken by body, then entry).
BUILD_PICKED = """
CREATE OR REPLACE TEMP TABLE parse_picked AS
SELECT * EXCLUDE (pick) FROM (
    SELECT
        v.*,
        min(s.first_seen_at) OVER (PARTITION BY v.run_id) AS first_seen_at,
        max(s.last_seen_at) OVER (PARTITION BY v.run_id) AS last_seen_at,
        row_number() OVER (
            PARTITION BY v.run_id
            ORDER BY s.last_seen_at DESC, v.body_file DESC, v.entry_index
        ) AS pick
    FROM parse_valid v JOIN parse_body_seen s USING (body_file)
)
WHERE pick = 1
"""

STAGE_RUNS = """
CREATE OR REPLACE TEMP TABLE staged_runs AS
SELECT
    run_id, $region AS region, $period AS period, dungeon_id, keystone_level,
    duration AS duration_ms, epoch_ms(completed_timestamp) AS completed_at, mythic_rating,
    first_seen_at, last_seen_at
FROM parse_picked
"""

STAGE_RUN_MEMBERS = """
CREATE OR REPLACE TEMP TABLE staged_run_members AS
SELECT
    run_id, $region AS region, $period AS period,
    m.profile.realm.id AS realm_id,
    m.profile.id AS character_id,
    m.profile.name AS character_name,
    coalesce(trim(m.profile.name), '') IN ('', 'UNKNOWN') AS name_unknown,
    m.specialization.id AS spec_id,
    m.faction.type AS faction
FROM (SELECT run_id, unnest(members) AS m FROM parse_picked)
"""

STAGE_RUN_BOARDS = """
CREATE OR REPLACE TEMP TABLE staged_run_boards AS
SELECT
    run_id, $region AS region, $period AS period, connected_realm_id,
    min(ranking) AS best_ranking,
    min(s.first_seen_at) AS first_seen_at,
    max(s.last_seen_at) AS last_seen_at
FROM parse_valid JOIN parse_body_seen s USING (body_file)
GROUP BY run_id, connected_realm_id
"""

# A board's row comes from the newest snapshot that lists it.
STAGE_BOARDS = f"""
CREATE OR REPLACE TEMP TABLE staged_boards AS
SELECT
    $region AS region, $period AS period, m.connected_realm_id, m.dungeon_id, m.status,
    b.entries,
    b.entries >= {FULL_BOARD_ENTRIES} AS is_full,
    try_strptime(m.last_modified, '{HTTP_DATE_FORMAT}') AS last_modified,
    m.fetched_at
FROM parse_manifest m
LEFT JOIN (
    SELECT body_file, coalesce(len(leading_groups), 0) AS entries FROM parse_bodies
) b USING (body_file)
QUALIFY row_number() OVER (
    PARTITION BY m.connected_realm_id, m.dungeon_id ORDER BY m.snapshot_id DESC
) = 1
"""

REJECTED_BODY_FILES = (
    "SELECT DISTINCT body_file FROM parse_entries WHERE reason IS NOT NULL ORDER BY 1"
)

# The exact JSON of each entry, read again only from bodies that have rejected entries.
READ_RAW_ENTRIES = """
CREATE OR REPLACE TEMP TABLE parse_raw_entries AS
SELECT b.filename AS body_file, e.raw, e.entry_index
FROM read_json($files, columns = {'leading_groups': 'JSON[]'}, format = 'unstructured', hive_partitioning = false,
               compression = 'gzip', filename = true) b
CROSS JOIN unnest(b.leading_groups) WITH ORDINALITY AS e(raw, entry_index)
"""

EMPTY_RAW_ENTRIES = """
CREATE OR REPLACE TEMP TABLE parse_raw_entries
    (body_file VARCHAR, raw JSON, entry_index BIGINT)
"""

# The same bad entry held in several bodies (snapshots) is one rejected entry.
STAGE_REJECTED = """
CREATE OR REPLACE TEMP TABLE staged_rejected_entries AS
SELECT DISTINCT $region AS region, $period AS period, connected_realm_id, dungeon_id, reason, raw
FROM parse_entries JOIN parse_raw_entries USING (body_file, entry_index)
WHERE reason IS NOT NULL
UNION ALL
SELECT $region, $period, bb.connected_realm_id, bb.dungeon_id, bad.reason,
       json_object('body', m.body, 'error', bad.detail)
FROM parse_bad_bodies bad
JOIN parse_body_boards bb USING (body_file)
JOIN (SELECT DISTINCT body_file, body FROM parse_manifest) m USING (body_file)
"""

STAGED_TABLES = {
    "runs": "staged_runs",
    "run_members": "staged_run_members",
    "run_boards": "staged_run_boards",
    "boards": "staged_boards",
    "rejected_entries": "staged_rejected_entries",
}
