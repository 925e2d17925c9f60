"""Snapshots on disk: atomic, immutable, and 304s that point at bytes that exist."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest
from parse_helpers import HTTP_DATE, T0, TRIMMED_EU, fixture_bytes, later, write_snapshot

from metawatch_dagster.raw_store import (
    SnapshotWriter,
    held_boards,
    list_partitions,
    list_snapshots,
    partition_dir,
    read_manifest,
    remove_stale_temp_dirs,
)


def test_snapshot_holds_body_as_received_and_a_manifest_of_every_board(raw_dir: Path) -> None:
    body = fixture_bytes(TRIMMED_EU)
    write_snapshot(raw_dir, "eu", 946, [(1305, 199, "200", body), (1306, 199, "404", None)])

    [snapshot] = list_snapshots(raw_dir, "eu", 946)
    manifest = read_manifest(snapshot)
    assert manifest["format"] == 1
    assert (manifest["region"], manifest["period"]) == ("eu", 946)
    assert snapshot.name == f"snapshot={manifest['snapshot_id']}"
    board, missing = manifest["boards"]
    assert board == {
        "connected_realm_id": 1305,
        "dungeon_id": 199,
        "status": "200",
        "last_modified": HTTP_DATE,
        "fetched_at": T0.isoformat(),
        "body": f"{snapshot.name}/boards/cr1305_d199.json.gz",
        "error": None,
        "bytes": len(body),
    }
    assert missing["status"] == "404" and missing["body"] is None
    assert gzip.decompress((snapshot.parent / board["body"]).read_bytes()) == body
    assert list_partitions(raw_dir) == [("eu", 946)]


def test_304_points_at_the_last_body_and_keeps_its_last_modified(raw_dir: Path) -> None:
    body = fixture_bytes(TRIMMED_EU)
    write_snapshot(raw_dir, "eu", 946, [(1305, 199, "200", body)])
    write_snapshot(raw_dir, "eu", 946, [(1305, 199, "304", None)], later(60), last_modified=None)

    first, second = list_snapshots(raw_dir, "eu", 946)
    [entry] = read_manifest(second)["boards"]
    assert entry["status"] == "304"
    assert entry["body"] == f"{first.name}/boards/cr1305_d199.json.gz"
    assert entry["last_modified"] == HTTP_DATE
    [(board, held)] = held_boards(raw_dir, "eu", 946).items()
    assert board == (1305, 199)
    assert held.last_modified == HTTP_DATE
    assert held.body_path == partition_dir(raw_dir, "eu", 946) / entry["body"]
    assert held.body_path.is_file()


def test_a_held_body_missing_or_cut_short_is_not_intact_and_a_304_cannot_point_at_it(
    raw_dir: Path,
) -> None:
    body = fixture_bytes(TRIMMED_EU)
    boards = [(1305, 199, "200", body), (1306, 199, "200", body), (1307, 199, "200", body)]
    write_snapshot(raw_dir, "eu", 946, boards)
    # The newest snapshot names the older bodies through 304s: their recorded length is the 200's.
    write_snapshot(raw_dir, "eu", 946, [(cr, d, "304", None) for cr, d, _, _ in boards], later(60))
    held = held_boards(raw_dir, "eu", 946)
    assert [held[(cr, 199)].intact for cr in (1305, 1306, 1307)] == [True, True, True]

    held[(1306, 199)].body_path.unlink()
    with held[(1307, 199)].body_path.open("r+b") as handle:
        handle.truncate(len(handle.read()) - 1)
    held = held_boards(raw_dir, "eu", 946)
    assert [held[(cr, 199)].intact for cr in (1305, 1306, 1307)] == [True, False, False]

    write_snapshot(raw_dir, "eu", 946, [(1307, 199, "304", None)], later(120))
    [entry] = read_manifest(list_snapshots(raw_dir, "eu", 946)[-1])["boards"]
    assert (entry["body"], entry["error"]) == (None, "304 for a board with no intact held body")


def test_exception_inside_the_writer_leaves_no_snapshot(raw_dir: Path) -> None:
    with pytest.raises(RuntimeError), SnapshotWriter(raw_dir, "eu", 946) as snapshot:
        snapshot.add(1305, 199, "200", fixture_bytes(TRIMMED_EU), HTTP_DATE, T0)
        raise RuntimeError("fetch died")

    assert list_snapshots(raw_dir, "eu", 946) == []
    assert list_partitions(raw_dir) == []
    assert held_boards(raw_dir, "eu", 946) == {}
    assert os.listdir(partition_dir(raw_dir, "eu", 946)) == []


def test_unfinished_snapshot_is_invisible_and_stale_temp_dirs_are_cleaned(raw_dir: Path) -> None:
    partition = partition_dir(raw_dir, "eu", 946)
    with SnapshotWriter(raw_dir, "eu", 946) as snapshot:
        snapshot.add(1305, 199, "200", b"{}", None, T0)
        assert list_snapshots(raw_dir, "eu", 946) == []
        [temp] = os.listdir(partition)
        assert temp.startswith(".")
    assert len(list_snapshots(raw_dir, "eu", 946)) == 1

    crashed = partition / ".tmp-snapshot=20240101T000000000000Z-dead"
    (crashed / "boards").mkdir(parents=True)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(crashed, (two_days_ago, two_days_ago))
    with SnapshotWriter(raw_dir, "eu", 946):
        pass
    assert not crashed.exists()
    assert len(list_snapshots(raw_dir, "eu", 946)) == 2


def test_the_sweep_skips_a_temp_dir_its_writer_commits_while_it_looks(
    raw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two fetches of one partition overlap: the other's temp dir is renamed into place between the
    sweep's listing of the partition and its look at the dir's age."""
    partition = partition_dir(raw_dir, "eu", 946)
    live = partition / ".tmp-snapshot=20240101T000000000000Z-live"
    (live / "boards").mkdir(parents=True)
    (live / "boards" / "cr1305_d199.json.gz").write_bytes(b"a body")
    committed = partition / "snapshot=20240101T000000000000Z"
    listing = Path.iterdir

    def list_then_commit(folder: Path):
        children = list(listing(folder))
        live.rename(committed)
        return iter(children)

    with monkeypatch.context() as patched:
        patched.setattr(Path, "iterdir", list_then_commit)
        remove_stale_temp_dirs(partition)

    assert os.listdir(partition) == [committed.name]
    assert (committed / "boards" / "cr1305_d199.json.gz").read_bytes() == b"a body"


def test_add_is_thread_safe(raw_dir: Path) -> None:
    boards = [(cr, dungeon) for cr in range(1, 41) for dungeon in (1, 2, 3, 4, 5)]
    with SnapshotWriter(raw_dir, "us", 1000) as snapshot:

        def add(chunk: list[tuple[int, int]]) -> None:
            for cr, dungeon in chunk:
                snapshot.add(cr, dungeon, "200", f'{{"cr": {cr}}}'.encode(), None, T0)

        threads = [threading.Thread(target=add, args=(boards[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    [path] = list_snapshots(raw_dir, "us", 1000)
    listed = read_manifest(path)["boards"]
    assert sorted((b["connected_realm_id"], b["dungeon_id"]) for b in listed) == boards
    for entry in listed:
        body = json.loads(gzip.decompress((path.parent / entry["body"]).read_bytes()))
        assert body == {"cr": entry["connected_realm_id"]}


def test_writer_refuses_inconsistent_entries(raw_dir: Path) -> None:
    with SnapshotWriter(raw_dir, "eu", 946) as snapshot:
        snapshot.add(1, 2, "200", b"{}", None, T0)
        with pytest.raises(ValueError):
            snapshot.add(1, 2, "200", b"{}", None, T0)
        with pytest.raises(ValueError):
            snapshot.add(3, 2, "200", None, None, T0)
        with pytest.raises(ValueError):
            snapshot.add(4, 2, "302", None, None, T0)
        with pytest.raises(ValueError):
            snapshot.add(5, 2, "404", None, None, T0.replace(tzinfo=None))
    assert len(read_manifest(list_snapshots(raw_dir, "eu", 946)[0])["boards"]) == 1
