"""Dagster's default run launcher, able to tell the run monitoring daemon that a run's process died.

Without that, a run whose code server and run worker died together (the whole `dagster dev` killed,
a restart) stays STARTED and holds its pool slots until the monitoring's max runtime ends it.
"""

from __future__ import annotations

import socket

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
)

from metawatch_dagster.run_workers import WORKER_HOST_TAG, run_worker

# Code locations whose server the launching process starts itself: their run workers share its host
# (and its view of process ids), unlike a code server reached at an address.
_STARTED_HERE = (ManagedGrpcPythonEnvCodeLocationOrigin, InProcessCodeLocationOrigin)


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Launches each run in a process beside its code server, as the default launcher does, and
    answers the monitoring daemon's health check from that process's state."""

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.remote_job_origin.repository_origin.code_location_origin
        if isinstance(origin, _STARTED_HERE):
            self._instance.add_run_tags(run.run_id, {WORKER_HOST_TAG: socket.gethostname()})
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        worker = run_worker(self._instance, run)
        if worker is not None and worker.is_gone():
            return CheckRunHealthResult(WorkerStatus.FAILED, f"its process ({worker}) has ended")
        # The daemon fails a run on any other answer, so a process it cannot see counts as running:
        # such a run still ends at the max runtime.
        return CheckRunHealthResult(WorkerStatus.RUNNING)
