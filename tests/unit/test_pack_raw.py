"""The daily pack_raw job, run in process over a data folder where us is at period 1024: it packs an
ended week only once its newest snapshot is a day old, and never the current week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from metawatch_dagster.automation import pack_raw as pack_raw_module
from metawatch_dagster.automation.pack_raw import pack_raw
from metawatch_dagster.config import Settings
from metawatch_dagster.files import atomic_write_json
from metawatch_dagster.raw_archive import archive_path, is_packed
from metawatch_dagster.raw_store import SnapshotWriter
from metawatch_dagster.reference import ReferenceStore
from metawatch_dagster.resources import MetawatchResource


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("METAWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("METAWATCH_REGIONS", "us")
    settings = Settings.from_env()
    atomic_write_json(
        ReferenceStore(settings.reference_dir).periods_path("us"),
        {"current_period": 1024, "periods": [{"period": p} for p in range(1020, 1025)]},
    )
    for period in (1023, 1024):
        with SnapshotWriter(settings.raw_dir, "us", period) as snapshot:
            snapshot.add(1, 503, "200", b'{"leading_groups": []}', None, datetime.now(UTC))
    return settings


def run_job(succeeds: bool = True) -> list[str]:
    """The job's log lines, as its run's event log holds them (for a failed step, its error)."""
    with dg.instance_for_test() as instance:
        result = pack_raw.execute_in_process(
            instance=instance, resources={"metawatch": MetawatchResource()}, raise_on_error=False
        )
        assert result.success is succeeds
        return [
            entry.dagster_event.step_failure_data.error.message
            if entry.dagster_event and entry.dagster_event.is_step_failure
            else entry.user_message
            for entry in instance.all_logs(result.run_id)
        ]


def test_an_ended_week_loaded_within_the_day_is_left_unpacked(settings):
    messages = run_job()
    assert not is_packed(settings.raw_dir, "us", 1023)
    assert any(
        "kept    1023|us: last loaded " in m and " UTC, under 24 h ago" in m for m in messages
    )
    assert any("kept    1024|us: its week has not ended (current: 1024)" in m for m in messages)


def test_an_ended_week_a_day_after_its_last_load_is_packed(settings, monkeypatch):
    monkeypatch.setattr(pack_raw_module, "UNLOADED_FOR", timedelta(0))
    messages = run_job()
    assert is_packed(settings.raw_dir, "us", 1023)
    assert not is_packed(settings.raw_dir, "us", 1024)
    assert any(m.startswith("  packed  1023|us: 1 bodies") for m in messages)


def test_a_week_whose_pack_fails_fails_the_run_once_the_other_weeks_are_packed(
    settings, monkeypatch
):
    monkeypatch.setattr(pack_raw_module, "UNLOADED_FOR", timedelta(0))
    with SnapshotWriter(settings.raw_dir, "us", 1022) as snapshot:
        snapshot.add(1, 503, "200", b'{"leading_groups": []}', None, datetime.now(UTC))
    # A power loss left 1022's archive empty, its bodies still in place.
    archive_path(settings.raw_dir, "us", 1022).touch()

    messages = run_job(succeeds=False)
    assert is_packed(settings.raw_dir, "us", 1023)
    assert "  FAILED  1022|us: ReadError: not an lzma file" in messages
    assert any(m.startswith("  packed  1023|us: 1 bodies") for m in messages)
    assert any(
        "could not pack 1022|us (see its FAILED line); the other ended weeks were packed" in m
        for m in messages
    )
