"""The partition parse: real fixtures, cross-realm runs, snapshots over a week, quarantine, atomicity."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from parse_helpers import (
    FULL_US,
    T0,
    TRIMMED_EU,
    encode,
    fixture_bytes,
    fixture_doc,
    later,
    naive,
    rows,
    table_state,
    write_snapshot,
)

from metawatch_dagster.parsing import ForeignManifestError, parse_partition, sql
from metawatch_dagster.raw_store import partition_dir
from metawatch_dagster.run_identity import run_id
from metawatch_dagster.warehouse import connect

EU = ("eu", 946)
CR, DUNGEON = 1305, 199


def python_run_ids(doc: dict, region: str, period: int, dungeon_id: int) -> set[str]:
    return {
        run_id(
            region,
            period,
            dungeon_id,
            group["completed_timestamp"],
            group["duration"],
            group["keystone_level"],
            [(m["profile"]["realm"]["id"], m["profile"]["id"]) for m in group["members"]],
        )
        for group in doc["leading_groups"]
    }


def test_trimmed_eu_board_with_ratings(raw_dir: Path, con: duckdb.DuckDBPyConnection) -> None:
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])

    result = parse_partition(con, raw_dir, *EU)

    assert result.rows == {
        "runs": 3,
        "run_members": 15,
        "run_boards": 3,
        "boards": 1,
        "rejected_entries": 0,
    }
    doc = fixture_doc(TRIMMED_EU)
    expected = {
        (g["ranking"], g["keystone_level"], g["duration"], g["mythic_rating"]["rating"])
        for g in doc["leading_groups"]
    }
    got = rows(
        con,
        """SELECT b.best_ranking, r.keystone_level, r.duration_ms, r.mythic_rating
           FROM runs r JOIN run_boards b USING (run_id)""",
    )
    assert set(got) == expected
    assert rows(con, "SELECT count(*) FROM runs WHERE mythic_rating IS NULL") == [(0,)]
    assert {r[0] for r in rows(con, "SELECT run_id FROM runs")} == python_run_ids(doc, *EU, DUNGEON)
    assert rows(con, "SELECT min(completed_at) FROM runs WHERE keystone_level = 32") == [
        (datetime(2024, 2, 14, 14, 32, 51),)
    ]
    assert rows(con, "SELECT status, entries, is_full, last_modified FROM boards") == [
        ("200", 3, False, datetime(2024, 2, 15, 11, 0))
    ]


def test_full_2018_board_without_ratings(raw_dir: Path, con: duckdb.DuckDBPyConnection) -> None:
    write_snapshot(raw_dir, "us", 663, [(3694, 244, "200", fixture_bytes(FULL_US))])

    result = parse_partition(con, raw_dir, "us", 663)

    assert result.rows["runs"] == 500
    assert result.rows["run_members"] == 2500
    assert result.rows["rejected_entries"] == 0
    assert rows(con, "SELECT count(*) FROM runs WHERE mythic_rating IS NOT NULL") == [(0,)]
    assert rows(con, "SELECT entries, is_full FROM boards") == [(500, True)]
    assert (
        rows(con, "SELECT count(DISTINCT spec_id), bool_or(name_unknown) FROM run_members")[0][1]
        is False
    )
    doc = fixture_doc(FULL_US)
    assert {r[0] for r in rows(con, "SELECT run_id FROM runs")} == python_run_ids(
        doc, "us", 663, 244
    )


def test_run_id_sorts_members_numerically_like_python(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    doc = fixture_doc(TRIMMED_EU)
    group = doc["leading_groups"][0]
    # Realm 10 before 9 as text, after it as numbers; realm 9 holds two characters.
    for member, (realm, character) in zip(
        group["members"], [(10, 5), (9, 200), (100, 1), (9, 30), (1, 99999999999)], strict=True
    ):
        member["profile"]["realm"]["id"] = realm
        member["profile"]["id"] = character
    doc["leading_groups"] = [group]
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", encode(doc))])

    parse_partition(con, raw_dir, *EU)

    assert {r[0] for r in rows(con, "SELECT run_id FROM runs")} == python_run_ids(doc, *EU, DUNGEON)


def test_run_listed_by_two_connected_realms_is_one_run(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    home = fixture_doc(TRIMMED_EU)
    other = fixture_doc(TRIMMED_EU)
    other["leading_groups"] = [dict(other["leading_groups"][0], ranking=7)]
    write_snapshot(
        raw_dir, *EU, [(CR, DUNGEON, "200", encode(home)), (1401, DUNGEON, "200", encode(other))]
    )

    result = parse_partition(con, raw_dir, *EU)

    assert result.rows["runs"] == 3
    assert result.rows["run_members"] == 15
    shared = python_run_ids(other, *EU, DUNGEON).pop()
    assert rows(
        con,
        f"SELECT connected_realm_id, best_ranking FROM run_boards WHERE run_id = '{shared}' ORDER BY 1",
    ) == [(CR, 1), (1401, 7)]


def test_run_that_drops_off_the_board_is_kept(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    week_start = fixture_doc(TRIMMED_EU)
    week_end = fixture_doc(TRIMMED_EU)
    dropped = week_end["leading_groups"].pop()  # rank 500 pushed out later in the week
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", encode(week_start))], T0)
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", encode(week_end))], later(120))

    result = parse_partition(con, raw_dir, *EU)

    assert result.rows["runs"] == 3
    assert result.snapshots == 2 and result.bodies == 2
    dropped_id = python_run_ids({"leading_groups": [dropped]}, *EU, DUNGEON).pop()
    seen = rows(con, "SELECT run_id, first_seen_at, last_seen_at FROM runs")
    assert {r[0]: (r[1], r[2]) for r in seen}[dropped_id] == (naive(T0), naive(T0))
    assert (
        sorted((r[1], r[2]) for r in seen if r[0] != dropped_id)
        == [(naive(T0), naive(later(120)))] * 2
    )
    assert rows(con, "SELECT entries, fetched_at FROM boards") == [(2, naive(later(120)))]


def test_304_extends_last_seen(raw_dir: Path, con: duckdb.DuckDBPyConnection) -> None:
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))], T0)
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "304", None)], later(60))

    result = parse_partition(con, raw_dir, *EU)

    assert result.bodies == 1
    assert rows(con, "SELECT DISTINCT first_seen_at, last_seen_at FROM runs") == [
        (naive(T0), naive(later(60)))
    ]
    assert rows(con, "SELECT DISTINCT last_seen_at FROM run_boards") == [(naive(later(60)),)]
    assert rows(con, "SELECT status, entries, fetched_at FROM boards") == [
        ("304", 3, naive(later(60)))
    ]


def test_reparse_and_rebuild_give_identical_rows(
    tmp_path: Path, raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    edited = fixture_doc(TRIMMED_EU)
    edited["leading_groups"][1]["members"][0]["specialization"] = None
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))], T0)
    write_snapshot(
        raw_dir,
        *EU,
        [
            (CR, DUNGEON, "304", None),
            (1401, DUNGEON, "200", encode(edited)),
            (1402, 2, "404", None),
        ],
        later(30),
    )
    write_snapshot(raw_dir, "us", 663, [(3694, 244, "200", fixture_bytes(FULL_US))])
    parse_partition(con, raw_dir, "us", 663)

    parse_partition(con, raw_dir, *EU)
    first = table_state(con)
    parse_partition(con, raw_dir, *EU)
    assert table_state(con) == first
    assert sum(len(table) for table in first.values()) == 3 + 15 + 5 + 3 + 1 + 500 + 2500 + 500 + 1

    with connect(tmp_path / "rebuilt.duckdb") as fresh:
        parse_partition(fresh, raw_dir, "us", 663)
        parse_partition(fresh, raw_dir, *EU)
        assert table_state(fresh) == first


def test_failure_mid_replace_keeps_previous_rows(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))], T0)
    parse_partition(con, raw_dir, *EU)
    before = table_state(con)
    write_snapshot(raw_dir, *EU, [(1401, DUNGEON, "200", fixture_bytes(TRIMMED_EU))], later(60))
    # The last table's insert fails after the others were deleted and refilled.
    broken = dict(sql.STAGED_TABLES, rejected_entries="(SELECT error('disk full') AS boom)")
    monkeypatch.setattr(sql, "STAGED_TABLES", broken)

    with pytest.raises(duckdb.Error, match="disk full"):
        parse_partition(con, raw_dir, *EU)

    assert table_state(con) == before
    monkeypatch.undo()
    assert parse_partition(con, raw_dir, *EU).rows["run_boards"] == 6


def _malformed_board() -> tuple[dict, dict[str, dict]]:
    doc = fixture_doc(TRIMMED_EU)
    good = doc["leading_groups"][0]

    def variant(ranking: int) -> dict:
        entry = json.loads(json.dumps(good))
        entry["ranking"] = ranking
        entry["duration"] += ranking  # a different run than the good one
        return entry

    bad = {
        reason: variant(ranking)
        for ranking, reason in enumerate(
            [
                "not_five_members",
                "member_without_spec",
                "member_without_id",
                "bad_keystone_level",
                "bad_duration",
                "missing_completed_timestamp",
                "completed_outside_period",
                "duplicate_member",
            ],
            start=2,
        )
    }
    bad["not_five_members"]["members"].pop()
    del bad["member_without_spec"]["members"][2]["specialization"]
    del bad["member_without_id"]["members"][4]["profile"]
    bad["bad_keystone_level"]["keystone_level"] = 0
    bad["bad_duration"]["duration"] = 0
    del bad["missing_completed_timestamp"]["completed_timestamp"]
    bad["completed_outside_period"]["completed_timestamp"] = (
        doc["period_end_timestamp"] + 2 * 86_400_000
    )
    bad["duplicate_member"]["members"][1] = bad["duplicate_member"]["members"][0]
    doc["leading_groups"] = [good, *bad.values()]
    return doc, bad


def test_malformed_board_loads_good_entries_and_quarantines_the_rest(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    doc, bad = _malformed_board()
    wrong_shape = fixture_doc(TRIMMED_EU)
    wrong_shape["leading_groups"][0]["keystone_level"] = "very high"
    write_snapshot(
        raw_dir,
        *EU,
        [
            (CR, DUNGEON, "200", encode(doc)),
            (1401, DUNGEON, "200", b'{"leading_groups": [{"ranking": 1, '),
            (1402, DUNGEON, "200", encode(wrong_shape)),
            (1403, DUNGEON, "200", fixture_bytes(TRIMMED_EU)),
        ],
    )

    result = parse_partition(con, raw_dir, *EU)

    assert result.rejected == {**dict.fromkeys(bad, 1), "invalid_json": 1, "unexpected_shape": 1}
    assert result.rows["runs"] == 3  # the good entry is also rank 1 on board 1403
    assert rows(
        con, "SELECT connected_realm_id, count(*) FROM run_boards GROUP BY 1 ORDER BY 1"
    ) == [
        (CR, 1),
        (1403, 3),
    ]
    quarantined = rows(
        con,
        "SELECT reason, raw FROM rejected_entries WHERE connected_realm_id = 1305",
    )
    assert {reason: json.loads(raw) for reason, raw in quarantined} == bad
    boards = rows(
        con, "SELECT connected_realm_id, status, entries FROM boards ORDER BY connected_realm_id"
    )
    assert boards == [(CR, "200", 9), (1401, "200", None), (1402, "200", None), (1403, "200", 3)]
    [(raw,)] = rows(con, "SELECT raw FROM rejected_entries WHERE reason = 'invalid_json'")
    assert json.loads(raw)["body"].endswith("boards/cr1401_d199.json.gz")


def test_numbers_the_contract_cannot_hold_quarantine_their_entry_not_the_partition(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    doc = fixture_doc(TRIMMED_EU)
    good = doc["leading_groups"][0]
    too_big = 2**31  # rankings, realm ids and spec ids are INTEGER in the contract

    def variant(offset: int) -> dict:
        entry = json.loads(json.dumps(good))
        entry["duration"] += offset  # a different run than the good one
        return entry

    bad = {
        "bad_ranking": variant(1),
        "member_without_id": variant(2),
        "member_without_spec": variant(3),
    }
    bad["bad_ranking"]["ranking"] = too_big
    bad["member_without_id"]["members"][0]["profile"]["realm"]["id"] = too_big
    bad["member_without_spec"]["members"][1]["specialization"]["id"] = too_big
    doc["leading_groups"] = [good, *bad.values()]
    unbounded = fixture_doc(TRIMMED_EU)  # a body without its period's bounds
    del unbounded["period_start_timestamp"], unbounded["period_end_timestamp"]
    unbounded["leading_groups"][0]["completed_timestamp"] = 2**62
    write_snapshot(
        raw_dir, *EU, [(CR, DUNGEON, "200", encode(doc)), (1401, DUNGEON, "200", encode(unbounded))]
    )

    result = parse_partition(con, raw_dir, *EU)

    assert result.rejected == {**dict.fromkeys(bad, 1), "completed_outside_period": 1}
    assert result.rows["runs"] == 3  # the good entry, and the other two of the unbounded body
    quarantined = rows(
        con, "SELECT reason, raw FROM rejected_entries WHERE connected_realm_id = 1305"
    )
    assert {reason: json.loads(raw) for reason, raw in quarantined} == bad


def test_unknown_and_empty_names_are_kept_and_flagged(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    doc = fixture_doc(TRIMMED_EU)
    members = doc["leading_groups"][0]["members"]
    members[0]["profile"]["name"] = "UNKNOWN"
    members[1]["profile"]["name"] = ""
    del members[2]["profile"]["name"]
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", encode(doc))])

    result = parse_partition(con, raw_dir, *EU)

    assert result.rows["run_members"] == 15
    flagged = rows(
        con,
        "SELECT character_id, character_name FROM run_members WHERE name_unknown ORDER BY 1",
    )
    assert flagged == sorted(
        [
            (members[0]["profile"]["id"], "UNKNOWN"),
            (members[1]["profile"]["id"], ""),
            (members[2]["profile"]["id"], None),
        ]
    )


def test_partitions_are_independent_and_empty_partition_parses_to_nothing(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    parse_partition(con, raw_dir, *EU)

    result = parse_partition(con, raw_dir, "eu", 947)

    assert result.rows == dict.fromkeys(result.rows, 0)
    assert rows(con, "SELECT count(*) FROM runs WHERE period = 946") == [(3,)]
    assert partition_dir(raw_dir, "eu", 947).exists() is False


def test_bodies_that_are_not_one_leaderboard_are_rejected_boards(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(
        raw_dir,
        *EU,
        [
            (1401, DUNGEON, "200", b""),
            (1402, DUNGEON, "200", b"null"),
            (1403, DUNGEON, "200", b"{}"),
            (1404, DUNGEON, "200", fixture_bytes(TRIMMED_EU)),
            (CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU)),
        ],
    )
    [body] = partition_dir(raw_dir, *EU).glob("snapshot=*/boards/cr1404_d199.json.gz")
    body.unlink()

    result = parse_partition(con, raw_dir, *EU)

    assert rows(con, "SELECT connected_realm_id, reason FROM rejected_entries ORDER BY 1") == [
        (1401, "invalid_json"),
        (1402, "not_a_leaderboard"),
        (1403, "not_a_leaderboard"),
        (1404, "missing_body"),
    ]
    assert result.rows["runs"] == 3


def test_a_body_on_one_line_and_pretty_printed_give_the_same_rows(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Bodies are read as newline-delimited JSON first; a pretty-printed one makes that read fail and
    the parse read again as unstructured JSON, with the same rows."""
    compact = encode(fixture_doc(TRIMMED_EU))
    assert b"\n" not in compact and fixture_bytes(TRIMMED_EU).count(b"\n") > 1
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", compact)])
    parse_partition(con, raw_dir, *EU)

    pretty_raw = tmp_path / "pretty_raw"
    write_snapshot(pretty_raw, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    with connect(tmp_path / "pretty.duckdb") as pretty:
        parse_partition(pretty, pretty_raw, *EU)
        assert table_state(pretty) == table_state(con)
    assert rows(con, "SELECT count(*) FROM runs") == [(3,)]


def test_several_objects_in_one_body_are_a_rejected_board_in_either_layout(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    compact = encode(fixture_doc(TRIMMED_EU))
    write_snapshot(
        raw_dir,
        *EU,
        [
            (1401, DUNGEON, "200", compact + b"\n" + compact),  # reads as newline-delimited
            (1402, DUNGEON, "200", compact + compact),  # only as unstructured
            (CR, DUNGEON, "200", compact),
        ],
    )

    result = parse_partition(con, raw_dir, *EU)

    assert rows(con, "SELECT connected_realm_id, reason FROM rejected_entries ORDER BY 1") == [
        (1401, "invalid_json"),
        (1402, "invalid_json"),
    ]
    assert result.rows["runs"] == 3


def test_manifest_of_another_partition_is_refused(
    raw_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_snapshot(raw_dir, *EU, [(CR, DUNGEON, "200", fixture_bytes(TRIMMED_EU))])
    shutil.copytree(partition_dir(raw_dir, *EU), partition_dir(raw_dir, "eu", 947))

    with pytest.raises(ForeignManifestError):
        parse_partition(con, raw_dir, "eu", 947)
