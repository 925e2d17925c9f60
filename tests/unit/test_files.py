"""Log rotation: one rotation however many commands find the log too large at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from metawatch_dagster.files import rotate_when_larger


def test_commands_rotating_at_once_rotate_once_and_keep_every_backup(tmp_path: Path) -> None:
    """Threads stand for processes: each opens the lock file itself, and flock excludes another
    open file as it excludes another process (forking under pytest's workers can deadlock)."""
    log = tmp_path / "metawatch.log"
    log.write_text("newest log")
    for index, text in enumerate(("older", "oldest", "dropped"), start=1):
        log.with_name(f"metawatch.log.{index}").write_text(text)
    start = threading.Barrier(4)
    rotated = []

    def rotate() -> None:
        start.wait()
        rotated.append(rotate_when_larger(log, max_bytes=10, keep=3))

    commands = [threading.Thread(target=rotate) for _ in range(4)]
    for command in commands:
        command.start()
    for command in commands:
        command.join()

    assert sorted(rotated) == [False, False, False, True]
    assert not log.exists()
    assert [log.with_name(f"metawatch.log.{i}").read_text() for i in (1, 2, 3)] == [
        "newest log",
        "older",
        "oldest",
    ]


def test_a_log_under_the_limit_stays_and_none_kept_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "metawatch.log"
    log.write_text("short")
    assert not rotate_when_larger(log, max_bytes=10, keep=3)
    assert log.read_text() == "short"
    with pytest.raises(ValueError, match="keep"):
        rotate_when_larger(log, max_bytes=1, keep=0)
