"""Small file helpers: writes that appear whole or not at all and, once done, survive a power loss;
and logs that do not grow for good."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace the file with `data`: a crash leaves the old bytes or the new, never a partial file.
    When `durable`, a power loss does too, and the new bytes are on disk once it returns; otherwise
    a power loss may leave the file empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        sync_to_disk(path.parent)


def sync_to_disk(path: Path) -> None:
    """Wait until the file's bytes, or the folder's entries (the names created or renamed in it),
    are on disk: the kernel writes them back only later, and a power loss before that loses them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1, sort_keys=True).encode("utf-8"))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def rotate_when_larger(path: Path, max_bytes: int, keep: int) -> bool:
    """Once the file has grown to `max_bytes`, move it to `<name>.1` (`.1` to `.2`, and so on, the
    oldest of `keep` dropped), so that the next append starts a new file; returns whether it did.
    Processes rotating at the same moment take turns under a lock, and each looks at the size anew."""
    if keep < 1:
        raise ValueError("keep at least one rotated file")
    numbered = [path.with_name(f"{path.name}.{index}") for index in range(1, keep + 1)]
    with open(path.with_name(f"{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.stat().st_size < max_bytes:
                return False
        except FileNotFoundError:
            return False
        for older, newer in zip(reversed(numbered[:-1]), reversed(numbered[1:]), strict=True):
            with contextlib.suppress(FileNotFoundError):
                os.replace(older, newer)
        os.replace(path, numbered[0])
    return True
