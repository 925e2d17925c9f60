"""Partitions: Blizzard's period (dynamic, one per week) × region (static).

Dagster orders multi-partition dimensions alphabetically, so keys read ``"<period>|<region>"``
(e.g. ``1024|us``), as the data contract says.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from metawatch_dagster.config import REGIONS

PERIOD_DIMENSION = "period"
REGION_DIMENSION = "region"

period_partitions = dg.DynamicPartitionsDefinition(name="period")
region_partitions = dg.StaticPartitionsDefinition(list(REGIONS))

period_region_partitions = dg.MultiPartitionsDefinition(
    {PERIOD_DIMENSION: period_partitions, REGION_DIMENSION: region_partitions}
)


@dataclass(frozen=True, order=True)
class PeriodRegion:
    period: int
    region: str

    @property
    def key(self) -> str:
        return partition_key(self.period, self.region)


def partition_key(period: int, region: str) -> str:
    return str(dg.MultiPartitionKey({PERIOD_DIMENSION: str(period), REGION_DIMENSION: region}))


def parse_partition_key(key: str | dg.MultiPartitionKey) -> PeriodRegion:
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
    else:
        period, region = key.split("|")
        dims = {PERIOD_DIMENSION: period, REGION_DIMENSION: region}
    if dims[REGION_DIMENSION] not in REGIONS:
        raise ValueError(f"unknown region in partition key {key!r}")
    return PeriodRegion(period=int(dims[PERIOD_DIMENSION]), region=dims[REGION_DIMENSION])


CheckOutcome = dg.AssetCheckResult | dg.AssetCheckEvaluation


def about_partition(check: CheckOutcome, key: str) -> CheckOutcome:
    """A check's outcome naming the partition it is about. Dagster 1.13 keeps checks per asset
    (per partition only as a preview feature), so the UI's latest result of a weekly check would
    otherwise not say which week it checked."""
    return check.with_metadata({**check.metadata, "partition": key})
