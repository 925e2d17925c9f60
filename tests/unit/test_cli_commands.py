"""What `metawatch` says and returns when it refuses a command, and that it refused before touching
the Dagster instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from metawatch_dagster.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME not yet made, a data folder of the test's own and no API credentials."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("METAWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BLIZZARD_CLIENT_ID", raising=False)
    monkeypatch.delenv("BLIZZARD_CLIENT_SECRET", raising=False)
    return tmp_path / "home"


def test_a_season_that_is_not_current_or_an_id_is_refused_before_anything_runs(home, capsys):
    assert main(["sync-periods", "--season", "abc"]) == 2

    assert capsys.readouterr().err == (
        "metawatch: season must be 'current' or a season id, not 'abc'\n"
    )
    assert not home.exists()
