"""The sensor that notices new periods, region by region.

Each region resets at its own hour, so a new US period never touches the EU. When a region shows a new
current period, the sensor registers it (ascending), requests that region's first load of it and a
final load of the period that just closed there (its boards changed until the reset). The cursor holds
each region's last seen current period, and run keys make a second evaluation request nothing twice.

A partition's marts check every dungeon and spec against the reference tables, so on an instance
that has never loaded them the sensor loads the reference first and the periods on a later tick.
"""

import json

import dagster as dg

from metawatch_dagster.assets.reference import REF_TABLE_KEYS
from metawatch_dagster.automation import SENSOR_INTERVAL_SECONDS, pending_run, sensor_status
from metawatch_dagster.jobs import PARTITION_JOB, REFERENCE_JOB, partition_job, reference_job
from metawatch_dagster.partitions import partition_key, period_partitions
from metawatch_dagster.period_registry import periods_to_register, registered_periods
from metawatch_dagster.resources import MetawatchResource


def plan_new_periods(
    seen: dict[str, int], current: dict[str, int]
) -> tuple[dict[str, int], list[tuple[str, int, str]]]:
    """Pure: the new cursor and the loads to request as (region, period, kind) tuples."""
    cursor = dict(seen)
    loads = []
    for region, period in sorted(current.items()):
        previous = seen.get(region)
        if previous is not None and period <= previous:
            continue
        cursor[region] = period
        loads.append((region, period, "first"))
        if previous is not None:
            loads.append((region, previous, "final"))
    return cursor, loads


@dg.sensor(
    name="new_periods",
    jobs=[partition_job, reference_job],
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=sensor_status(),
    description="Registers each region's new period and loads it (and closes the previous one).",
)
def new_periods(context: dg.SensorEvaluationContext, metawatch: MetawatchResource):
    if not reference_loaded(context.instance):
        return load_reference_first(context.instance)
    current = metawatch.current_periods()
    seen = json.loads(context.cursor) if context.cursor else {}
    cursor, loads = plan_new_periods(seen, current)
    if not loads:
        return dg.SkipReason(f"no new period (current: {current})")
    registered = registered_periods(context.instance)
    to_add, reorder = periods_to_register(registered, [period for _, period, _ in loads])
    requests = []
    if reorder:
        requests.append(
            dg.DeleteDynamicPartitionsRequest(period_partitions.name, [str(p) for p in registered])
        )
    if to_add:
        requests.append(
            dg.AddDynamicPartitionsRequest(period_partitions.name, [str(p) for p in to_add])
        )
    run_requests = [
        dg.RunRequest(
            job_name=PARTITION_JOB,
            run_key=f"{kind}:{partition_key(period, region)}",
            partition_key=partition_key(period, region),
            tags={"metawatch/load": kind},
        )
        for region, period, kind in loads
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=json.dumps(cursor, sort_keys=True),
        dynamic_partitions_requests=requests,
    )


def reference_loaded(instance: dg.DagsterInstance) -> bool:
    keys = [dg.AssetKey(key) for key in REF_TABLE_KEYS]
    latest = instance.get_latest_materialization_events(keys)  # leaves out keys never materialized
    return all(latest.get(key) for key in keys)


def load_reference_first(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    """A reference load, unless one is already queued or running (one that failed is retried)."""
    pending = pending_run(instance, job_name=REFERENCE_JOB)
    if pending:
        return dg.SkipReason(
            f"waiting for run {pending.run_id[:8]} to load the reference tables; the new"
            " periods are loaded after it"
        )
    return dg.RunRequest(job_name=REFERENCE_JOB)
