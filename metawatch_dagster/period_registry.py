"""Registering periods as dynamic partitions, always in ascending order.

The UI lists dynamic partitions in the order they were added, so an older period that arrives late
(a backfill of an earlier season) re-registers the whole list in order; materializations are keyed by
partition key and survive that.
"""

from __future__ import annotations

import dagster as dg

from metawatch_dagster.partitions import period_partitions


def registered_periods(instance: dg.DagsterInstance) -> list[int]:
    return [int(p) for p in instance.get_dynamic_partitions(period_partitions.name)]


def periods_to_register(registered: list[int], wanted: list[int]) -> tuple[list[int], bool]:
    """The periods to add, and whether the existing list must be re-added to stay ascending."""
    new = sorted(set(wanted) - set(registered))
    if not new:
        return [], False
    if registered == sorted(registered) and (not registered or new[0] > registered[-1]):
        return new, False
    return sorted(set(registered) | set(new)), True


def register_periods(instance: dg.DagsterInstance, periods: list[int]) -> list[int]:
    """Registers the periods not yet known; returns the newly added ones."""
    registered = registered_periods(instance)
    to_add, reorder = periods_to_register(registered, periods)
    if reorder:
        for period in registered:
            instance.delete_dynamic_partition(period_partitions.name, str(period))
    if to_add:
        instance.add_dynamic_partitions(period_partitions.name, [str(p) for p in to_add])
    return sorted(set(to_add) - set(registered))
