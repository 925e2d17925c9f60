"""Registering every period of a season, so the UI can backfill any range of weeks × regions."""

import dagster as dg

from metawatch_dagster.period_registry import register_periods
from metawatch_dagster.reference import ReferenceStore
from metawatch_dagster.resources import MetawatchResource


def season_periods_started(store: ReferenceStore, regions: list[str], season: str) -> list[int]:
    """The periods of a season (`current` or an id) that have started in any of the regions."""
    periods: set[int] = set()
    for region in regions:
        season_id = store.seasons(region)["current_season"] if season == "current" else int(season)
        current = store.periods(region)["current_period"]
        periods |= {p for p in store.season_periods(region, season_id) if p <= current}
    return sorted(periods)


class SyncPeriodsConfig(dg.Config):
    season: str = "current"


@dg.op
def register_season_periods(
    context: dg.OpExecutionContext, config: SyncPeriodsConfig, metawatch: MetawatchResource
) -> list[int]:
    settings = metawatch.settings()
    periods = season_periods_started(metawatch.reference(), list(settings.regions), config.season)
    added = register_periods(context.instance, periods)
    context.log.info(
        f"season {config.season}: {len(periods)} periods ({periods[0]}–{periods[-1]}), "
        f"{len(added)} newly registered"
        if periods
        else f"season {config.season}: no period has started"
    )
    return added


@dg.job(description="Register every started period of a season as a partition (config: season).")
def sync_periods():
    register_season_periods()
