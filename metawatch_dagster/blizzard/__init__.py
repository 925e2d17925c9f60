"""The Blizzard Game Data API client: plain Python, no Dagster, never imports the sandbox."""

from metawatch_dagster.blizzard.client import BlizzardClient, BoardResponse
from metawatch_dagster.blizzard.errors import (
    BlizzardError,
    CredentialsRejected,
    NotFound,
    Stopped,
)
from metawatch_dagster.blizzard.quota import QuotaLimiter
from metawatch_dagster.blizzard.recorder import Recorder
from metawatch_dagster.blizzard.stats import ClientStats

__all__ = [
    "BlizzardClient",
    "BlizzardError",
    "BoardResponse",
    "ClientStats",
    "CredentialsRejected",
    "NotFound",
    "QuotaLimiter",
    "Recorder",
    "Stopped",
]
