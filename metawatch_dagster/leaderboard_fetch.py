"""Fetch every board of a (period, region) partition into one immutable raw snapshot.

Boards already held are asked with If-Modified-Since, so an unchanged board costs a 304 and no bytes;
a board whose held body is missing or damaged on disk is fetched whole.
Bodies are written as received; nothing here parses JSON or opens DuckDB.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from metawatch_dagster.blizzard import BlizzardClient, BlizzardError
from metawatch_dagster.contract import FULL_BOARD_ENTRIES
from metawatch_dagster.raw_store import SnapshotWriter
from metawatch_dagster.reference import BoardPlan

log = logging.getLogger("metawatch.fetch")

DEFAULT_WORKERS = 24


class NoBoardAnswered(RuntimeError):
    """No board of a fetch answered. Its snapshot is not written: the parse takes each board's status
    from the newest snapshot, so one of errors alone would hide every body held from earlier fetches."""


@dataclass
class FetchReport:
    region: str
    period: int
    boards: int
    statuses: Counter[str] = field(default_factory=Counter)
    entries: int = 0  # in the bodies this fetch downloaded (its 200s)
    full_boards: int = 0  # of those bodies, the ones at the board's cap of 500 entries
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    snapshot: str = ""
    errors: list[str] = field(default_factory=list)
    damaged_bodies: list[str] = field(default_factory=list)  # held bodies fetched again whole

    @property
    def answered(self) -> int:
        return sum(self.statuses[s] for s in ("200", "304", "404"))

    def board_counts(self) -> dict[str, int]:
        """Boards by how they answered, as the asset's metadata and the benchmark report them."""
        return {
            "boards": self.boards,
            "status_200": self.statuses["200"],
            "status_304": self.statuses["304"],
            "status_404": self.statuses["404"],
            "errors": self.statuses["error"],
        }

    def summary(self) -> str:
        by_status = " ".join(f"{s}={self.statuses[s]}" for s in ("200", "304", "404", "error"))
        return (
            f"{self.period}|{self.region}: {self.boards} boards ({by_status}), downloaded"
            f" {self.entries} entries ({self.full_boards} boards full), {self.requests} requests,"
            f" {self.retries} retries, "
            f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f}s"
        )


def count_entries(body: bytes) -> int:
    """Entries in a leaderboard body, counted without parsing it (a C-speed byte scan)."""
    return body.count(b'"ranking"')


@contextmanager
def _fetch_pool(workers: int, client: BlizzardClient) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, when its block raises (Ctrl-C, a run terminated, a full disk), drops the
    boards still queued and stops the client's requests not yet sent, instead of fetching them (after
    up to an hour's wait for the quota) for a snapshot that is discarded."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    try:
        yield pool
    except BaseException:
        client.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def fetch_partition(
    client: BlizzardClient,
    raw_dir: Path,
    plan: BoardPlan,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int, int], None] | None = None,
) -> FetchReport:
    boards = plan.boards
    report = FetchReport(region=plan.region, period=plan.period, boards=len(boards))
    stats_before = client.stats
    started = time.monotonic()

    with SnapshotWriter(raw_dir, plan.region, plan.period) as snapshot:
        # The boards the writer's 304s point at: asked with If-Modified-Since when intact.
        held = snapshot.held
        report.damaged_bodies = sorted(
            str(held[board].body_path)
            for board in boards
            if board in held and not held[board].intact
        )

        def fetch_one(board: tuple[int, int]):
            cr_id, dungeon_id = board
            previous = held.get(board)
            since = previous.last_modified if previous and previous.intact else None
            try:
                response = client.leaderboard(plan.region, cr_id, dungeon_id, plan.period, since)
            except BlizzardError as error:
                return board, None, str(error)
            return board, response, None

        with _fetch_pool(workers, client) as pool:
            futures = [pool.submit(fetch_one, board) for board in boards]
            for done, future in enumerate(as_completed(futures), start=1):
                (cr_id, dungeon_id), response, error = future.result()
                fetched_at = datetime.now(UTC)
                if response is None:
                    report.statuses["error"] += 1
                    report.errors.append(error)
                    snapshot.add(cr_id, dungeon_id, "error", None, None, fetched_at, error=error)
                else:
                    status = str(response.status)
                    report.statuses[status] += 1
                    if response.body is not None:
                        entries = count_entries(response.body)
                        report.entries += entries
                        report.full_boards += entries >= FULL_BOARD_ENTRIES
                        report.bytes += len(response.body)
                    snapshot.add(
                        cr_id,
                        dungeon_id,
                        status,
                        response.body,
                        response.last_modified,
                        fetched_at,
                    )
                if progress:
                    progress(done, len(boards))
        if boards and not report.answered:
            raise NoBoardAnswered(
                f"none of the {len(boards)} boards of {plan.period}|{plan.region} answered, so no"
                f" snapshot was written; the first error: {report.errors[0]}"
            )
        report.snapshot = snapshot.snapshot_id

    stats_after = client.stats
    report.requests = stats_after.requests - stats_before.requests
    report.retries = stats_after.retries - stats_before.retries
    report.seconds = time.monotonic() - started
    for error in report.errors[:5]:
        log.warning("board failed after retries: %s", error)
    return report
