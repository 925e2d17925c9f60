"""Raw leaderboard snapshots on disk: one immutable directory per fetch of a (region, period) partition.

```
<raw_dir>/region=<r>/period=<p>/snapshot=<UTC fetch start, e.g. 20261123T120000123456Z>/
    manifest.json
    boards/cr<connected_realm_id>_d<dungeon_id>.json.gz
```
Bodies are stored exactly as received (gzip level 1, never parsed here). The manifest lists every board
of the fetch with its status; a 304 points `body` at the file of the last snapshot that had the board,
so every body a manifest names exists. A snapshot is built in a hidden temp directory and renamed into
place when complete: readers never see half of one, and a crash leaves only a temp dir, removed by the
partition's next fetch once a day old, or by the pack of its ended week.
Each file is on disk (fsync) before the rename and the rename before the writer returns, so a power
loss cannot leave a snapshot whose bodies came back empty, nor take back one already committed.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from metawatch_dagster.contract import BOARD_STATUSES
from metawatch_dagster.files import sync_to_disk

MANIFEST_FORMAT = 1
MANIFEST_NAME = "manifest.json"
SNAPSHOT_PREFIX = "snapshot="
TEMP_PREFIX = ".tmp-"
GZIP_LEVEL = 1
# A temp dir this old belongs to a writer that died; a live fetch finishes long before.
STALE_TEMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class HeldBoard:
    """The newest body held for a board: what to send as If-Modified-Since and where a 304 points.

    `intact` is False when the file is missing or does not end as the gzip of the body its snapshot
    recorded (emptied, truncated): the board is then fetched whole, since a 304 would keep pointing
    at bytes that cannot be read.
    """

    last_modified: str | None
    body_path: Path
    intact: bool = True


def partition_dir(raw_dir: Path, region: str, period: int) -> Path:
    return Path(raw_dir) / f"region={region}" / f"period={int(period)}"


def list_snapshots(raw_dir: Path, region: str, period: int) -> list[Path]:
    """The partition's complete snapshots, oldest first (snapshot ids sort by time)."""
    root = partition_dir(raw_dir, region, period)
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.iterdir()
        if path.name.startswith(SNAPSHOT_PREFIX) and (path / MANIFEST_NAME).is_file()
    )


def list_partitions(raw_dir: Path) -> list[tuple[str, int]]:
    """Every (region, period) with at least one complete snapshot, sorted."""
    found = []
    for region_dir in Path(raw_dir).glob("region=*/"):
        region = region_dir.name.removeprefix("region=")
        for period_dir in region_dir.glob("period=*/"):
            period_text = period_dir.name.removeprefix("period=")
            if period_text.isdigit() and list_snapshots(raw_dir, region, int(period_text)):
                found.append((region, int(period_text)))
    return sorted(found)


def read_manifest(snapshot_dir: Path) -> dict[str, Any]:
    return json.loads((snapshot_dir / MANIFEST_NAME).read_text(encoding="utf-8"))


def held_boards(raw_dir: Path, region: str, period: int) -> dict[tuple[int, int], HeldBoard]:
    """The newest body of every board the partition's snapshots hold, keyed by (connected realm, dungeon)."""
    root = partition_dir(raw_dir, region, period)
    newest: dict[tuple[int, int], dict[str, Any]] = {}
    body_bytes: dict[str, int] = {}  # by body, its length as the snapshot that wrote it recorded
    for snapshot in reversed(list_snapshots(raw_dir, region, period)):
        for entry in read_manifest(snapshot)["boards"]:
            if entry["body"] is None:
                continue
            if entry["status"] == "200":
                body_bytes[entry["body"]] = entry["bytes"]
            newest.setdefault((entry["connected_realm_id"], entry["dungeon_id"]), entry)
    return {
        board: HeldBoard(
            entry["last_modified"],
            root / entry["body"],
            _ends_as_gzip_of(root / entry["body"], body_bytes.get(entry["body"])),
        )
        for board, entry in newest.items()
    }


def _ends_as_gzip_of(path: Path, length: int | None) -> bool:
    """Whether the file is there and its gzip trailer holds `length` (the uncompressed size modulo
    2^32), read without decompressing; None (unrecorded) asks only that the file be there."""
    try:
        with path.open("rb") as handle:
            handle.seek(-4, os.SEEK_END)
            trailer = handle.read(4)
    except OSError:  # missing, or shorter than a trailer
        return False
    return length is None or int.from_bytes(trailer, "little") == length % 2**32


SNAPSHOT_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"


def snapshot_id_for(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SNAPSHOT_ID_FORMAT)


def snapshot_started_at(snapshot_dir: Path) -> datetime:
    """When the fetch that wrote the snapshot started, read from its folder's name."""
    snapshot_id = snapshot_dir.name.removeprefix(SNAPSHOT_PREFIX)
    return datetime.strptime(snapshot_id, SNAPSHOT_ID_FORMAT).replace(tzinfo=UTC)


def remove_stale_temp_dirs(partition: Path, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
    """Remove the partition's temp dirs older than `older_than_seconds`, which a writer that died
    left; returns how many."""
    if not partition.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_seconds
    for path in partition.iterdir():
        if not path.name.startswith(TEMP_PREFIX):
            continue
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:
            continue  # a live writer of the partition committed or discarded it since the listing
        if modified < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _http_date(value: str | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return format_datetime(value.astimezone(UTC), usegmt=True)
    return value


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


class SnapshotWriter:
    """Writes one snapshot of a partition; commits on a clean exit, discards on an exception.

    `add` may be called from many threads at once. `held` is the partition's held boards as the
    writer read them on entering, which its 304s point at.
    """

    def __init__(self, raw_dir: Path, region: str, period: int) -> None:
        self.region = region
        self.period = int(period)
        self._raw_dir = Path(raw_dir)
        self._partition = partition_dir(raw_dir, region, period)
        self._started_at = datetime.now(UTC)
        self.snapshot_id = snapshot_id_for(self._started_at)
        self._snapshot_name = f"{SNAPSHOT_PREFIX}{self.snapshot_id}"
        self._entries: dict[tuple[int, int], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._temp: Path | None = None
        self.held: dict[tuple[int, int], HeldBoard] = {}

    @property
    def path(self) -> Path:
        """Where the snapshot appears once committed."""
        return self._partition / self._snapshot_name

    def __enter__(self) -> SnapshotWriter:
        self._partition.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_dirs(self._partition)
        self.held = held_boards(self._raw_dir, self.region, self.period)
        self._temp = Path(
            tempfile.mkdtemp(dir=self._partition, prefix=f"{TEMP_PREFIX}{self._snapshot_name}-")
        )
        (self._temp / "boards").mkdir()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._temp is not None, "SnapshotWriter is used as a context manager"
        try:
            if exc_type is None:
                self._commit(self._temp)
        finally:
            shutil.rmtree(self._temp, ignore_errors=True)

    def add(
        self,
        connected_realm_id: int,
        dungeon_id: int,
        status: str,
        body: bytes | None,
        last_modified: str | datetime | None,
        fetched_at: datetime,
        error: str | None = None,
    ) -> None:
        """Record one board's answer; a 200 must carry its body, other statuses store none."""
        if self._temp is None:
            raise RuntimeError("SnapshotWriter.add called outside its with-block")
        if status not in BOARD_STATUSES:
            raise ValueError(f"unknown board status {status!r}; expected one of {BOARD_STATUSES}")
        if (status == "200") != (body is not None):
            raise ValueError(f"status {status} with{'out' if body is None else ''} a body")
        board = (int(connected_realm_id), int(dungeon_id))
        last_modified = _http_date(last_modified)
        body_ref: str | None = None
        if body is not None:
            name = f"boards/cr{board[0]}_d{board[1]}.json.gz"
            # Each board has its own file, so bodies are written outside the lock. Each is synced as
            # it comes, which the fetch's pace hides; syncing them all at the commit adds ~1 s.
            path = self._temp / name
            path.write_bytes(gzip.compress(body, GZIP_LEVEL, mtime=0))
            sync_to_disk(path)
            body_ref = f"{self._snapshot_name}/{name}"
        elif status == "304":
            previous = self.held.get(board)
            if previous is None or not previous.intact:
                error = error or "304 for a board with no intact held body"
            else:
                body_ref = previous.body_path.relative_to(self._partition).as_posix()
                last_modified = last_modified or previous.last_modified
        entry = {
            "connected_realm_id": board[0],
            "dungeon_id": board[1],
            "status": status,
            "last_modified": last_modified,
            "fetched_at": _iso_utc(fetched_at),
            "body": body_ref,
            "error": error,
            "bytes": len(body) if body is not None else 0,
        }
        with self._lock:
            if board in self._entries:
                raise ValueError(f"board cr{board[0]} d{board[1]} added twice to one snapshot")
            self._entries[board] = entry

    def _commit(self, temp: Path) -> None:
        with self._lock:
            boards = [self._entries[board] for board in sorted(self._entries)]
        manifest = {
            "format": MANIFEST_FORMAT,
            "region": self.region,
            "period": self.period,
            "snapshot_id": self.snapshot_id,
            "started_at": self._started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "boards": boards,
        }
        with open(temp / MANIFEST_NAME, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        sync_to_disk(temp / "boards")
        sync_to_disk(temp)
        # rename() of a directory is atomic and refuses to replace a non-empty one.
        temp.rename(self.path)
        sync_to_disk(self._partition)
