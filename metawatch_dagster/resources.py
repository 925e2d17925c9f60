"""Dagster resources: where the data lives and how to reach the API.

Credentials are read from the environment when a client is made, so they never enter run config,
the event log or a resource's repr.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg

from metawatch_dagster.blizzard import BlizzardClient, QuotaLimiter
from metawatch_dagster.config import Settings
from metawatch_dagster.reference import ReferenceStore

# Sends of each hour's quota (36,000) that loads of past weeks leave to those of current weeks. A
# reload of every region's current week is about 1,700 requests (664 US boards, 736 EU, fewer in KR
# and TW); the limiter's hour spans 62 minutes, so two hourly reloads can fall in it, besides a
# period change's first and final loads, retries and loads by hand. A backfill, which could spend
# the hour in six minutes at 100/s, then leaves them room for four reloads.
CURRENT_WEEKS_HOURLY_ROOM = 7200


class MetawatchResource(dg.ConfigurableResource):
    """Settings from the environment; `data_dir` may be overridden (tests, one-off rebuilds)."""

    data_dir: str | None = None

    def settings(self) -> Settings:
        settings = Settings.from_env()
        if self.data_dir:
            settings = replace(settings, data_dir=Path(self.data_dir).resolve())
        return settings

    def reference(self) -> ReferenceStore:
        return ReferenceStore(self.settings().reference_dir)

    def client(self, *, for_past_week: bool = False) -> BlizzardClient:
        """An API client sharing the quota of every process on this data folder; one loading a past
        week leaves CURRENT_WEEKS_HOURLY_ROOM sends of each hour to the others."""
        settings = self.settings()
        if not (settings.client_id and settings.client_secret):
            raise dg.Failure(
                "BLIZZARD_CLIENT_ID and BLIZZARD_CLIENT_SECRET are not set: export Blizzard API "
                "credentials, or start `metawatch-sandbox` and export the line it prints"
            )
        room = CURRENT_WEEKS_HOURLY_ROOM if for_past_week else 0
        limiter = QuotaLimiter(settings.state_dir, leave_per_hour=room)
        return BlizzardClient.from_settings(settings, limiter=limiter)

    def current_periods(self) -> dict[str, int]:
        """Each configured region's current period, from the API's period index (one call each)."""
        with self.client() as client:
            return {
                region: client.period_index(region)["current_period"]["id"]
                for region in self.settings().regions
            }
