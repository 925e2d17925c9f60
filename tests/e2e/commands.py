"""The platform's commands as a person or a deployment runs them, against a sandbox and an instance
home of the test's own, and what the tests watch for in that instance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg

from metawatch_dagster.run_workers import pool_holders
from metawatch_dagster.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
METAWATCH = BIN / "metawatch"
T = TypeVar("T")


def metawatch(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(METAWATCH), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def sandbox_env(sandbox: Sandbox, home: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **sandbox.env(),
        "DAGSTER_HOME": str(home),
        "METAWATCH_DATA_DIR": str(data_dir),
        "METAWATCH_REGIONS": "eu",
    }


def prepare_instance(home: Path) -> None:
    """Create the instance's storage before any daemon starts, as `make instance` does: a daemon and
    its code server creating a fresh SQLite storage at once can race on its migrations ("Version
    table 'alembic_version' has more than one head")."""
    with dg.DagsterInstance.from_config(str(home)):
        pass


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dagster-daemon` over the workspace, in its own process group with its code server and run
    workers, so that a test can stop or kill them together. What it prints is appended to `log`,
    in the test's folder, to tell why a run did not come."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(check: Callable[[], T | None], timeout_s: float, interval_s: float, what: str) -> T:
    """The first answer of `check` that is not empty, asked every `interval_s`; fails after
    `timeout_s` saying `what` did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answer := check():
            return answer
        time.sleep(interval_s)
    raise AssertionError(f"{what} within {timeout_s} s")


def wait_for_a_partition_step_in_the_duckdb_pool(home: Path, timeout_s: float = 120) -> str:
    def holding_run() -> str | None:
        holders = pool_holders(instance, "duckdb")
        return next((run.run_id for run in holders if run.job_name == "load_partition"), None)

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        return wait_until(
            holding_run, timeout_s, 0.05, "no load_partition step held the duckdb pool"
        )
    finally:
        instance.dispose()
