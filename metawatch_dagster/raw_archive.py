"""Packing an ended week's raw bodies into one archive, and putting them back when they are read.

A week reloaded every hour holds up to ~170 bodies per board, each the gzip of a ~1 MB body that
differs from the one before by a few entries: about 10 GB per region-week on a real-scale world. Gzip
cannot see from one body to the next; xz, with each board's bodies next to each other in one tar and a
window larger than a body, stores every body after a board's first as little more than its changes.

`<partition>/bodies.tar.xz` holds the bodies decompressed, each under its path without `.gz` and with
its file's mtime in nanoseconds. The client writes every body as `gzip.compress(body, 1, mtime=0)`,
so unpacking rebuilds each file byte for byte, with its mtime (the parse cache keys on size and
mtime), and the manifests never move. A file that is not whole gzip (an empty one too) is kept as its
own bytes; one gzip-compressed some other way comes back with the same body, compressed the client's
way. A pack is checked member by member against the files and put on disk (fsync) before it takes the
archive's name, so a power loss cannot leave an empty archive in its place, and the name is on disk
before any file is removed; an unpack is on disk (`os.sync`) before the archive is removed.

Readers of a partition's bodies hold its lock shared; packing takes it exclusively and refuses while
a reader holds it, and, holding it, removes the temp snapshots killed fetches left. The fetch, which
adds a snapshot, unpacks the partition in place first. The parse reads a packed partition from a copy
of its bodies extracted beside the archive for that parse alone (`.extracted-*`, removed after it; one
a dead run left, by the next reader or the daily pack), so rebuilding packed weeks does not unpack
them: at ~10 GB a region-week, a rebuild of a season would fill the disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import lzma
import os
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from metawatch_dagster.files import sync_to_disk
from metawatch_dagster.raw_store import (
    GZIP_LEVEL,
    list_snapshots,
    partition_dir,
    remove_stale_temp_dirs,
)

ARCHIVE_NAME = "bodies.tar.xz"
LOCK_NAME = ".bodies.lock"
MTIME_NS = "METAWATCH.mtime_ns"  # the pax header holding a body file's mtime in nanoseconds
# A window of several bodies, so a board's previous body is always within reach; a low preset, since
# the long matches between bodies, not the effort spent within one, make the ratio.
XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": 32 << 20}]
BODY_SUFFIX = ".json.gz"
GZIP_MAGIC = b"\x1f\x8b"
EXTRACT_PREFIX = ".extracted-"  # a parse's copy of a packed partition's bodies
STAGING_PREFIX = ".extracting-"  # an extract's folder until it is locked
# A staging folder lives for a few syscalls, unlocked for some: one this old is a dead reader's.
ABANDONED_STAGING_SECONDS = 3600


class PartitionBusyError(RuntimeError):
    """A run is reading or writing the partition's bodies."""


@dataclass(frozen=True)
class PackReport:
    region: str
    period: int
    bodies: int
    bytes_before: int  # the body files' size on disk
    bytes_after: int  # the archive's
    seconds: float
    unfinished_snapshots: int  # the temp snapshots of killed fetches, removed

    def __str__(self) -> str:
        removed = (
            f" (removed {self.unfinished_snapshots} unfinished snapshots a killed fetch left)"
            if self.unfinished_snapshots
            else ""
        )
        return (
            f"{self.period}|{self.region}: {self.bodies} bodies,"
            f" {self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB"
            f" in {self.seconds:.1f}s{removed}"
        )


def archive_path(raw_dir: Path, region: str, period: int) -> Path:
    return partition_dir(raw_dir, region, period) / ARCHIVE_NAME


@contextlib.contextmanager
def _lock_file(root: Path) -> Iterator[TextIO]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a") as lock:
        yield lock


@contextlib.contextmanager
def _held_shared(root: Path) -> Iterator[TextIO]:
    """The partition's lock, held shared for the block: by a reader, or a sweep of its extracts."""
    with _lock_file(root) as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        yield lock


@contextlib.contextmanager
def bodies_in_place(raw_dir: Path, region: str, period: int) -> Iterator[int]:
    """Hold the partition's bodies as files for the block: unpacked first if packed (yields how
    many bodies that put back), and not packed until the block ends."""
    with _held_shared(partition_dir(raw_dir, region, period)) as lock:
        unpacked = 0
        # Unpacking takes the lock exclusively (flock converts it, letting go first, so two readers
        # converting at once do not deadlock), and checks again once back to shared.
        while archive_path(raw_dir, region, period).exists():
            fcntl.flock(lock, fcntl.LOCK_EX)
            unpacked += unpack(raw_dir, region, period)
            fcntl.flock(lock, fcntl.LOCK_SH)
        yield unpacked


@contextlib.contextmanager
def bodies_to_read(raw_dir: Path, region: str, period: int) -> Iterator[tuple[Path, int]]:
    """Hold the partition's bodies readable as files for the block, and not packed or unpacked
    meanwhile. Yields the folder the manifests' body paths are under, and how many bodies were
    extracted for the block: none when the partition is not packed (its own folder), all of them
    when it is (a copy beside the archive, removed after the block; the archive stays)."""
    root = partition_dir(raw_dir, region, period)
    with _held_shared(root):
        _remove_abandoned_extracts(root)
        archive = root / ARCHIVE_NAME
        if not archive.exists():
            yield root, 0
            return
        with _extract_folder(root) as folder:
            yield folder, _extract(archive, folder)


@contextlib.contextmanager
def _extract_folder(root: Path) -> Iterator[Path]:
    """A new folder for an extract, locked while its reader lives: made under a staging name,
    locked, then renamed, so a sweep never meets a live extract unlocked."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    descriptor = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        folder = staging.with_name(EXTRACT_PREFIX + staging.name.removeprefix(STAGING_PREFIX))
        os.rename(staging, folder)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(descriptor)


def remove_abandoned_extracts(raw_dir: Path, region: str, period: int) -> int:
    """Remove the partition's extracts whose reader died (as the next reader would); returns how
    many. A packed week may never be read again, which would keep a dead run's extract for good."""
    root = partition_dir(raw_dir, region, period)
    with _held_shared(root):
        return _remove_abandoned_extracts(root)


def _remove_abandoned_extracts(root: Path) -> int:
    """Remove the extracts whose reader died before removing them: their lock is free; and the
    staging folders a reader died with before renaming them: their lock is free and they are old."""
    removed = 0
    cutoff = time.time() - ABANDONED_STAGING_SECONDS
    for folder in [*root.glob(f"{EXTRACT_PREFIX}*"), *root.glob(f"{STAGING_PREFIX}*")]:
        try:
            descriptor = os.open(folder, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its reader, or another sweep, removed it, or a reader renamed it
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a reader is using it
        else:
            if folder.name.startswith(STAGING_PREFIX) and os.fstat(descriptor).st_mtime > cutoff:
                continue  # a reader may be about to lock it
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        finally:
            os.close(descriptor)
    return removed


def is_packed(raw_dir: Path, region: str, period: int) -> bool:
    """Whether the partition's bodies are all in its archive."""
    return archive_path(raw_dir, region, period).exists() and not body_files(
        raw_dir, region, period
    )


def body_files(raw_dir: Path, region: str, period: int) -> list[Path]:
    """Every body file of the partition, each board's next to each other, oldest first."""
    files = [
        path
        for snapshot in list_snapshots(raw_dir, region, period)
        for path in (snapshot / "boards").glob(f"*{BODY_SUFFIX}")
    ]
    return sorted(files, key=lambda path: (path.name, path.parent.parent.name))


def pack(raw_dir: Path, region: str, period: int) -> PackReport:
    """Pack the partition's bodies into its archive, check it, then remove the body files, and the
    temp snapshots killed fetches left: a week that has ended gets no fetch to remove them."""
    started = time.monotonic()
    root = partition_dir(raw_dir, region, period)
    with _lock_file(root) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PartitionBusyError(
                f"{period}|{region}: a run is reading or writing its bodies; pack it once that"
                " run has ended"
            ) from None
        # A fetch holds the lock shared while it writes, so every temp snapshot now is a dead one's.
        unfinished = remove_stale_temp_dirs(root, older_than_seconds=0)
        unpack(raw_dir, region, period)  # an earlier pack's archive: pack it all anew
        files = body_files(raw_dir, region, period)
        if not files:
            raise ValueError(f"{period}|{region}: no bodies to pack in {root}")
        archive = root / ARCHIVE_NAME
        temp = root / f".{ARCHIVE_NAME}.tmp"
        try:
            _write_archive(temp, root, files)
            _check_archive(temp, root, files)
            sync_to_disk(temp)
            os.replace(temp, archive)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        sync_to_disk(root)
        bytes_before = sum(path.stat().st_size for path in files)
        for path in files:
            path.unlink()
    return PackReport(
        region, int(period), len(files), bytes_before, archive.stat().st_size,
        time.monotonic() - started, unfinished,
    )  # fmt: skip


def unpack(raw_dir: Path, region: str, period: int) -> int:
    """Put the packed bodies back as files (each written whole), then remove the archive; returns
    how many. The caller holds the partition's lock exclusively."""
    root = partition_dir(raw_dir, region, period)
    archive = root / ARCHIVE_NAME
    if not archive.exists():
        return 0
    count = _extract(archive, root)
    os.sync()
    archive.unlink()
    return count


def _extract(archive: Path, root: Path) -> int:
    """Write every body of the archive as its file under `root`, each whole and with its mtime;
    returns how many."""
    count = 0
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            path = _member_path(root, member.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = _restored(member.name, tar.extractfile(member).read())
            temp = path.with_name(f".{path.name}.tmp")
            temp.write_bytes(data)
            mtime_ns = int(member.pax_headers[MTIME_NS])
            os.utime(temp, ns=(mtime_ns, mtime_ns))
            os.replace(temp, path)
            count += 1
    return count


def _write_archive(temp: Path, root: Path, files: list[Path]) -> None:
    with (
        lzma.open(temp, "wb", format=lzma.FORMAT_XZ, filters=XZ_FILTERS) as xz,
        tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in files:
            stored = path.read_bytes()
            name = path.relative_to(root).as_posix()
            body = _body_of(stored)
            if body is not None:
                stored, name = body, name.removesuffix(".gz")
            info = tarfile.TarInfo(name)
            info.size = len(stored)
            info.pax_headers = {MTIME_NS: str(path.stat().st_mtime_ns)}
            tar.addfile(info, io.BytesIO(stored))


def _body_of(stored: bytes) -> bytes | None:
    """The body a gzip file holds; None when it is not gzip or does not decompress whole."""
    if not stored.startswith(GZIP_MAGIC):
        return None  # gzip.decompress(b"") gives b"", which would bring an empty file back as gzip
    try:
        return gzip.decompress(stored)
    except (OSError, EOFError, zlib.error):
        return None


def _restored(name: str, data: bytes) -> bytes:
    return data if name.endswith(".gz") else gzip.compress(data, GZIP_LEVEL, mtime=0)


def _check_archive(archive: Path, root: Path, files: list[Path]) -> None:
    """Every file's body (or, kept as is, its bytes) and mtime come back from the archive; raises
    otherwise."""
    expected = {path.relative_to(root).as_posix(): path for path in files}
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            kept_as_is = member.name.endswith(".gz")
            name = _file_name(member.name)
            path = expected.pop(name, None)
            stored = path.read_bytes() if path is not None else None
            if (
                stored is None
                or tar.extractfile(member).read() != (stored if kept_as_is else _body_of(stored))
                or int(member.pax_headers[MTIME_NS]) != path.stat().st_mtime_ns
            ):
                raise RuntimeError(f"{archive}: {name} does not come back as written")
    if expected:
        raise RuntimeError(
            f"{archive}: {len(expected)} bodies missing, e.g. {next(iter(expected))}"
        )


def _file_name(member_name: str) -> str:
    """The body file a member stands for: a file kept as is has its own name, a body the file's
    name without `.gz`."""
    return member_name if member_name.endswith(".gz") else f"{member_name}.gz"


def _member_path(root: Path, name: str) -> Path:
    """Where a member goes: inside a snapshot's boards folder, never elsewhere."""
    relative = Path(_file_name(name))
    parts = relative.parts
    if (
        len(parts) != 3
        or not parts[0].startswith("snapshot=")
        or parts[1] != "boards"
        or not parts[2].endswith(BODY_SUFFIX)
    ):
        raise ValueError(f"{root / ARCHIVE_NAME}: unexpected member {name!r}")
    return root / relative
