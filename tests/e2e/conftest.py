"""Shared fixtures: a fresh sandbox and a fresh data directory per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

FIXTURES = Path(__file__).parent.parent / "fixtures" / "blizzard"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("METAWATCH_DATA_DIR", str(path))
    return path


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch):
    """Points the platform's environment at a running sandbox."""

    def point(sandbox, regions: tuple[str, ...]) -> None:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("METAWATCH_REGIONS", ",".join(regions))

    return point


@pytest.fixture
def fixtures_dir() -> Iterator[Path]:
    yield FIXTURES
