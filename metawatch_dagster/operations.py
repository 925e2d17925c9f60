"""What the `metawatch` commands do, through the Dagster instance so every run shows in the UI."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core import errors as dagster_errors
from dagster._core.storage.tags import WILL_RETRY_TAG
from dagster._utils.error import SerializableErrorInfo

from metawatch_dagster.config import Settings
from metawatch_dagster.instance_home import POOL_LIMITS
from metawatch_dagster.partitions import PeriodRegion
from metawatch_dagster.period_registry import register_periods
from metawatch_dagster.raw_archive import (
    PartitionBusyError,
    body_files,
    is_packed,
    pack,
    remove_abandoned_extracts,
)
from metawatch_dagster.raw_store import list_partitions, list_snapshots, snapshot_started_at
from metawatch_dagster.reference import ReferenceMissing, ReferenceStore
from metawatch_dagster.run_workers import (
    Worker,
    fail_runs_of_gone_workers,
    pool_holders,
    stopped_by_an_interrupt,
    worker_tags,
)

_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LATEST = re.compile(r"^latest:(\d+)$")
_URL_QUERY = re.compile(r"(https?://[^\s?#]+)[?#]\S*")
# Dagster reports what a step's own code raised as the cause of one of these.
_USER_CODE_WRAPPERS = frozenset(
    name
    for name, value in vars(dagster_errors).items()
    if isinstance(value, type) and issubclass(value, dagster_errors.DagsterUserCodeExecutionError)
)


@dataclass(frozen=True)
class PeriodSpec:
    """`current`, `latest:N` (the N latest periods up to the current one), one period id, or an
    inclusive range `first-last`."""

    latest: int = 0
    first: int | None = None
    last: int | None = None

    @classmethod
    def parse(cls, text: str) -> PeriodSpec:
        text = text.strip().lower()
        if text == "current":
            return cls(latest=1)
        if match := _LATEST.match(text):
            if int(match.group(1)) < 1:
                raise ValueError(f"{text!r} asks for no period")
            return cls(latest=int(match.group(1)))
        if text.isdigit():
            return cls(first=int(text), last=int(text))
        if match := _RANGE.match(text):
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise ValueError(f"period range {text!r} runs backwards")
            return cls(first=first, last=last)
        raise ValueError(
            f"period must be 'current', 'latest:N', an id or 'first-last', not {text!r}"
        )

    def resolve(self, store: ReferenceStore, region: str) -> list[int]:
        """The periods asked for in `region`, read from its reference files (no API call); refuses
        a period they do not know or one after the current period, before anything is registered."""
        try:
            periods = store.periods(region)
        except ReferenceMissing as missing:
            raise ValueError(
                f"{missing} (`metawatch load` does that for the regions in METAWATCH_REGIONS)"
            ) from None
        current = periods["current_period"]
        started = sorted(p["period"] for p in periods["periods"] if p["period"] <= current)
        if self.latest:
            return started[-self.latest :]
        if gaps := _gaps(self.first, self.last, started):
            raise ValueError(
                f"unknown or future periods in {region}: {gaps} (known: {started[0]}-{started[-1]},"
                f" current: {current})"
            )
        return list(range(self.first, self.last + 1))


def _gaps(first: int, last: int, known: list[int]) -> str:
    """The stretches of first..last that `known` (ascending) lacks, as `1-1019, 1025-100000`."""
    gaps, start = [], first
    for period in (p for p in known if first <= p <= last):
        if period > start:
            gaps.append((start, period - 1))
        start = period + 1
    if start <= last:
        gaps.append((start, last))
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in gaps)


def held_partitions(
    settings: Settings, regions: list[str], spec: PeriodSpec | None
) -> list[PeriodRegion]:
    """The partitions of `regions` with raw snapshots on disk, those `spec` asks for (all when
    None), sorted."""
    held = [
        PeriodRegion(period, region)
        for region, period in list_partitions(settings.raw_dir)
        if region in regions
    ]
    if spec is not None and spec.latest:
        # The reference files an earlier load left tell `current` and `latest:N`: no API call.
        store = ReferenceStore(settings.reference_dir)
        asked = {region: spec.resolve(store, region) for region in {p.region for p in held}}
        held = [p for p in held if p.period in asked[p.region]]
    elif spec is not None:
        held = [p for p in held if spec.first <= p.period <= spec.last]
    return sorted(held)


@dataclass
class PackOutcome:
    """The partitions `pack_ended_weeks` could not pack: those a run was using, which a later pack
    takes, and those whose pack failed, which need a person."""

    busy: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.busy or self.failed)


def pack_ended_weeks(
    settings: Settings,
    regions: list[str],
    spec: PeriodSpec | None,
    out: Callable[[str], None],
    unloaded_for: timedelta = timedelta(0),
) -> PackOutcome:
    """Pack the raw bodies of every held partition asked for whose week has ended in its region
    and whose newest snapshot is `unloaded_for` old (one line each); a partition that could not be
    packed is named in the outcome, and the others are packed all the same."""
    held = held_partitions(settings, regions, spec)
    if not held:
        out(f"no raw snapshots under {settings.raw_dir} for {', '.join(regions)}")
    store = ReferenceStore(settings.reference_dir)
    try:
        current = {
            region: store.periods(region)["current_period"] for region in {p.region for p in held}
        }
    except ReferenceMissing as missing:
        raise ValueError(f"{missing}: the current week of each region must be known") from None
    outcome = PackOutcome()
    for partition in held:
        newest = snapshot_started_at(
            list_snapshots(settings.raw_dir, partition.region, partition.period)[-1]
        )
        if partition.period >= current[partition.region]:
            out(
                f"  kept    {partition.key}: its week has not ended"
                f" (current: {current[partition.region]})"
            )
        elif datetime.now(UTC) - newest < unloaded_for:
            hours = unloaded_for / timedelta(hours=1)
            out(
                f"  kept    {partition.key}: last loaded {newest:%Y-%m-%d %H:%M} UTC,"
                f" under {hours:g} h ago"
            )
        elif is_packed(settings.raw_dir, partition.region, partition.period):
            removed = remove_abandoned_extracts(
                settings.raw_dir, partition.region, partition.period
            )
            left = f" (removed {removed} extracts a stopped run left)" if removed else ""
            out(f"  kept    {partition.key}: packed already{left}")
        elif not body_files(settings.raw_dir, partition.region, partition.period):
            out(f"  kept    {partition.key}: no body to pack (no board answered 200)")
        else:
            try:
                report = pack(settings.raw_dir, partition.region, partition.period)
            except PartitionBusyError as busy:
                out(f"  FAILED  {busy}")
                outcome.busy.append(partition.key)
            except Exception as error:  # a damaged archive, say: the other weeks still pack
                out(f"  FAILED  {partition.key}: {type(error).__name__}: {error}")
                outcome.failed.append(partition.key)
            else:
                out(f"  packed  {report}")
    return outcome


def parse_season(text: str) -> str:
    """`current` or a season id, as the sync_periods job takes it."""
    season = text.strip().lower()
    if season != "current" and not season.isdigit():
        raise ValueError(f"season must be 'current' or a season id, not {text!r}")
    return season


def parse_regions(text: str, settings: Settings) -> list[str]:
    regions = [r.strip().lower() for r in text.split(",") if r.strip()] if text else []
    # Each region once, in the order given: `us,us` would load every partition twice.
    regions = list(dict.fromkeys(regions or settings.regions))
    unknown = sorted(set(regions) - {"us", "eu", "kr", "tw"})
    if unknown:
        raise ValueError(f"unknown regions {unknown}")
    return regions


def _error_line(error: SerializableErrorInfo) -> str:
    """`Class: first line of its message` of the error a step's own code raised, without a URL's
    query string: what the terminal shows of a failed step (its trace is in the event log)."""
    while error.cls_name in _USER_CODE_WRAPPERS and error.cause is not None:
        error = error.cause
    # The message reads `module.Class: text`, or `module.Class` alone.
    text = error.message.split("\n", 1)[0].partition(": ")[2]
    line = f"{error.cls_name}: {text}" if text else error.cls_name
    return _URL_QUERY.sub(r"\1", line)


def _run_error_line(result: dg.ExecuteInProcessResult) -> str:
    """The run failure's own error in one line, or where to look when it has none."""
    for event in result.all_events:
        if event.is_run_failure and (error := event.event_specific_data.error):
            return _error_line(error)
    return "no error recorded; see the run in the Dagster UI"


def _check_figures(check: dg.AssetCheckEvaluation) -> str:
    """A failed check's numbers, as `boards_with_unreadable_body=1`."""
    return ", ".join(
        f"{name}={entry.value}"
        for name, entry in check.metadata.items()
        if isinstance(entry.value, int | float)  # and bools; text (the partition, say) is no figure
    )


def _describe(run: dg.DagsterRun) -> str:
    partition = run.tags.get("dagster/partition")
    return f"{run.job_name} {partition}" if partition else run.job_name


class Operator:
    """Runs metawatch's jobs in the instance at DAGSTER_HOME and reports one line per partition."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        defs: dg.Definitions,
        settings: Settings,
        out: Callable[[str], None] = print,
    ):
        self.instance = instance
        self.defs = defs
        self.settings = settings
        self.out = out
        self.log_path = settings.log_path
        self.worker = Worker.current()
        # `partition: asset check` of each error-severity check that failed in a run that succeeded.
        self.failed_checks: list[str] = []

    def _run(
        self, job_name: str, partition_key: str | None = None, run_config: dict | None = None
    ) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def(job_name)
        self._clear_pools()
        # The terminal shows one line per run and a failed step's error (`_report`); every event still
        # goes to the instance's event log, and the log file takes what steps print (dbt's output)
        # and Dagster's error lines with their traces, which its console logger writes to stderr.
        errors_only = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        # execute_in_process takes the job's own config for the partition (the reparse's full
        # re-read) only when it is given no run config at all.
        job_config = job.get_run_config_for_partition_key(partition_key) if partition_key else {}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            self.log_path.open("a") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            run_id = str(uuid.uuid4())
            return job.execute_in_process(
                instance=self.instance,
                partition_key=partition_key,
                run_config={**job_config, **errors_only, **(run_config or {})},
                raise_on_error=False,
                run_id=run_id,
                tags=worker_tags(self.worker, run_id),
            )

    def _clear_pools(self) -> None:
        """Fail the runs whose process died, which would hold their pool slots for good, and name
        the live runs holding a pool: the next run's steps in that pool wait for them."""
        for run in fail_runs_of_gone_workers(self.instance):
            self.out(
                f"  marked failed: run {run.run_id[:8]} ({_describe(run)}), whose process ended"
                " before it; its pool slots are free again"
            )
        for pool in POOL_LIMITS:
            for run in pool_holders(self.instance, pool):
                self.out(
                    f"  waiting: run {run.run_id[:8]} ({_describe(run)}) holds the {pool} pool;"
                    " steps in it start when it ends"
                )

    def _report(self, label: str, result: dg.ExecuteInProcessResult, started: float) -> bool:
        """Print the run's line; raises KeyboardInterrupt when Ctrl-C stopped the run, which Dagster
        turns into the run's failure, so that the command stops too instead of going on."""
        seconds = time.monotonic() - started
        if result.success:
            self.out(f"  ok      {label} ({seconds:.1f}s, run {result.run_id[:8]})")
            # A failed check does not fail its run: the data is stored, but not all of it is right.
            for check in result.get_asset_check_evaluations():
                if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                    name = f"{check.asset_key.to_user_string()} {check.check_name}"
                    self.failed_checks.append(f"{label}: {name}")
                    self.out(
                        f"    check failed: {name} ({_check_figures(check)});"
                        " see the run in the Dagster UI"
                    )
            return True
        failures = [event for event in result.all_events if event.is_step_failure]
        failed_steps = [event.step_key for event in failures]
        self.out(
            f"  FAILED  {label} ({seconds:.1f}s, run {result.run_id[:8]}; failed steps: "
            f"{', '.join(failed_steps) or 'none'}; output in {self.log_path})"
        )
        if stopped_by_an_interrupt(result.all_events):
            # A person stopped the command: a daemon sharing the instance must not run it again.
            self.instance.add_run_tags(result.run_id, {WILL_RETRY_TAG: "false"})
            raise KeyboardInterrupt
        for event in failures:
            if error := event.event_specific_data.error:
                self.out(f"    {event.step_key}: {_error_line(error)}")
        if not failures:
            # The run failed outside its steps (a resource that failed to start, say).
            self.out(f"    run: {_run_error_line(result)}")
        return False

    def exit_status(self, ok: bool) -> int:
        """A command's exit status: 0 when its runs succeeded and passed their error-severity
        checks. A failed check does not stop the command, but ends it with 1, as dbt does, so a
        scheduler sees that the data stored is not all right."""
        if not ok:
            return 1
        if self.failed_checks:
            self.out(
                f"failed error-severity checks ({len(self.failed_checks)}):"
                f" {'; '.join(self.failed_checks)}; the data is stored, but not all of it is right"
            )
            return 1
        return 0

    def refresh_reference(self) -> bool:
        from metawatch_dagster.jobs import REFERENCE_JOB

        started = time.monotonic()
        self.out("reference: periods, seasons, realms, dungeons, specs")
        return self._report("reference", self._run(REFERENCE_JOB), started)

    def publish(self) -> bool:
        from metawatch_dagster.jobs import PUBLISH_JOB

        started = time.monotonic()
        self.out("publish: season marts, dbt docs, serving copy, exports")
        return self._report("publish", self._run(PUBLISH_JOB), started)

    def sync_periods(self, season: str) -> bool:
        if not self.refresh_reference():
            return False
        started = time.monotonic()
        result = self._run(
            "sync_periods",
            run_config={"ops": {"register_season_periods": {"config": {"season": season}}}},
        )
        if result.success:
            added = result.output_for_node("register_season_periods")
            self.out(f"season {season}: registered {', '.join(map(str, added)) or 'nothing new'}")
        return self._report("sync-periods", result, started)

    def load(self, regions: list[str], spec: PeriodSpec, job_name: str) -> bool:
        if not self.refresh_reference():
            return False
        store = ReferenceStore(self.settings.reference_dir)
        partitions = sorted(
            PeriodRegion(period, region)
            for region in regions
            for period in spec.resolve(store, region)
        )
        return self.run_partitions(partitions, job_name)

    def run_partitions(self, partitions: list[PeriodRegion], job_name: str) -> bool:
        added = register_periods(self.instance, [p.period for p in partitions])
        if added:
            self.out(f"registered periods {', '.join(map(str, added))}")
        ok = True
        for index, partition in enumerate(partitions, start=1):
            started = time.monotonic()
            self.out(f"[{index}/{len(partitions)}] {partition.key}")
            result = self._run(job_name, partition.key)
            ok &= self._report(partition.key, result, started)
        return ok

    def rebuild(self, regions: list[str], spec: PeriodSpec | None, job_name: str) -> bool:
        held = held_partitions(self.settings, regions, spec)
        if not held:
            self.out(f"no raw snapshots under {self.settings.raw_dir} for {', '.join(regions)}")
            return False
        return self.run_partitions(held, job_name)
