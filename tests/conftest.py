"""Session-wide setup: no telemetry, dbt beside the interpreter, and a fresh dbt manifest.

`@dbt_assets` reads the manifest when its module is imported and `prepare_if_dev` does nothing under
pytest, so the manifest is parsed before collection imports any test module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# dbt lives beside the interpreter; pytest may run from a virtualenv that is not activated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def _dbt_project():
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def pytest_configure(config) -> None:
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: the controller parsed the manifest before starting it
    project = _dbt_project()
    project.preparer.prepare(project)


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    return _dbt_project().manifest_path
