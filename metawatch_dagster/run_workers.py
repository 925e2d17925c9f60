"""The process executing each run, so that a run whose process died (killed, out of memory, a
restart) is told apart from one still going and marked failed; and whether Ctrl-C stopped a run.

Dagster's default run launcher cannot check a run worker's health: such a run stays STARTED and keeps
the `duckdb` pool slot of the step it was in, and every later DuckDB step would wait for it forever.
The `metawatch` commands record their own process on each run they start, and a run launched from the
UI or the daemon records its own (`metawatch_dagster.worker_executor`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

WORKER_TAG = "metawatch/worker"
_PROC = Path("/proc/self/stat")
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class Worker:
    """A process: its host, its pid and its start time (the kernel's, empty where there is no
    /proc), which tells the process from a later one given the same pid."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> Worker:
        stat = _process_stat(os.getpid())
        return cls(socket.gethostname(), os.getpid(), stat.started if stat else "")

    @classmethod
    def from_tag(cls, text: str | None) -> Worker | None:
        parts = (text or "").split("|")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def tag(self) -> str:
        return f"{self.host}|{self.pid}|{self.started}"

    def is_gone(self) -> bool:
        """Whether this process has ended. A process on another host is never known to be gone,
        and without a start time a later process given the same pid passes for this one."""
        if self.host != socket.gethostname():
            return False
        if _PROC.exists():
            stat = _process_stat(self.pid)
            # A zombie has ended: only its exit status is left, for its parent to collect.
            if stat is None or stat.state == "Z":
                return True
            return bool(self.started) and stat.started != self.started
        if os.name != "posix":
            return False  # Windows' os.kill would end the process: left to the daemon's monitoring
        try:
            os.kill(self.pid, 0)  # signal 0 only asks whether the process exists
        except ProcessLookupError:
            return True
        except PermissionError:  # it does, under another user
            return False
        return False

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


@dataclass(frozen=True)
class _ProcessStat:
    state: str
    started: str  # clock ticks after boot


def _process_stat(pid: int) -> _ProcessStat | None:
    """The state and start time of a process (fields 3 and 22 of /proc/<pid>/stat); None when it
    has ended or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count from after it.
    fields = stat.rpartition(")")[2].split()
    return _ProcessStat(state=fields[0], started=fields[19])


def worker_tags(worker: Worker, run_id: str) -> dict[str, str]:
    """The tags recording `worker` as the process executing run `run_id`. The tag names the run:
    Dagster copies a run's tags to its retries and re-executions, which record their own process
    only once it executes them."""
    return {WORKER_TAG: f"{worker.tag()}|{run_id}"}


def worker_of(run: dg.DagsterRun) -> Worker | None:
    """The process recorded as executing `run`; None when none is, or when the tag was copied from
    another run. A tag without a run id, written before tags named their run, is taken as this
    run's: a run such a process left unfinished would otherwise hold its pool slots for good."""
    tag = run.tags.get(WORKER_TAG) or ""
    if (unnamed := Worker.from_tag(tag)) is not None:
        return unnamed
    recorded, _, run_id = tag.rpartition("|")
    return Worker.from_tag(recorded) if run_id == run.run_id else None


def ended_worker_of(run: dg.DagsterRun) -> Worker | None:
    """The process recorded on `run`, if it has ended; None while it runs or where none is known."""
    worker = worker_of(run)
    return worker if worker is not None and worker.is_gone() else None


def fail_runs_of_gone_workers(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Mark failed every unfinished run whose process has ended, and free the pool slots and
    queued steps it held; returns those runs."""
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        worker = ended_worker_of(run)
        if worker is None:
            continue
        instance.report_run_failed(
            run,
            f"the process running it ({worker}) ended before the run did: killed, out of memory"
            " or a restart. Marked failed so that the pool slots it held are free again.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run)
    return failed


def pool_holders(instance: dg.DagsterInstance, pool: str) -> list[dg.DagsterRun]:
    """The runs holding slots of `pool` now."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    run_ids = sorted({slot.run_id for slot in info.claimed_slots})
    return list(instance.get_runs(filters=dg.RunsFilter(run_ids=run_ids))) if run_ids else []


def stopped_by_an_interrupt(events: Iterable[dg.DagsterEvent]) -> bool:
    """Did Ctrl-C (SIGINT) end the run? Dagster turns it into the run's failure between steps and
    into the step's failure inside one, where it may come wrapped: DuckDB raises "Query interrupted"
    from it."""
    for event in events:
        if not event.is_failure:
            continue
        errors = [getattr(event.event_specific_data, "error", None)]
        while errors:
            error = errors.pop()
            if error is None:
                continue
            if error.cls_name == dg.DagsterExecutionInterruptedError.__name__:
                return True
            errors += [error.cause, error.context]
    return False
