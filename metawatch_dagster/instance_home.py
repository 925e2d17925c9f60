"""The Dagster instance the CLI uses: $DAGSTER_HOME, or ./.dagster_home made from the tracked template."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dagster as dg

TEMPLATE = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
DEFAULT_HOME = Path(".dagster_home")
POOL_LIMITS = {"duckdb": 1}


def ensure_dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    new = not home.exists()
    home.mkdir(parents=True, exist_ok=True)
    if new:
        # A mistyped DAGSTER_HOME would otherwise make, silently, an instance the intended UI never shows.
        print(f"created a new Dagster instance at {home}", file=sys.stderr)
    config = home / "dagster.yaml"
    if not config.exists() and TEMPLATE.exists():
        shutil.copyfile(TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    for pool, limit in POOL_LIMITS.items():
        if pool not in storage.get_concurrency_keys():
            storage.set_concurrency_slots(pool, limit)
    return instance
