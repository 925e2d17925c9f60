"""Settings read from the environment, in one place, with defaults that work."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REGIONS: tuple[str, ...] = ("us", "eu", "kr", "tw")

DEFAULT_API_URL = "https://{region}.api.blizzard.com"
DEFAULT_OAUTH_URL = "https://oauth.battle.net/token"
# A command's log starts anew past this size, the last LOG_BACKUPS kept beside it: `metawatch load`
# of four regions run hourly (by cron, say) writes about 1 MB a day. The daemon's runs do not write it.
LOG_ROTATE_BYTES = 20 * 2**20
LOG_BACKUPS = 3


@dataclass(frozen=True)
class Settings:
    api_url: str = DEFAULT_API_URL
    oauth_url: str = DEFAULT_OAUTH_URL
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    data_dir: Path = Path("data")
    regions: tuple[str, ...] = REGIONS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        regions = tuple(
            r.strip().lower() for r in env.get("METAWATCH_REGIONS", ",".join(REGIONS)).split(",")
        )
        unknown = [r for r in regions if r not in REGIONS]
        if unknown:
            raise ValueError(f"METAWATCH_REGIONS has unknown regions {unknown}; known: {REGIONS}")
        return cls(
            api_url=env.get("METAWATCH_API_URL", DEFAULT_API_URL),
            oauth_url=env.get("METAWATCH_OAUTH_URL", DEFAULT_OAUTH_URL),
            client_id=env.get("BLIZZARD_CLIENT_ID") or None,
            client_secret=env.get("BLIZZARD_CLIENT_SECRET") or None,
            data_dir=Path(env.get("METAWATCH_DATA_DIR", "data")).resolve(),
            regions=regions,
        )

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def reference_dir(self) -> Path:
        return self.data_dir / "reference"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "metawatch.duckdb"

    @property
    def log_path(self) -> Path:
        """Where a `metawatch` command writes what its runs print, and their traces (a demo writes
        about 45 KB; see LOG_ROTATE_BYTES)."""
        return self.data_dir / "logs" / "metawatch.log"


def automation_running(environ: dict[str, str] | None = None) -> bool:
    """Whether the sensors and schedules start running by default (METAWATCH_AUTOMATION=stopped
    keeps them off, e.g. on a machine that only runs backfills)."""
    env = os.environ if environ is None else environ
    value = env.get("METAWATCH_AUTOMATION", "running").strip().lower()
    if value not in ("running", "stopped"):
        raise ValueError(f"METAWATCH_AUTOMATION must be 'running' or 'stopped', not {value!r}")
    return value == "running"
