"""Dagster's in-process executor, recording on each run the process that executes it.

A run launched from the UI or the daemon executes in a process the code server starts; only that
process knows itself, so it tags the run (`metawatch/worker`) before its first step, as the
`metawatch` commands tag the runs they execute in their own process.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from metawatch_dagster.run_workers import Worker, worker_tags


class _RecordingWorker(dg.Executor):
    def __init__(self, executor: dg.Executor):
        self._executor = executor

    @property
    def retries(self):
        return self._executor.retries

    @property
    def step_dependency_config(self):
        return self._executor.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        plan_context.instance.add_run_tags(
            plan_context.run_id, worker_tags(Worker.current(), plan_context.run_id)
        )
        return self._executor.execute(plan_context, execution_plan)


@dg.executor(
    name="in_process",
    config_schema=dg.in_process_executor.config_schema,
)
def worker_recording_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Executes all steps in the run's process, which it first records on the run."""
    return _RecordingWorker(dg.in_process_executor.executor_creation_fn(init_context))
