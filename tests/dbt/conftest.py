"""dbt tests: the manifest is parsed once per session, before any test imports the dbt assets
(`@dbt_assets` reads it at import, and `prepare_if_dev` does nothing under pytest)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# dbt lives beside the interpreter; pytest may run from a virtualenv that is not activated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    from dagster_dbt import DbtProject

    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.preparer.prepare(project)
    return project.manifest_path
