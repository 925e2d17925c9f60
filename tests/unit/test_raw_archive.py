"""Packing a partition's raw bodies: every body comes back with its bytes (its content, when another
tool wrote it) and its mtime, nothing is removed before the archive is checked, a reader of the
partition keeps it unpacked, and a parse of a packed partition reads an extract that leaves it packed."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from metawatch_dagster import raw_archive
from metawatch_dagster.raw_archive import (
    PartitionBusyError,
    archive_path,
    bodies_in_place,
    bodies_to_read,
    body_files,
    is_packed,
    pack,
    remove_abandoned_extracts,
    unpack,
)
from metawatch_dagster.raw_store import MANIFEST_NAME, SnapshotWriter, held_boards, partition_dir

REGION, PERIOD = "eu", 1022
START = datetime(2026, 12, 7, 12, tzinfo=UTC)
OTHER_TOOLS_MTIME_NS = 1_700_000_000_123_456_789


def board_body(entries: int) -> bytes:
    groups = ",".join(f'{{"ranking": {i}, "keystone_level": 20}}' for i in range(1, entries + 1))
    return f'{{"period": {PERIOD}, "leading_groups": [{groups}]}}'.encode()


def write_week(raw_dir: Path) -> None:
    """Three snapshots of two boards: the first changes every hour, the second answers 304."""
    for hour in range(3):
        fetched_at = START + timedelta(hours=hour)
        with SnapshotWriter(raw_dir, REGION, PERIOD) as snapshot:
            snapshot.add(1, 503, "200", board_body(100 + hour), fetched_at, fetched_at)
            if hour == 0:
                snapshot.add(2, 503, "200", board_body(50), fetched_at, fetched_at)
            else:
                snapshot.add(2, 503, "304", None, None, fetched_at)


def files_on_disk(raw_dir: Path) -> dict[str, tuple[bytes, int]]:
    return files_under(partition_dir(raw_dir, REGION, PERIOD))


def files_under(root: Path) -> dict[str, tuple[bytes, int]]:
    """Each file under `root` but the lock, by its path there: its bytes and mtime."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file() and path.name != raw_archive.LOCK_NAME
    }


def test_a_packed_partition_comes_back_with_every_body_and_its_mtime(tmp_path):
    write_week(tmp_path)
    bodies = body_files(tmp_path, REGION, PERIOD)
    assert [p.name for p in bodies] == ["cr1_d503.json.gz"] * 3 + ["cr2_d503.json.gz"]
    cut_short, other_tool = bodies[1], bodies[3]
    cut_short.write_bytes(cut_short.read_bytes()[:40])
    content = gzip.decompress(other_tool.read_bytes())
    other_tool.write_bytes(gzip.compress(content, 9, mtime=7))
    os.utime(other_tool, ns=(OTHER_TOOLS_MTIME_NS, OTHER_TOOLS_MTIME_NS))
    before = files_on_disk(tmp_path)
    body_bytes = sum(path.stat().st_size for path in bodies)

    report = pack(tmp_path, REGION, PERIOD)
    assert (report.bodies, report.bytes_before) == (4, body_bytes)
    assert report.bytes_after == archive_path(tmp_path, REGION, PERIOD).stat().st_size
    assert body_files(tmp_path, REGION, PERIOD) == [] and is_packed(tmp_path, REGION, PERIOD)
    packed = files_on_disk(tmp_path)
    assert sorted(packed) == sorted(
        [name for name in before if name.endswith(MANIFEST_NAME)] + [raw_archive.ARCHIVE_NAME]
    )

    with bodies_in_place(tmp_path, REGION, PERIOD) as unpacked:
        assert unpacked == 4
        after = files_on_disk(tmp_path)
    assert not archive_path(tmp_path, REGION, PERIOD).exists()
    other_name = other_tool.relative_to(partition_dir(tmp_path, REGION, PERIOD)).as_posix()
    assert {name: v for name, v in after.items() if name != other_name} == {
        name: v for name, v in before.items() if name != other_name
    }
    # Written back the client's way: the same body and mtime, not the same bytes.
    other_bytes, other_mtime = after[other_name]
    assert gzip.decompress(other_bytes) == content and other_mtime == OTHER_TOOLS_MTIME_NS
    assert other_bytes == gzip.compress(content, 1, mtime=0)


def test_an_empty_body_file_and_one_of_other_bytes_come_back_as_they_were(tmp_path):
    """A damaged body file, emptied or holding bytes other than gzip, comes back byte for byte, so
    that a rebuild reads the same damage."""
    write_week(tmp_path)
    emptied, error_page, _, _ = body_files(tmp_path, REGION, PERIOD)
    emptied.write_bytes(b"")
    error_page.write_bytes(b"<html>502 Bad Gateway</html>")
    before = files_on_disk(tmp_path)

    pack(tmp_path, REGION, PERIOD)
    with bodies_in_place(tmp_path, REGION, PERIOD):
        assert files_on_disk(tmp_path) == before


def test_a_pack_removes_the_unfinished_snapshot_a_killed_fetch_left(tmp_path):
    write_week(tmp_path)
    before = files_on_disk(tmp_path)
    unfinished = partition_dir(tmp_path, REGION, PERIOD) / ".tmp-snapshot=20261207T150000Z-killed"
    (unfinished / "boards").mkdir(parents=True)
    (unfinished / "boards" / "cr1_d503.json.gz").write_bytes(gzip.compress(board_body(103)))

    report = pack(tmp_path, REGION, PERIOD)
    assert not unfinished.exists()
    assert report.unfinished_snapshots == 1
    assert str(report).endswith(" (removed 1 unfinished snapshots a killed fetch left)")
    with bodies_in_place(tmp_path, REGION, PERIOD):
        assert files_on_disk(tmp_path) == before


def test_a_304_finds_its_board_held_intact_after_an_unpack(tmp_path):
    write_week(tmp_path)
    held = held_boards(tmp_path, REGION, PERIOD)
    pack(tmp_path, REGION, PERIOD)
    assert not any(board.intact for board in held_boards(tmp_path, REGION, PERIOD).values())
    with bodies_in_place(tmp_path, REGION, PERIOD):
        assert held_boards(tmp_path, REGION, PERIOD) == held
        assert all(board.intact for board in held.values())


def test_a_partition_being_read_is_not_packed(tmp_path):
    write_week(tmp_path)
    before = files_on_disk(tmp_path)
    with bodies_in_place(tmp_path, REGION, PERIOD), pytest.raises(PartitionBusyError):
        pack(tmp_path, REGION, PERIOD)
    assert files_on_disk(tmp_path) == before
    pack(tmp_path, REGION, PERIOD)  # the reader gone


def test_an_archive_that_does_not_check_out_removes_no_body(tmp_path, monkeypatch):
    write_week(tmp_path)
    before = files_on_disk(tmp_path)

    def drop_the_last_member(temp: Path, root: Path, files: list[Path]) -> None:
        real_write(temp, root, files[:-1])

    real_write = raw_archive._write_archive
    monkeypatch.setattr(raw_archive, "_write_archive", drop_the_last_member)
    with pytest.raises(RuntimeError, match="1 bodies missing"):
        pack(tmp_path, REGION, PERIOD)
    assert files_on_disk(tmp_path) == before
    assert list(partition_dir(tmp_path, REGION, PERIOD).glob(f"*{raw_archive.ARCHIVE_NAME}*")) == []


def test_a_pack_cut_off_after_its_archive_is_finished_by_the_next(tmp_path):
    write_week(tmp_path)
    before = files_on_disk(tmp_path)
    bodies = body_files(tmp_path, REGION, PERIOD)
    pack(tmp_path, REGION, PERIOD)
    # As if the process died after the archive was in place and one body was removed.
    with bodies_in_place(tmp_path, REGION, PERIOD):
        pass
    raw_archive._write_archive(archive_path(tmp_path, REGION, PERIOD), bodies[0].parents[2], bodies)
    bodies[0].unlink()
    assert not is_packed(tmp_path, REGION, PERIOD)

    assert pack(tmp_path, REGION, PERIOD).bodies == 4
    with bodies_in_place(tmp_path, REGION, PERIOD):
        assert files_on_disk(tmp_path) == before


def test_an_archive_member_outside_the_boards_folders_is_refused(tmp_path):
    root = partition_dir(tmp_path, REGION, PERIOD)
    root.mkdir(parents=True)
    with tarfile.open(root / raw_archive.ARCHIVE_NAME, "w:xz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../../escaped.json")
        info.pax_headers = {raw_archive.MTIME_NS: "0"}
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ValueError, match="unexpected member '../../escaped.json'"):
        unpack(tmp_path, REGION, PERIOD)
    assert not (tmp_path / "escaped.json.gz").exists()


def test_a_packed_partition_is_read_from_an_extract_and_stays_packed(tmp_path):
    write_week(tmp_path)
    root = partition_dir(tmp_path, REGION, PERIOD)
    before = {name: v for name, v in files_on_disk(tmp_path).items() if "/boards/" in name}
    pack(tmp_path, REGION, PERIOD)
    packed = files_on_disk(tmp_path)

    with bodies_to_read(tmp_path, REGION, PERIOD) as (folder, extracted):
        assert extracted == 4 and folder.parent == root
        assert folder.name.startswith(raw_archive.EXTRACT_PREFIX)
        assert files_under(folder) == before
        with pytest.raises(PartitionBusyError):
            pack(tmp_path, REGION, PERIOD)
    assert not folder.exists()
    assert files_on_disk(tmp_path) == packed and is_packed(tmp_path, REGION, PERIOD)


def test_a_staging_folder_a_reader_died_with_is_removed_once_an_hour_old(tmp_path):
    write_week(tmp_path)
    pack(tmp_path, REGION, PERIOD)
    root = partition_dir(tmp_path, REGION, PERIOD)
    abandoned, fresh = root / ".extracting-dead", root / ".extracting-starting"
    abandoned.mkdir()
    fresh.mkdir()
    two_hours_ago = time.time() - 2 * 3600
    os.utime(abandoned, (two_hours_ago, two_hours_ago))

    assert remove_abandoned_extracts(tmp_path, REGION, PERIOD) == 1
    assert not abandoned.exists() and fresh.is_dir()


def test_a_partition_not_packed_is_read_in_place(tmp_path):
    write_week(tmp_path)
    with bodies_to_read(tmp_path, REGION, PERIOD) as (folder, extracted):
        assert (folder, extracted) == (partition_dir(tmp_path, REGION, PERIOD), 0)


def test_an_extract_whose_reader_died_is_removed_and_one_in_use_is_kept(tmp_path):
    write_week(tmp_path)
    pack(tmp_path, REGION, PERIOD)
    abandoned = partition_dir(tmp_path, REGION, PERIOD) / f"{raw_archive.EXTRACT_PREFIX}dead"
    (abandoned / "snapshot=x" / "boards").mkdir(parents=True)
    (abandoned / "snapshot=x" / "boards" / "cr1_d503.json.gz").write_bytes(b"left behind")

    with bodies_to_read(tmp_path, REGION, PERIOD) as (in_use, _):
        assert not abandoned.exists()
        with bodies_to_read(tmp_path, REGION, PERIOD) as (other, extracted):
            assert other != in_use and extracted == 4
            assert len(files_under(in_use)) == 4
