"""The dbt resource starts dbt without dagster-dbt's two start-up costs, and only when it can."""

from __future__ import annotations

import importlib.metadata

import dagster_dbt.core.resource as dagster_dbt_resource
from packaging import version

from metawatch_dagster.assets.dbt import dbt_resource


def test_the_version_of_our_dbt_is_the_installed_packages_without_running_it(monkeypatch) -> None:
    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt was run: {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    dbt = dbt_resource()

    assert dbt._cli_version == version.parse(importlib.metadata.version("dbt-core"))
    assert dbt._initialize_dbt_core_adapter(["build"]) is None


def test_another_dbt_is_asked_its_version(monkeypatch) -> None:
    asked: list[list[str]] = []

    def version_output(command):
        asked.append(command)
        return b"Core:\n  - installed: 1.10.4\n"

    monkeypatch.setattr(dagster_dbt_resource, "check_output", version_output)
    dbt = dbt_resource().model_copy(update={"dbt_executable": "/opt/other/dbt"})

    assert dbt._cli_version == version.parse("1.10.4")
    assert asked == [["/opt/other/dbt", "--version"]]
