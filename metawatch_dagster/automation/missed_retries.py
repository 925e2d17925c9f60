"""The sensor that runs again the failed runs Dagster's retry daemon passed by.

Dagster's retry daemon reads each run failure event once. It stores the event before it updates the
run's status and tags, and a daemon iteration between the two sees a run still started, skips it, and
moves its cursor past the failure for good (dagster-io/dagster#33741): the run stays failed with
`dagster/will_retry=true` and nobody runs it again. This sensor requests such a run once more: the same
job, partition, assets and config (a load is idempotent, so the whole run is done again rather than
its failed steps).

A run counts as missed only when Dagster would have retried it and cannot any more:
- it failed with `dagster/will_retry=true` in the last day, and was launched through a code location
  (a `metawatch` command's run has no such origin, and the person who ran the command decides);
- the retry daemon's cursor is past its failure events, and no retry of it exists;
- it is not part of a backfill (the backfill's page re-executes its failed partitions), its job is
  one of metawatch's own, and no later run of its partition (or, unpartitioned, of its job) has been
  created since it ended.
Its rerun carries `metawatch/retry_of` and leaves the retries Dagster would still have made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import (
    AUTO_RETRY_RUN_ID_TAG,
    BACKFILL_ID_TAG,
    MAX_RETRIES_TAG,
    PARENT_RUN_ID_TAG,
    PARTITION_NAME_TAG,
    WILL_RETRY_TAG,
)

from metawatch_dagster.automation import SENSOR_INTERVAL_SECONDS, sensor_status
from metawatch_dagster.jobs import partition_job, publish_job, reference_job, reparse_job

RETRY_OF_TAG = "metawatch/retry_of"
# Where the retry daemon (Dagster's EventLogConsumerDaemon) keeps the last failure event it read.
RETRY_DAEMON_CURSOR = "EVENT_LOG_CONSUMER_CURSOR-PIPELINE_FAILURE"
LOOKBACK = timedelta(days=1)
UNREAD_LIMIT = 1000  # the daemon reads 500 a batch
# The asset jobs: a missed freshness check or period sync waits for its next tick or a person.
RETRIED_JOBS = [partition_job, reparse_job, publish_job, reference_job]
_RETRIED_JOB_NAMES = {job.name for job in RETRIED_JOBS}


@dataclass(frozen=True)
class FailedRun:
    """What decides whether a failed run's retry was missed, read from the instance."""

    run: dg.DagsterRun
    # Whether Dagster's retry daemon has read past its RUN_FAILURE events (its code server and the
    # run monitoring can each report a dead run's failure).
    failure_read: bool
    retried: bool  # a retry of it exists: Dagster's or this sensor's
    superseded: bool  # a run of its partition (or job) was created after it ended


def why_not_missed(failed: FailedRun) -> str | None:
    """None when the run is a missed retry to request; otherwise why it is not one."""
    run = failed.run
    if run.tags.get(WILL_RETRY_TAG) != "true":
        return "Dagster does not retry it"
    if run.remote_job_origin is None:
        return "it ran in a `metawatch` command, which reports its failure"
    if run.tags.get(BACKFILL_ID_TAG):
        return "it belongs to a backfill, whose page re-executes its failed partitions"
    if run.job_name not in _RETRIED_JOB_NAMES:
        return f"its job {run.job_name} is not one this sensor runs: re-execute it from its page"
    if failed.retried or run.tags.get(AUTO_RETRY_RUN_ID_TAG):
        return "it has a retry"
    if failed.superseded:
        return "a later run of its partition or job was created after it ended"
    if not failed.failure_read:
        return "Dagster's retry daemon has not read its failure yet"
    return None


def retries_left(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int:
    """The retries Dagster would still make after one more of `run`: its limit less the runs of
    its group so far (the group holds the run and the retries before it)."""
    limit = int(run.tags.get(MAX_RETRIES_TAG, instance.run_retries_max_retries))
    _, group = instance.get_run_group(run.run_id)
    return max(0, limit - len(group))


def rerun_request(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.RunRequest:
    subset = run.asset_selection is not None
    return dg.RunRequest(
        run_key=f"retry-of:{run.run_id}",
        job_name=run.job_name,
        partition_key=run.tags.get(PARTITION_NAME_TAG),
        run_config=run.run_config,
        asset_selection=sorted(run.asset_selection) if subset else None,
        asset_check_keys=(
            sorted(run.asset_check_selection)
            if subset and run.asset_check_selection is not None
            else None
        ),
        tags={RETRY_OF_TAG: run.run_id, MAX_RETRIES_TAG: str(retries_left(instance, run))},
    )


def failed_runs(instance: dg.DagsterInstance, since: datetime) -> list[FailedRun]:
    """The runs that failed after `since` and that Dagster marked to retry."""
    # Failures first: the retry daemon makes its retry before it moves its cursor, so a failure it
    # has read past shows its retry in the runs read after.
    unread = unread_failures(instance)
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            tags={WILL_RETRY_TAG: "true"},
            updated_after=since,
        )
    )
    return [_facts(instance, record, unread) for record in records]


def unread_failures(instance: dg.DagsterInstance) -> set[str] | None:
    """The runs with a failure event the retry daemon has not read yet, by the storage ids of the
    event log's index as the daemon reads them (a run's own events have ids of their own); None
    when that cannot be told: the daemon has never run, or is more than a batch behind."""
    cursor = instance.daemon_cursor_storage.get_cursor_values({RETRY_DAEMON_CURSOR}).get(
        RETRY_DAEMON_CURSOR
    )
    if cursor is None:
        return None
    unread = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            dg.DagsterEventType.RUN_FAILURE, after_storage_id=int(cursor)
        ),
        limit=UNREAD_LIMIT,
        ascending=True,
    )
    return None if unread.has_more else {record.run_id for record in unread.records}


def _facts(
    instance: dg.DagsterInstance, record: dg.RunRecord, unread: set[str] | None
) -> FailedRun:
    run = record.dagster_run
    retries = [
        *instance.get_runs(dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}), limit=1),
        *instance.get_runs(dg.RunsFilter(tags={RETRY_OF_TAG: run.run_id}), limit=1),
    ]
    partition = run.tags.get(PARTITION_NAME_TAG)
    later = instance.get_runs(
        dg.RunsFilter(
            job_name=None if partition else run.job_name,
            tags={PARTITION_NAME_TAG: partition} if partition else {},
            created_after=(
                datetime.fromtimestamp(record.end_time, UTC)
                if record.end_time
                else record.update_timestamp
            ),
        ),
        limit=1,
    )
    return FailedRun(
        run=run,
        failure_read=unread is not None and run.run_id not in unread,
        retried=bool(retries),
        superseded=bool(later),
    )


@dg.sensor(
    name="missed_retries",
    jobs=RETRIED_JOBS,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=sensor_status(),
    description=(
        "Runs again a failed run that Dagster's retry daemon passed by without retrying it"
        " (dagster-io/dagster#33741)."
    ),
)
def missed_retries(context: dg.SensorEvaluationContext):
    instance = context.instance
    requests = []
    for failed in failed_runs(instance, datetime.now(UTC) - LOOKBACK):
        reason = why_not_missed(failed)
        run_id = failed.run.run_id
        if reason is not None:
            context.log.debug(f"run {run_id[:8]} is not rerun: {reason}")
            continue
        instance.report_engine_event(
            "Dagster's retry daemon passed this failure by without retrying the run"
            " (dagster-io/dagster#33741); the missed_retries sensor requests a rerun of it",
            failed.run,
        )
        context.log.info(f"run {run_id[:8]} ({failed.run.job_name}) missed its retry: rerun")
        requests.append(rerun_request(instance, failed.run))
    return requests or dg.SkipReason("no failed run missed its retry")
