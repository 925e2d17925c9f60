"""Shared helpers: real fixture bodies written through SnapshotWriter, and table snapshots."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metawatch_dagster.contract import PARTITIONED_TABLES
from metawatch_dagster.parsing import parse_partition
from metawatch_dagster.raw_store import SnapshotWriter
from metawatch_dagster.warehouse import connect

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "blizzard"
TRIMMED_EU = (
    "mythic-leaderboard_cr1305_d199_p946.eu.trimmed.json"  # cr 1305, dungeon 199, period 946
)
FULL_US = "mythic-leaderboard_cr3694_d244_p663.us.full.json"  # cr 3694, dungeon 244, period 663

T0 = datetime(2024, 2, 15, 12, 0, tzinfo=UTC)
HTTP_DATE = "Thu, 15 Feb 2024 11:00:00 GMT"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_doc(name: str) -> dict[str, Any]:
    return copy.deepcopy(_fixture_doc(name))


_cache: dict[str, dict[str, Any]] = {}


def _fixture_doc(name: str) -> dict[str, Any]:
    if name not in _cache:
        _cache[name] = json.loads(fixture_bytes(name))
    return _cache[name]


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode("utf-8")


Board = tuple[int, int, str, bytes | None]  # connected realm, dungeon, status, body


def write_snapshot(
    raw_dir: Path,
    region: str,
    period: int,
    boards: Iterable[Board],
    fetched_at: datetime = T0,
    last_modified: str | None = HTTP_DATE,
) -> None:
    with SnapshotWriter(raw_dir, region, period) as snapshot:
        for cr, dungeon, status, body in boards:
            snapshot.add(cr, dungeon, status, body, last_modified, fetched_at)


def rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def table_state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every contract table's rows, sorted, so two states compare exactly."""
    state = {}
    for table in PARTITIONED_TABLES:
        state[table] = sorted(
            con.execute(f"SELECT * FROM {table}").fetchall(), key=lambda row: repr(row)
        )
    return state


def rebuilt_state(
    raw_dir: Path, warehouse: Path, region: str, period: int
) -> dict[str, list[tuple]]:
    """The contract tables after one parse of the partition into a new warehouse: what any sequence
    of reloads must end up equal to."""
    with connect(warehouse) as fresh:
        parse_partition(fresh, raw_dir, region, period)
        return table_state(fresh)


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    return tmp_path / "raw"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def naive(moment: datetime) -> datetime:
    """A time as DuckDB's TIMESTAMP columns give it back (UTC, without zone)."""
    return moment.replace(tzinfo=None)
