"""The parse in DuckDB SQL: manifests and bodies in, the five contract tables out (as staged temp tables).

Two halves. Reading: bodies not yet in the parse cache are read into `parse_read`, one row per entry
with its validation reason, run_id and members, in one pass over the JSON; the cache keeps every
column but the members, of which it keeps a hash (`parse_cache.entries`). Rebuilding: the partition's
contract rows are derived from the cache and the manifests of every snapshot, which is cheap next to
reading JSON, so a reload that brings 5% new bodies costs a fraction of a full parse, and its rows
equal a full rebuild's by construction (the same SQL builds both). Members are written only for runs
whose picked members' hash changed; a pick in a body this parse did not read has that body read again
(rare: picks follow the newest content, which is what a parse reads). Bodies superseded on their board
are folded: their listings merged per run and board into `parse_cache.folded`, which the rebuild reads
beside the entries of the other bodies (min, max and pick are the same over the merged rows).

Statements take named parameters `$region`, `$period` and, where they read files, a list of paths.
Temp tables are prefixed `parse_` (work) and `staged_` (rows ready for the contract tables).
Every read_json sets hive_partitioning = false: the raw paths hold `region=`/`period=` folders, and
DuckDB would otherwise fill a body's or manifest's `period` from the path, hiding what the file says.
"""

from __future__ import annotations

from dataclasses import dataclass

from metawatch_dagster.contract import FULL_BOARD_ENTRIES

MAX_KEYSTONE_LEVEL = 40
# The contract keeps rankings, realm ids and spec ids as INTEGER, and completion times as TIMESTAMP: a
# value past these would fail the partition's write, so its entry is quarantined instead.
MAX_INTEGER = 2**31 - 1
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31 23:59:59.999
PERIOD_SLACK_MS = 24 * 3600 * 1000
HTTP_DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"
RUN_MEMBERS = 5

_MANIFEST_BOARD = (
    "STRUCT(connected_realm_id INTEGER, dungeon_id INTEGER, status VARCHAR, last_modified VARCHAR,"
    " fetched_at VARCHAR, body VARCHAR, error VARCHAR, bytes BIGINT)"
)
MANIFEST_COLUMNS = (
    "{'format': 'INTEGER', 'region': 'VARCHAR', 'period': 'INTEGER', 'snapshot_id': 'VARCHAR',"
    f" 'boards': '{_MANIFEST_BOARD}[]'}}"
)

# Every number is read as BIGINT so an absurd value quarantines one entry instead of failing its board.
MEMBER_TYPE = (
    "STRUCT(profile STRUCT(name VARCHAR, id BIGINT, realm STRUCT(id BIGINT)),"
    " faction STRUCT(type VARCHAR), specialization STRUCT(id BIGINT))"
)
ENTRY_TYPE = (
    "STRUCT(ranking BIGINT, duration BIGINT, completed_timestamp BIGINT, keystone_level BIGINT,"
    f" members {MEMBER_TYPE}[], mythic_rating STRUCT(rating DOUBLE))"
)
BODY_COLUMNS = (
    "{'period': 'BIGINT', 'period_start_timestamp': 'BIGINT', 'period_end_timestamp': 'BIGINT',"
    f" 'map_challenge_mode_id': 'BIGINT', 'leading_groups': '{ENTRY_TYPE}[]'}}"
)
# What is kept of each entry read: everything but its members, keyed by the body and the board naming it.
ENTRY_COLUMNS = {
    "body": "VARCHAR",
    "connected_realm_id": "INTEGER",
    "dungeon_id": "INTEGER",
    "entry_index": "BIGINT",
    "body_period": "BIGINT",
    "reason": "VARCHAR",
    "run_id": "VARCHAR",
    "ranking": "BIGINT",
    "completed_timestamp": "BIGINT",
    "duration": "BIGINT",
    "keystone_level": "BIGINT",
    "mythic_rating": "DOUBLE",
    "members_hash": "UBIGINT",
}
ENTRY_DDL = ", ".join(f"{name} {kind}" for name, kind in ENTRY_COLUMNS.items())
# A listing: a valid entry with the board naming it and the times its body was seen. A folded row has
# these columns too, as the listings of folded bodies merged per run and board.
_LISTING_FIELDS = (
    "run_id",
    "body",
    "connected_realm_id",
    "dungeon_id",
    "entry_index",
    "ranking",
    "keystone_level",
    "duration",
    "completed_timestamp",
    "mythic_rating",
    "members_hash",
)
FOLDED_COLUMNS = {
    **{name: ENTRY_COLUMNS[name] for name in _LISTING_FIELDS},
    "first_seen_at": "TIMESTAMP",
    "last_seen_at": "TIMESTAMP",
}
FOLDED_DDL = ", ".join(f"{name} {kind}" for name, kind in FOLDED_COLUMNS.items())
# The layouts a body is read as, fastest first. Blizzard and the sandbox send a body on one line, which
# DuckDB reads about a quarter faster as newline-delimited JSON; a body laid out over several lines (a
# pretty-printed fixture, say) fails that read, and unstructured JSON takes any layout.
BODY_LAYOUTS = ("newline_delimited", "unstructured")
ANY_LAYOUT = BODY_LAYOUTS[-1]


def _read_bodies(layout: str) -> str:
    return (
        f"read_json($files, columns = {BODY_COLUMNS}, format = '{layout}',"
        " hive_partitioning = false, compression = 'gzip', filename = true)"
    )


PARTITION = "region = $region AND period = $period"


def _partition_of(alias: str) -> str:
    return f"{alias}.region = $region AND {alias}.period = $period"


_BOARD_KEY = "body, connected_realm_id, dungeon_id"

CREATE_WORK_TABLES = (
    f"CREATE OR REPLACE TEMP TABLE parse_read ({ENTRY_DDL}, members {MEMBER_TYPE}[])",
    f"""CREATE OR REPLACE TEMP TABLE parse_snapshots (
        format INTEGER, region VARCHAR, period INTEGER, snapshot_id VARCHAR,
        boards {_MANIFEST_BOARD}[])""",
    "CREATE OR REPLACE TEMP TABLE parse_read_errors (body_file VARCHAR, reason VARCHAR, detail VARCHAR)",
)

WORK_TABLES = (
    "parse_snapshots",
    "parse_manifest",
    "parse_body_boards",
    "parse_body_seen",
    "parse_files",
    "parse_to_read",
    "parse_reread",
    "parse_read",
    "parse_read_errors",
    "parse_raw_entries",
    "parse_good_bodies",
    "parse_to_fold",
    "parse_folded",
    "parse_picked",
    "parse_member_changes",
    "parse_gone_runs",
    "parse_merge_targets",
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

# One row per board per snapshot; `body` is the body's path relative to the partition folder.
BUILD_MANIFEST = """
CREATE OR REPLACE TEMP TABLE parse_manifest AS
SELECT
    snapshot_id,
    b.connected_realm_id,
    b.dungeon_id,
    b.status,
    b.last_modified,
    CAST(b.fetched_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS fetched_at,
    b.body
FROM (SELECT snapshot_id, unnest(boards) AS b FROM parse_snapshots)
"""

BUILD_BODY_BOARDS = f"""
CREATE OR REPLACE TEMP TABLE parse_body_boards AS
SELECT DISTINCT {_BOARD_KEY} FROM parse_manifest WHERE body IS NOT NULL
"""

# `content_rank` orders the bodies by when they were first seen, then by path: the newest content last.
BUILD_BODY_SEEN = """
CREATE OR REPLACE TEMP TABLE parse_body_seen AS
SELECT body, min(fetched_at) AS first_seen_at, max(fetched_at) AS last_seen_at,
       row_number() OVER (ORDER BY min(fetched_at), body) AS content_rank
FROM parse_manifest
WHERE body IS NOT NULL AND status IN ('200', '304')
GROUP BY body
"""

BODIES = "SELECT DISTINCT body FROM parse_body_boards ORDER BY 1"

# The files on disk now (size and mtime_ns NULL when missing), from parallel lists.
BUILD_FILES = """
CREATE OR REPLACE TEMP TABLE parse_files AS
SELECT unnest($bodies) AS body, unnest($body_files) AS body_file,
       unnest($sizes)::BIGINT AS size, unnest($mtimes)::BIGINT AS mtime_ns
"""

# Is every folded body still named by its board, unchanged on disk and seen at the times it was folded
# with? Then the folded rows still hold what its entries would give; otherwise the parse starts over.
FOLDED_INTACT = f"""
SELECT count(*) = 0 FROM parse_cache.bodies c
WHERE {_partition_of("c")} AND c.folded_first_seen_at IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM parse_body_boards b JOIN parse_files f USING (body) JOIN parse_body_seen s USING (body)
    WHERE b.body = c.body AND b.connected_realm_id = c.connected_realm_id
      AND b.dungeon_id = c.dungeon_id
      AND f.size IS NOT DISTINCT FROM c.size AND f.mtime_ns IS NOT DISTINCT FROM c.mtime_ns
      AND s.first_seen_at = c.folded_first_seen_at AND s.last_seen_at = c.folded_last_seen_at)
"""

# Cache rows to drop before reading: everything on a forced full parse; otherwise bodies no manifest
# names any more and bodies whose file changed since it was read. Then entries whose body row is gone
# (also those an interrupted read left behind).
DROP_ALL_CACHED = tuple(
    f"DELETE FROM parse_cache.{table} WHERE {PARTITION}" for table in ("bodies", "folded")
)
DROP_STALE_CACHED = (
    f"""DELETE FROM parse_cache.bodies c WHERE {_partition_of("c")} AND NOT EXISTS (
        SELECT 1 FROM parse_body_boards b JOIN parse_files f USING (body)
        WHERE b.body = c.body AND b.connected_realm_id = c.connected_realm_id
          AND b.dungeon_id = c.dungeon_id
          AND f.size IS NOT DISTINCT FROM c.size AND f.mtime_ns IS NOT DISTINCT FROM c.mtime_ns)""",
)
DROP_ORPHANS = tuple(
    f"""DELETE FROM parse_cache.{table} c WHERE {_partition_of("c")} AND NOT EXISTS (
        SELECT 1 FROM parse_cache.bodies b WHERE {_partition_of("b")} AND b.body = c.body
          AND b.connected_realm_id = c.connected_realm_id AND b.dungeon_id = c.dungeon_id)"""
    for table in ("entries", "rejected")
)

# Boards whose body is on disk and not cached: what this parse reads.
BUILD_TO_READ = f"""
CREATE OR REPLACE TEMP TABLE parse_to_read AS
SELECT b.body, b.connected_realm_id, b.dungeon_id, f.body_file, f.size, f.mtime_ns
FROM parse_body_boards b JOIN parse_files f USING (body)
WHERE f.size IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM parse_cache.bodies c WHERE {_partition_of("c")} AND c.body = b.body
      AND c.connected_realm_id = b.connected_realm_id AND c.dungeon_id = b.dungeon_id)
"""

FILES_TO_READ = "SELECT DISTINCT body_file FROM parse_to_read ORDER BY 1"

_M = range(1, RUN_MEMBERS + 1)


def _any_member(condition: str) -> str:
    return " OR ".join(condition.format(i=i) for i in _M)


# Members as [realm id, character id] sorted numerically: the roster of the run_id, and adjacent
# duplicates reveal a member listed twice. Indexed by position: lambdas here cost more than the read.
_SORTED_MEMBER_KEYS = (
    "list_sort(["
    + ", ".join(f"[g.members[{i}].profile.realm.id, g.members[{i}].profile.id]" for i in _M)
    + "])"
)

# The first rule an entry breaks is its reason; NULL means a valid run.
_REASON = f"""CASE
        WHEN entry_index IS NULL THEN NULL
        WHEN body_period <> $period THEN 'wrong_period'
        WHEN map_challenge_mode_id <> dungeon_id THEN 'wrong_dungeon'
        WHEN g IS NULL THEN 'not_an_object'
        WHEN g.ranking IS NULL OR g.ranking NOT BETWEEN 1 AND {MAX_INTEGER} THEN 'bad_ranking'
        WHEN g.completed_timestamp IS NULL THEN 'missing_completed_timestamp'
        WHEN g.completed_timestamp < period_start_timestamp - {PERIOD_SLACK_MS}
          OR g.completed_timestamp > period_end_timestamp + {PERIOD_SLACK_MS}
          OR g.completed_timestamp NOT BETWEEN 0 AND {MAX_TIMESTAMP_MS}
            THEN 'completed_outside_period'
        WHEN g.duration IS NULL OR g.duration <= 0 THEN 'bad_duration'
        WHEN g.keystone_level IS NULL OR g.keystone_level NOT BETWEEN 2 AND {MAX_KEYSTONE_LEVEL}
            THEN 'bad_keystone_level'
        WHEN g.members IS NULL OR len(g.members) <> {RUN_MEMBERS} THEN 'not_five_members'
        WHEN {
    _any_member(
        "g.members[{i}] IS NULL OR g.members[{i}].profile.id IS NULL"
        " OR g.members[{i}].profile.realm.id IS NULL"
        f" OR g.members[{{i}}].profile.realm.id NOT BETWEEN 1 AND {MAX_INTEGER}"
    )
} THEN 'member_without_id'
        WHEN {
    _any_member(
        "g.members[{i}].specialization.id IS NULL"
        f" OR g.members[{{i}}].specialization.id NOT BETWEEN 1 AND {MAX_INTEGER}"
    )
} THEN 'member_without_spec'
        WHEN {
    " OR ".join(f"k[{i}] = k[{i + 1}]" for i in range(1, RUN_MEMBERS))
} THEN 'duplicate_member'
    END"""

# run_id exactly as metawatch_dagster/run_identity.py: md5 of
# region|period|dungeon_id|completed_timestamp|duration|keystone_level|r1:c1,... (members sorted
# numerically by realm id, then character id). One concat of every piece: chained `||` and a nested
# concat_ws build a string per step, which cost more than the md5 (only valid entries get here, so no
# piece is NULL).
_RUN_FIELDS = ", '|', ".join(
    ("$region", "$period", "dungeon_id", "g.completed_timestamp", "g.duration", "g.keystone_level")
)
_ROSTER = ", ',', ".join(f"k[{i}][1], ':', k[{i}][2]" for i in _M)
_RUN_ID = f"md5(concat({_RUN_FIELDS}, '|', {_ROSTER}))"


# Every entry of the files in $files, for each board of `boards` that names the file. An object
# without entries gives one row with entry_index NULL, so every object read leaves a trace (a file
# holding several objects, or none, is then told apart from a leaderboard). The groups are unnested in
# the select list: a lateral unnest joined to the boards would hash every body's whole list.
def _read_entries(boards: str, layout: str) -> str:
    return f"""
INSERT INTO parse_read
SELECT body, connected_realm_id, dungeon_id, entry_index, body_period, reason,
       CASE WHEN reason IS NULL AND entry_index IS NOT NULL THEN {_RUN_ID} END,
       g.ranking, g.completed_timestamp, g.duration, g.keystone_level, g.mythic_rating.rating,
       CASE WHEN reason IS NULL AND entry_index IS NOT NULL THEN hash(g.members) END,
       g.members
FROM (
    SELECT *, {_REASON} AS reason
    FROM (
        SELECT *, CASE WHEN listed > 0 THEN position END AS entry_index,
               {_SORTED_MEMBER_KEYS} AS k
        FROM (
            SELECT
                filename AS body_file, period AS body_period, period_start_timestamp,
                period_end_timestamp, map_challenge_mode_id, len(leading_groups) AS listed,
                generate_subscripts(groups, 1) AS position, unnest(groups) AS g
            FROM (
                SELECT *, CASE WHEN len(leading_groups) > 0 THEN leading_groups ELSE [NULL] END
                    AS groups
                FROM {_read_bodies(layout)}
            )
        )
    ) JOIN {boards} USING (body_file)
)
"""


# By layout, as BODY_LAYOUTS.
READ_ENTRIES = {layout: _read_entries("parse_to_read", layout) for layout in BODY_LAYOUTS}

CACHE_ENTRIES = f"""
INSERT INTO parse_cache.entries SELECT $region, $period, {", ".join(ENTRY_COLUMNS)} FROM parse_read
"""

# A cache row per board read: bad when unreadable, not exactly one JSON object, or without a period.
RECORD_BODIES = f"""
INSERT INTO parse_cache.bodies (region, period, {_BOARD_KEY}, size, mtime_ns, entries, bad_reason,
                                bad_detail)
SELECT $region, $period, t.body, t.connected_realm_id, t.dungeon_id, t.size, t.mtime_ns,
       CASE WHEN bad.reason IS NULL THEN facts.entries END,
       bad.reason, bad.detail
FROM parse_to_read t
LEFT JOIN (
    SELECT {_BOARD_KEY},
           count(*) FILTER (WHERE entry_index IS NULL OR entry_index = 1) AS objects,
           count(entry_index) AS entries,
           bool_and(body_period IS NULL) AS no_period
    FROM parse_read
    GROUP BY ALL
) facts USING ({_BOARD_KEY})
LEFT JOIN parse_read_errors err USING (body_file)
CROSS JOIN LATERAL (
    SELECT
        CASE
            WHEN err.reason IS NOT NULL THEN err.reason
            WHEN coalesce(facts.objects, 0) <> 1 THEN 'invalid_json'
            WHEN facts.no_period THEN 'not_a_leaderboard'
        END AS reason,
        CASE
            WHEN err.reason IS NOT NULL THEN err.detail
            WHEN coalesce(facts.objects, 0) <> 1 THEN 'not exactly one JSON object'
            WHEN facts.no_period THEN 'no period in the body'
        END AS detail
) bad
"""

# Files just read (and good) that hold rejected entries: their raw JSON is read again for quarantine.
REJECTED_FILES_TO_READ = f"""
SELECT DISTINCT t.body_file
FROM parse_to_read t
JOIN parse_cache.bodies c USING ({_BOARD_KEY})
WHERE {_partition_of("c")} AND c.bad_reason IS NULL AND EXISTS (
    SELECT 1 FROM parse_read e
    WHERE e.body = t.body AND e.connected_realm_id = t.connected_realm_id
      AND e.dungeon_id = t.dungeon_id AND e.reason IS NOT NULL)
ORDER BY 1
"""

READ_RAW_ENTRIES = """
CREATE OR REPLACE TEMP TABLE parse_raw_entries AS
SELECT b.filename AS body_file, e.raw, e.entry_index
FROM read_json($files, columns = {'leading_groups': 'JSON[]'}, format = 'unstructured',
               hive_partitioning = false, compression = 'gzip', filename = true) b
CROSS JOIN unnest(b.leading_groups) WITH ORDINALITY AS e(raw, entry_index)
"""

RECORD_REJECTED = f"""
INSERT INTO parse_cache.rejected
SELECT $region, $period, e.body, e.connected_realm_id, e.dungeon_id, e.entry_index, e.reason, r.raw
FROM parse_read e
JOIN parse_to_read t USING ({_BOARD_KEY})
JOIN parse_raw_entries r USING (body_file, entry_index)
WHERE e.reason IS NOT NULL
"""

# ---- Rebuilding the partition from the cache and the manifests.

BUILD_GOOD_BODIES = f"""
CREATE OR REPLACE TEMP TABLE parse_good_bodies AS
SELECT {_BOARD_KEY}, entries FROM parse_cache.bodies
WHERE {PARTITION} AND bad_reason IS NULL
"""


def _pick_order(alias: str) -> str:
    return (
        f"(s.content_rank::HUGEINT << 64) + ((2147483647 - {alias}.entry_index)::HUGEINT << 32)"
        f" + (2147483647 - {alias}.connected_realm_id)"
    )


def _listing_fields(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in _LISTING_FIELDS)


# Every valid listing of a run by a board, with the times its body was seen and the run's plain fields;
# then the folded rows, each standing for the listings of folded bodies of one run and board.
# `pick_order` ranks listings for the pick: the newest content first, then the lower entry, then the
# lower board. It is unique: a body's valid entries all share its dungeon, so body, connected realm and
# entry name one listing; entry indexes and realm ids are below 2^31, so the parts cannot overlap.
# A CTE of each statement that reads it, not a temp table: writing its rows cost more than deriving
# them again from the cache (on the bench week, a reload's parse took 0.69 s instead of 0.77 s).
_WITH_LISTINGS = f"""
WITH listings AS (
SELECT {_listing_fields("e")}, s.first_seen_at, s.last_seen_at, {_pick_order("e")} AS pick_order
FROM parse_cache.entries e
JOIN parse_good_bodies USING ({_BOARD_KEY})
JOIN parse_body_seen s USING (body)
WHERE {_partition_of("e")} AND e.reason IS NULL AND e.entry_index IS NOT NULL
UNION ALL
SELECT {_listing_fields("f")}, f.first_seen_at, f.last_seen_at, {_pick_order("f")}
FROM parse_cache.folded f
JOIN parse_body_seen s USING (body)
WHERE {_partition_of("f")}
)
"""

# Good bodies not folded yet that are superseded on their board: another body of the board was first
# seen after this one was last seen (a 304 names the board's newest body, so this one is never seen
# again).
BUILD_TO_FOLD = f"""
CREATE OR REPLACE TEMP TABLE parse_to_fold AS
SELECT c.body, c.connected_realm_id, c.dungeon_id, c.entries, s.first_seen_at, s.last_seen_at
FROM parse_cache.bodies c
JOIN parse_body_seen s USING (body)
WHERE {_partition_of("c")} AND c.bad_reason IS NULL AND c.folded_first_seen_at IS NULL AND EXISTS (
    SELECT 1 FROM parse_body_boards n JOIN parse_body_seen ns USING (body)
    WHERE n.connected_realm_id = c.connected_realm_id AND n.dungeon_id = c.dungeon_id
      AND ns.first_seen_at > s.last_seen_at)
"""

# Folding rewrites the folded rows of every run and board the folded bodies list, so it waits until the
# bodies superseded since the last fold hold as many entries as the current ones: the cache's entries stay
# under twice the current bodies', and reloads that each bring 5-8% new boards fold about every twelfth.
FOLD_DUE = f"""
SELECT count(*) > 0 AND sum(entries) >= (
    SELECT sum(entries) FROM parse_cache.bodies
    WHERE {PARTITION} AND bad_reason IS NULL AND folded_first_seen_at IS NULL
) - sum(entries)
FROM parse_to_fold
"""

# What a folded row keeps of its pick: the listing's own fields, as a struct to take them in one arg_max.
_PICKED_FIELDS = tuple(
    name
    for name in _LISTING_FIELDS
    if name not in ("run_id", "connected_realm_id", "dungeon_id", "ranking")
)
_PICKED = "{" + ", ".join(f"'{name}': {name}" for name in _PICKED_FIELDS) + "}"
_FOLDED_VALUES = ", ".join(
    f"pick.{name}" if name in _PICKED_FIELDS else name for name in FOLDED_COLUMNS
)

# Folding, in one transaction: the folded rows of the runs and boards the bodies folded now list are
# rebuilt from their listings in every folded body, before and now (the same minimum, maximum and pick
# the rows take of them); then the entries of the bodies folded now are dropped and the times they were
# seen recorded.
FOLD = (
    f"""CREATE OR REPLACE TEMP TABLE parse_folded AS {_WITH_LISTINGS}
        SELECT run_id, connected_realm_id, dungeon_id, min(ranking) AS ranking,
               min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
               arg_max({_PICKED}, pick_order) AS pick
        FROM listings
        SEMI JOIN (
            SELECT {_BOARD_KEY} FROM parse_cache.bodies
            WHERE {PARTITION} AND folded_first_seen_at IS NOT NULL
            UNION ALL SELECT {_BOARD_KEY} FROM parse_to_fold
        ) USING ({_BOARD_KEY})
        SEMI JOIN (
            SELECT run_id, connected_realm_id FROM listings
            SEMI JOIN parse_to_fold USING ({_BOARD_KEY})
        ) USING (run_id, connected_realm_id)
        GROUP BY run_id, connected_realm_id, dungeon_id""",
    f"""DELETE FROM parse_cache.folded f WHERE {_partition_of("f")} AND EXISTS (
        SELECT 1 FROM parse_folded n
        WHERE n.run_id = f.run_id AND n.connected_realm_id = f.connected_realm_id)""",
    f"INSERT INTO parse_cache.folded SELECT $region, $period, {_FOLDED_VALUES} FROM parse_folded",
    f"""DELETE FROM parse_cache.entries e WHERE {_partition_of("e")} AND EXISTS (
        SELECT 1 FROM parse_to_fold t WHERE t.body = e.body
          AND t.connected_realm_id = e.connected_realm_id AND t.dungeon_id = e.dungeon_id)""",
    f"""UPDATE parse_cache.bodies c
        SET folded_first_seen_at = t.first_seen_at, folded_last_seen_at = t.last_seen_at
        FROM parse_to_fold t
        WHERE {_partition_of("c")} AND t.body = c.body
          AND t.connected_realm_id = c.connected_realm_id AND t.dungeon_id = c.dungeon_id""",
)

# One row per run: its seen times over all listings, and its pick: the listing first in pick_order (the
# body first seen last, i.e. the newest content; ties broken by body, then entry, then board), which
# gives its plain fields here and its names, specs and factions (`members`). First seen, not last seen:
# a 304 re-sees every unchanged body without bringing newer content.
BUILD_PICKED = f"""
CREATE OR REPLACE TEMP TABLE parse_picked AS {_WITH_LISTINGS}
SELECT run_id, r.first_seen_at, r.last_seen_at, l.body, l.connected_realm_id, l.dungeon_id,
       l.entry_index, l.keystone_level, l.duration, l.completed_timestamp, l.mythic_rating,
       l.members_hash
FROM (
    SELECT run_id, min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
           max(pick_order) AS pick_order
    FROM listings GROUP BY run_id
) r
JOIN listings l USING (run_id, pick_order)
"""

_PICK = "body, connected_realm_id, dungeon_id, entry_index"

# Does run_members hold exactly the members of the picks recorded with it? Otherwise (a first parse, a
# fresh cache, rows changed behind the parser's back) the members are rewritten whole rather than by
# difference.
MEMBERS_MATCH_PICKS = f"""
SELECT picks > 0 AND members = {RUN_MEMBERS} * picks AND runs = picks
FROM (SELECT (SELECT count(*) FROM parse_cache.picks WHERE {PARTITION}) AS picks,
             (SELECT count(*) FROM run_members WHERE {PARTITION}) AS members,
             (SELECT count(*) FROM runs WHERE {PARTITION}) AS runs)
"""

# Runs whose members must be (re)written: every run, or only those whose picked members differ from
# the ones written (their hashes differ): a new run, or a pick moved to a listing with other names,
# specs or factions. A pick that moves to a listing with the same members writes nothing.
BUILD_MEMBER_CHANGES_ALL = """
CREATE OR REPLACE TEMP TABLE parse_member_changes AS SELECT run_id FROM parse_picked
"""
BUILD_MEMBER_CHANGES = f"""
CREATE OR REPLACE TEMP TABLE parse_member_changes AS
SELECT n.run_id
FROM parse_picked n
LEFT JOIN (SELECT run_id, members_hash FROM parse_cache.picks WHERE {PARTITION}) o USING (run_id)
WHERE n.members_hash IS DISTINCT FROM o.members_hash
"""

STAGE_RUNS = """
CREATE OR REPLACE TEMP TABLE staged_runs AS
SELECT
    run_id, $region AS region, $period AS period, dungeon_id, keystone_level,
    duration AS duration_ms, epoch_ms(completed_timestamp) AS completed_at, mythic_rating,
    first_seen_at, last_seen_at
FROM parse_picked
"""

# Boards holding a changed run's pick whose body this parse did not read: read again for the members.
BUILD_REREAD = f"""
CREATE OR REPLACE TEMP TABLE parse_reread AS
SELECT DISTINCT p.body, p.connected_realm_id, p.dungeon_id, f.body_file
FROM parse_picked p
SEMI JOIN parse_member_changes USING (run_id)
JOIN parse_files f USING (body)
ANTI JOIN parse_to_read t USING ({_BOARD_KEY})
"""
REREAD_FILES = "SELECT DISTINCT body_file FROM parse_reread ORDER BY 1"
REREAD_ENTRIES = {layout: _read_entries("parse_reread", layout) for layout in BODY_LAYOUTS}

# The members of the runs in parse_member_changes, from the entry of each run's pick.
STAGE_RUN_MEMBERS = f"""
CREATE OR REPLACE TEMP TABLE staged_run_members AS
SELECT
    run_id, $region AS region, $period AS period,
    m.profile.realm.id AS realm_id,
    m.profile.id AS character_id,
    m.profile.name AS character_name,
    coalesce(trim(m.profile.name), '') IN ('', 'UNKNOWN') AS name_unknown,
    m.specialization.id AS spec_id,
    m.faction.type AS faction
FROM (
    SELECT p.run_id, unnest(e.members) AS m
    FROM parse_picked p
    SEMI JOIN parse_member_changes USING (run_id)
    JOIN parse_read e USING ({_PICK})
)
"""

# Staged after a fold, which moves listings from entries to folded rows keeping each run and board's
# minimum and maximum: the rows are those the listings before it give.
STAGE_RUN_BOARDS = f"""
CREATE OR REPLACE TEMP TABLE staged_run_boards AS {_WITH_LISTINGS}
SELECT
    run_id, $region AS region, $period AS period, connected_realm_id,
    min(ranking) AS best_ranking,
    min(first_seen_at) AS first_seen_at,
    max(last_seen_at) AS last_seen_at
FROM listings
GROUP BY run_id, connected_realm_id
"""

# A board's row comes from the newest snapshot that lists it; entries NULL when its body is bad.
STAGE_BOARDS = f"""
CREATE OR REPLACE TEMP TABLE staged_boards AS
SELECT
    $region AS region, $period AS period, m.connected_realm_id, m.dungeon_id, m.status,
    b.entries,
    b.entries >= {FULL_BOARD_ENTRIES} AS is_full,
    try_strptime(m.last_modified, '{HTTP_DATE_FORMAT}') AS last_modified,
    m.fetched_at
FROM parse_manifest m
LEFT JOIN parse_good_bodies b USING ({_BOARD_KEY})
QUALIFY row_number() OVER (
    PARTITION BY m.connected_realm_id, m.dungeon_id ORDER BY m.snapshot_id DESC
) = 1
"""

# The same bad entry held in several bodies (snapshots) is one rejected entry. A body that could not
# be read is one rejected row per board naming it; a missing file is never cached (it may come back).
STAGE_REJECTED = f"""
CREATE OR REPLACE TEMP TABLE staged_rejected_entries AS
SELECT DISTINCT $region AS region, $period AS period, connected_realm_id, dungeon_id, reason, raw
FROM parse_cache.rejected JOIN parse_good_bodies USING ({_BOARD_KEY})
WHERE {PARTITION}
UNION ALL
SELECT $region, $period, connected_realm_id, dungeon_id, bad_reason,
       json_object('body', body, 'error', bad_detail)
FROM parse_cache.bodies
WHERE {PARTITION} AND bad_reason IS NOT NULL
UNION ALL
SELECT $region, $period, b.connected_realm_id, b.dungeon_id, 'missing_body',
       json_object('body', b.body, 'error', 'body file not found')
FROM parse_body_boards b JOIN parse_files f USING (body)
WHERE f.size IS NULL
"""

# run_members is written by difference: the members of changed runs and of runs gone are deleted, then
# the changed runs' inserted (staged_run_members holds only those); their picks are recorded anew. Every
# run goes when the members are rewritten whole.
_MEMBER_TABLES = ("run_members", "parse_cache.picks")
DROP_ALL_MEMBERS = tuple(f"DELETE FROM {table} WHERE {PARTITION}" for table in _MEMBER_TABLES)
DROP_CHANGED_MEMBERS = (
    f"""CREATE OR REPLACE TEMP TABLE parse_gone_runs AS
        SELECT run_id FROM parse_cache.picks WHERE {PARTITION}
        EXCEPT SELECT run_id FROM parse_picked""",
    *(
        f"""DELETE FROM {table} WHERE {PARTITION} AND run_id IN (
            SELECT run_id FROM parse_member_changes UNION ALL SELECT run_id FROM parse_gone_runs)"""
        for table in _MEMBER_TABLES
    ),
)
RECORD_PICKS = """
INSERT INTO parse_cache.picks
SELECT $region, $period, run_id, members_hash FROM parse_picked
SEMI JOIN parse_member_changes USING (run_id)
"""


@dataclass(frozen=True)
class Merge:
    """How a contract table is merged within a partition: its key, and the columns a reload can change
    (the others follow from the key)."""

    key: tuple[str, ...]
    mutable: tuple[str, ...]


# A run's dungeon, level, duration and completion time are part of its run_id: only its pick's rating
# and its seen times move.
MERGED = {
    "runs": Merge(("run_id",), ("mythic_rating", "first_seen_at", "last_seen_at")),
    "run_boards": Merge(
        ("run_id", "connected_realm_id"), ("best_ranking", "first_seen_at", "last_seen_at")
    ),
}


def merge_partition(table: str, staged: str, columns: list[str]) -> tuple[str, ...]:
    """Statements making the partition's rows of `table` those of `staged`, writing only what
    differs: rows gone deleted, changed columns updated, new rows inserted.

    The rows to update or delete are found in one pass over the partition and then written by rowid:
    DuckDB applies an update fast when it probes the table in row order, and a join on the key alone
    either scans every partition or, filtered to this one, may probe in the staged rows' order and
    scatter (ten to forty times slower, as MERGE INTO does)."""
    merge = MERGED[table]
    match = " AND ".join(f"t.{column} = n.{column}" for column in merge.key)
    changed = merge.mutable
    own = f"(SELECT rowid, * FROM {table} WHERE {PARTITION}) t"
    gone = f"n.{merge.key[0]} IS NULL"
    return (
        f"""CREATE OR REPLACE TEMP TABLE parse_merge_targets AS
            SELECT t.rowid AS target, {gone} AS gone, {", ".join(f"n.{c}" for c in changed)}
            FROM {own} LEFT JOIN {staged} n ON {match}
            WHERE {gone} OR ({", ".join(f"t.{c}" for c in changed)})
                IS DISTINCT FROM ({", ".join(f"n.{c}" for c in changed)})""",
        f"""UPDATE {table} SET {", ".join(f"{c} = u.{c}" for c in changed)}
            FROM parse_merge_targets u WHERE {table}.rowid = u.target AND NOT u.gone""",
        f"""DELETE FROM {table} WHERE rowid IN (SELECT target FROM parse_merge_targets WHERE gone)""",
        f"""INSERT INTO {table} ({", ".join(columns)})
            SELECT {", ".join(f"n.{c}" for c in columns)} FROM {staged} n
            ANTI JOIN {own} ON {match}""",
    )


STAGED_TABLES = {
    "runs": "staged_runs",
    "run_members": "staged_run_members",
    "run_boards": "staged_run_boards",
    "boards": "staged_boards",
    "rejected_entries": "staged_rejected_entries",
}
