"""Dagster's default run launcher, able to tell the run monitoring daemon that a run's process died.

The default launcher runs each run in a process beside the code server, and only that server notices
the process die. If the server dies with it (the whole `dagster dev` killed, a restart), the run stays
STARTED and holds its pool slots until the monitoring's max runtime ends it.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from metawatch_dagster.run_workers import ended_worker_of


class HealthCheckingRunLauncher(dg.DefaultRunLauncher):
    """Launches runs as the default launcher does, and answers the monitoring daemon's health check
    from the process each run recorded (`metawatch_dagster.worker_executor`)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        if worker := ended_worker_of(run):
            return CheckRunHealthResult(WorkerStatus.FAILED, f"its process ({worker}) has ended")
        # The daemon fails a run on any other answer, so a process it cannot see counts as running:
        # such a run still ends at the max runtime.
        return CheckRunHealthResult(WorkerStatus.RUNNING)
