"""What `metawatch` says and returns when it refuses a command, and that it refused before touching
the Dagster instance."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from metawatch_dagster.assets import dbt
from metawatch_dagster.cli import main
from metawatch_dagster.instance_home import ensure_dagster_home


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


def test_a_data_folder_that_is_a_file_is_named_in_one_line_before_anything_is_made(
    home, tmp_path, capsys
):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("")

    assert main(["load", "--region", "eu", "--period", "current", "--no-publish"]) == 1

    assert capsys.readouterr().err == (
        f"metawatch: [Errno 20] Not a directory: '{not_a_folder / 'logs'}'\n"
    )
    assert not home.exists()


def test_docs_on_a_port_in_use_say_so_in_one_line(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dbt, "build_docs", lambda settings: tmp_path)  # the site is dbt's to test
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["docs", "--serve", "--port", str(port)]) == 1

    assert capsys.readouterr().err == (
        f"metawatch: port {port} is in use: serve the docs on another with --port\n"
    )


def test_a_dagster_home_made_by_the_command_is_said_once(home, capsys):
    assert ensure_dagster_home() == home
    assert capsys.readouterr().err == f"created a new Dagster instance at {home}\n"
    assert (home / "dagster.yaml").is_file()

    ensure_dagster_home()
    assert capsys.readouterr().err == ""


def test_a_command_starts_a_new_log_once_the_log_has_grown_past_its_limit(
    home, tmp_path, monkeypatch
):
    from metawatch_dagster import cli

    monkeypatch.setattr(cli, "LOG_ROTATE_BYTES", 100)
    monkeypatch.setattr(cli, "LOG_BACKUPS", 2)
    log = tmp_path / "data" / "logs" / "metawatch.log"
    log.parent.mkdir(parents=True)
    numbered = [log.with_name(f"metawatch.log.{index}") for index in (1, 2)]
    log.write_text("newest " * 15)
    numbered[0].write_text("older")
    numbered[1].write_text("oldest")

    cli._operator()
    assert not log.exists(), "the next run's output starts a new log"
    assert [path.read_text() for path in numbered] == ["newest " * 15, "older"]

    log.write_text("small")
    cli._operator()
    assert [path.read_text() for path in (log, *numbered)] == ["small", "newest " * 15, "older"]
