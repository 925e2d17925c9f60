"""The incremental parse: a reload reads only new bodies, and its rows always equal a full rebuild."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import duckdb
import pytest
from parse_helpers import (
    HTTP_DATE,
    TRIMMED_EU,
    encode,
    fixture_bytes,
    fixture_doc,
    later,
    naive,
    rebuilt_state,
    rows,
    table_state,
    write_snapshot,
)

from metawatch_dagster.parsing import cache, drop_cache_before, parse_partition, sql
from metawatch_dagster.raw_store import SnapshotWriter, partition_dir

EU = ("eu", 946)
DUNGEON = 199


def _board(ranking_shift: int, drop_last: bool = False) -> bytes:
    """The trimmed board with its runs made distinct per shift (and the last one dropped)."""
    doc = fixture_doc(TRIMMED_EU)
    for group in doc["leading_groups"]:
        group["duration"] += ranking_shift
    if drop_last:
        doc["leading_groups"].pop()
    return encode(doc)


def _rewrite_only_body_in_place(raw_dir: Path, body: bytes) -> None:
    """Overwrite the partition's single body file with other bytes (its mtime moved as well)."""
    [path] = partition_dir(raw_dir, *EU).glob("snapshot=*/boards/*.json.gz")
    path.write_bytes(gzip.compress(body))
    os.utime(path, ns=(0, 0))


def _with_rejected() -> bytes:
    doc = fixture_doc(TRIMMED_EU)
    doc["leading_groups"][1]["keystone_level"] = 0
    doc["leading_groups"][2]["members"].pop()
    return encode(doc)


def _week(raw_dir: Path) -> list[int]:
    """Four snapshots of a week, parsed after each one; returns the bodies each parse read."""
    snapshots = [
        [
            (1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU)),
            (1401, DUNGEON, "200", _board(10)),
            (1402, DUNGEON, "200", _with_rejected()),
            (1403, DUNGEON, "404", None),
        ],
        [
            (1305, DUNGEON, "304", None),
            (1401, DUNGEON, "200", _board(10, drop_last=True)),  # a run drops off the board
            (1402, DUNGEON, "304", None),
            (1403, DUNGEON, "200", b'{"leading_groups": [{"ranking": 1, '),  # corrupt
        ],
        [
            (1305, DUNGEON, "304", None),
            (1401, DUNGEON, "error", None),
            (1402, DUNGEON, "200", _board(20)),
            (1403, DUNGEON, "200", _board(30)),
        ],
        [
            (1305, DUNGEON, "200", _board(40)),
            (1401, DUNGEON, "304", None),
            (1402, DUNGEON, "304", None),
            (1403, DUNGEON, "304", None),
        ],
    ]
    return [(minutes, boards) for minutes, boards in zip((0, 60, 120, 180), snapshots, strict=True)]


def test_each_reload_reads_only_new_bodies_and_equals_a_full_rebuild(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    read = []
    for minutes, boards in _week(raw_dir):
        write_snapshot(raw_dir, *EU, boards, later(minutes))
        result = parse_partition(con, raw_dir, *EU)
        read.append(result.bodies_read)
        incremental = table_state(con)
        assert rebuilt_state(raw_dir, tmp_path / f"rebuilt-{minutes}.duckdb", *EU) == incremental
        assert parse_partition(con, raw_dir, *EU, full=True).bodies_read == result.bodies
        assert table_state(con) == incremental

    assert read == [3, 2, 2, 1]
    assert result.bodies == 8 and result.snapshots == 4
    # The good bodies superseded on their board (the first of 1305, 1401 and 1402: 9 entries) hold fewer
    # entries than the four current ones (11): folding them is not due yet.
    assert rows(
        con,
        "SELECT count(*) FROM parse_cache.bodies WHERE folded_first_seen_at IS NOT NULL"
        " UNION ALL SELECT count(DISTINCT body) FROM parse_cache.entries",
    ) == [(0,), (7,)]
    assert result.rejected == {"bad_keystone_level": 1, "not_five_members": 1, "invalid_json": 1}
    # The run that dropped off board 1401 keeps its first sighting's times; 304s extended the rest.
    assert rows(
        con,
        "SELECT count(*), min(last_seen_at), max(last_seen_at) FROM run_boards"
        " WHERE connected_realm_id = 1401",
    ) == [(3, later(0).replace(tzinfo=None), later(180).replace(tzinfo=None))]
    # Shifts 0, 10, 20, 30, 40; the board with rejected entries holds one valid run, shift 0's first.
    assert rows(con, "SELECT count(*) FROM runs") == [(5 * 3,)]


def test_rerun_reads_nothing_and_gives_identical_rows(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _with_rejected())])
    parse_partition(con, raw_dir, *EU)
    first = table_state(con)

    again = parse_partition(con, raw_dir, *EU)

    assert again.bodies_read == 0
    assert table_state(con) == first
    assert first["rejected_entries"] and first["runs"]


def test_new_parser_version_drops_the_cache_and_reads_everything(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _board(5))], later(60))
    parse_partition(con, raw_dir, *EU)
    before = table_state(con)
    monkeypatch.setattr(cache, "PARSER_VERSION", cache.PARSER_VERSION + "-next")

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == 2
    assert table_state(con) == before
    assert rows(con, "SELECT stamp FROM parse_cache.state") == [(cache.cache_stamp(),)]


def test_dropping_the_cache_of_ended_weeks_keeps_their_rows_and_the_current_weeks_cache(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    current, other_region = ("eu", EU[1] + 1), ("us", EU[1])
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _with_rejected())], later(60))
    for partition in (current, other_region):
        write_snapshot(raw_dir, *partition, [(1305, DUNGEON, "200", _board(5))])
    for partition in (EU, current, other_region):
        parse_partition(con, raw_dir, *partition)
    before = table_state(con)

    assert drop_cache_before(con, *current) == 2
    assert table_state(con) == before
    for table in cache.TABLES:
        assert rows(
            con,
            f"SELECT count(*) FROM parse_cache.{table} WHERE region = 'eu' AND period < {current[1]}",
        ) == [(0,)]
    assert rows(
        con, "SELECT region, period, count(*) FROM parse_cache.entries GROUP BY ALL ORDER BY 1"
    ) == [
        ("eu", current[1], 3),
        ("us", EU[1], 3),
    ]

    result = parse_partition(con, raw_dir, *EU)

    assert (result.bodies_read, result.members_written) == (2, 3)
    assert result.rejected == {"not_five_members": 1, "bad_keystone_level": 1}
    assert table_state(con) == before


def test_a_body_rewritten_in_place_is_read_again(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)
    _rewrite_only_body_in_place(raw_dir, _board(1, drop_last=True))

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == 1
    assert result.rows["runs"] == 2
    assert rows(con, "SELECT count(*), count(DISTINCT run_id) FROM run_members") == [(10, 2)]


def test_a_missing_body_is_not_cached_and_loads_once_restored(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    [body] = partition_dir(raw_dir, *EU).glob("snapshot=*/boards/*.json.gz")
    saved = body.read_bytes()
    body.unlink()
    assert parse_partition(con, raw_dir, *EU).rejected == {"missing_body": 1}

    body.write_bytes(saved)
    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == 1
    assert result.rejected == {}
    assert result.rows["runs"] == 3


def test_failed_reload_keeps_previous_rows_and_the_next_one_catches_up(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)
    before = table_state(con)
    write_snapshot(
        raw_dir, *EU, [(1305, DUNGEON, "304", None), (1401, DUNGEON, "200", _board(3))], later(60)
    )
    broken = dict(sql.STAGED_TABLES, rejected_entries="(SELECT error('disk full') AS boom)")
    monkeypatch.setattr(sql, "STAGED_TABLES", broken)

    with pytest.raises(duckdb.Error, match="disk full"):
        parse_partition(con, raw_dir, *EU)

    assert table_state(con) == before
    monkeypatch.undo()
    assert parse_partition(con, raw_dir, *EU).bodies_read == 0  # the failed run cached the body
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)
    assert rows(con, "SELECT count(*) FROM runs") == [(6,)]


def test_interrupted_read_leaves_no_half_cached_body(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _with_rejected())])
    monkeypatch.setattr(sql, "RECORD_BODIES", "SELECT error('killed' || $region || $period)")
    with pytest.raises(duckdb.Error, match="killed"):
        parse_partition(con, raw_dir, *EU)
    monkeypatch.undo()

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == 1
    assert result.rows["runs"] == 1 and result.rows["rejected_entries"] == 2
    assert rows(con, "SELECT count(*) FROM parse_cache.entries") == [(3,)]


def _reranked(hour: int) -> bytes:
    """The trimmed board an hour later: its rankings moved down by the hour, its ratings up, and
    its runs those of the even or the odd hours."""
    doc = fixture_doc(TRIMMED_EU)
    for group in doc["leading_groups"]:
        group["ranking"] += hour
        group["mythic_rating"]["rating"] += hour
        group["duration"] += hour % 2
    return encode(doc)


def test_hourly_new_bodies_fold_into_one_cached_row_per_run_and_board(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """A board with new content every hour, its runs leaving and coming back with other rankings:
    each superseded body holds as many entries as the current one, so it is folded at once; the cache
    keeps the newest body's entries and one folded row per run, and each reload equals a rebuild (seen
    times, best rankings and picks over every body)."""
    folded = []
    for hour in range(6):
        body = ("200", _reranked(hour)) if hour < 5 else ("304", None)  # the last re-sees hour 4
        write_snapshot(raw_dir, *EU, [(1305, DUNGEON, *body)], later(60 * hour))
        folded.append(parse_partition(con, raw_dir, *EU).bodies_folded)
        assert rebuilt_state(raw_dir, tmp_path / f"rebuilt-{hour}.duckdb", *EU) == table_state(con)

    assert folded == [0, 1, 1, 1, 1, 0]
    assert rows(
        con,
        "SELECT count(*) FILTER (WHERE folded_first_seen_at IS NOT NULL), count(*)"
        " FROM parse_cache.bodies",
    ) == [(4, 5)]
    assert rows(con, "SELECT count(*), count(DISTINCT body) FROM parse_cache.entries") == [(3, 1)]
    assert rows(con, "SELECT count(*), count(DISTINCT run_id) FROM parse_cache.folded") == [(6, 6)]
    # The runs of the odd hours were first listed an hour in, ranked best then, and last seen at 3h,
    # with the ratings of their newest listing (folded too).
    odd_hours = "WHERE first_seen_at > (SELECT min(first_seen_at) FROM runs)"
    assert rows(
        con,
        f"SELECT min(best_ranking), min(first_seen_at), max(last_seen_at) FROM run_boards {odd_hours}",
    ) == [(2, naive(later(60)), naive(later(180)))]
    assert rows(con, f"SELECT min(mythic_rating) FROM runs {odd_hours}") == [(3,)]


@pytest.mark.parametrize("change", ["deleted", "rewritten"])
def test_a_folded_body_gone_or_changed_makes_the_parse_read_everything_again(
    change: str, tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _board(10))], later(60))
    parse_partition(con, raw_dir, *EU)
    assert rows(con, "SELECT count(*) FROM parse_cache.folded") == [(3,)]
    folded = min(partition_dir(raw_dir, *EU).glob("snapshot=*/boards/*.json.gz"))
    if change == "deleted":
        folded.unlink()
    else:
        folded.write_bytes(gzip.compress(_board(20)))

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == (1 if change == "deleted" else 2)
    assert result.rows["runs"] == (3 if change == "deleted" else 6)
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)


def _renamed() -> bytes:
    """The trimmed board with its first member renamed: the same runs, listed with other names."""
    doc = fixture_doc(TRIMMED_EU)
    doc["leading_groups"][0]["members"][0]["profile"]["name"] = "Renamed"
    return encode(doc)


def _renamed_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return rows(con, "SELECT count(*) FROM run_members WHERE character_name = 'Renamed'")


def test_members_follow_a_run_to_its_newest_listing(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", _renamed())], later(60))

    result = parse_partition(con, raw_dir, *EU)

    assert result.rows == {
        "runs": 3,
        "run_members": 15,
        "run_boards": 3,
        "boards": 1,
        "rejected_entries": 0,
    }
    assert result.members_written == 1
    assert _renamed_rows(con) == [(1,)]
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)


def test_a_run_listed_again_with_the_same_members_writes_no_members(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """The picks move to the newer body, whose members hash as the written ones: nothing to write."""
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    assert parse_partition(con, raw_dir, *EU).members_written == 3
    write_snapshot(raw_dir, *EU, [(1401, DUNGEON, "200", fixture_bytes(TRIMMED_EU))], later(60))

    result = parse_partition(con, raw_dir, *EU)

    assert (result.bodies_read, result.members_written) == (1, 0)
    assert result.rows["run_boards"] == 6
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)


def test_members_of_a_body_rewritten_in_place_are_rewritten(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)
    _rewrite_only_body_in_place(raw_dir, _renamed())

    parse_partition(con, raw_dir, *EU)

    assert _renamed_rows(con) == [(1,)]


def test_members_changed_behind_the_parser_are_rewritten_whole(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)
    con.execute(
        "DELETE FROM run_members WHERE character_name IN (SELECT min(character_name) FROM run_members)"
    )
    write_snapshot(raw_dir, *EU, [(1305, DUNGEON, "304", None)], later(60))

    assert parse_partition(con, raw_dir, *EU).rows["run_members"] == 15
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)


def _snapshot(raw_dir: Path, fetched: list[tuple[int, str, bytes | None, int]]) -> None:
    """One snapshot of boards fetched at their own minute: (connected realm, status, body, minute)."""
    with SnapshotWriter(raw_dir, *EU) as writer:
        for cr, status, body, minutes in fetched:
            writer.add(cr, DUNGEON, status, body, HTTP_DATE, later(minutes))


def _cross_listed(raw_dir: Path) -> None:
    """The same runs on two boards, the later fetched one listing a renamed member."""
    _snapshot(raw_dir, [(1305, "200", fixture_bytes(TRIMMED_EU), 0), (1401, "200", _renamed(), 1)])


def test_members_stay_with_the_newest_content_when_fetches_only_re_see_it(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """The board whose body came last gives the names, and an hour of 304s fetched in the other
    order does not move them."""
    _cross_listed(raw_dir)
    parse_partition(con, raw_dir, *EU)
    assert _renamed_rows(con) == [(1,)]

    _snapshot(raw_dir, [(1401, "304", None, 60), (1305, "304", None, 61)])
    parse_partition(con, raw_dir, *EU)

    assert _renamed_rows(con) == [(1,)]
    assert rows(con, "SELECT DISTINCT last_seen_at FROM runs") == [(naive(later(61)),)]
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)


def test_a_pick_moving_to_a_body_read_before_reads_it_again_for_the_members(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    _cross_listed(raw_dir)
    parse_partition(con, raw_dir, *EU)
    [renamed_body] = [
        body
        for body in partition_dir(raw_dir, *EU).glob("snapshot=*/boards/*.json.gz")
        if b"Renamed" in gzip.decompress(body.read_bytes())
    ]
    renamed_body.unlink()

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies_read == 0 and result.rejected == {"missing_body": 1}
    assert _renamed_rows(con) == [(0,)]
    assert result.rows["run_members"] == 15
    assert rebuilt_state(raw_dir, tmp_path / "rebuilt.duckdb", *EU) == table_state(con)
