"""What every measurement of one bench run shares: the config, the sandbox, the planned week, scratch."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from metawatch_dagster.bench.config import BenchConfig
from metawatch_dagster.bench.fetch import make_client
from metawatch_dagster.bench.sandbox_process import SandboxHandle
from metawatch_dagster.blizzard import BlizzardClient
from metawatch_dagster.reference import BoardPlan


@dataclass
class BenchContext:
    config: BenchConfig
    sandbox: SandboxHandle
    work_dir: Path
    plan: BoardPlan
    start: datetime  # the sandbox clock every measurement of the week starts from
    out: Callable[[str], None] = print
    _counter: itertools.count = field(default_factory=itertools.count)

    @property
    def state_dir(self) -> Path:
        return self.work_dir / "state"

    @property
    def reference_dir(self) -> Path:
        return self.work_dir / "reference"

    def scratch(self, name: str) -> Path:
        """A new, empty folder for one run."""
        path = self.work_dir / f"{name}-{next(self._counter)}"
        path.mkdir(parents=True)
        return path

    def client(self, **options: Any) -> BlizzardClient:
        cfg = self.config
        return make_client(
            self.sandbox.env, self.state_dir, cfg.per_second, cfg.per_hour, **options
        )

    def payload(self, raw_dir: Path, **extra: Any) -> dict[str, Any]:
        """A child task's description of the week to read."""
        return {
            "raw_dir": str(raw_dir),
            "region": self.plan.region,
            "period": self.plan.period,
            **extra,
        }

    @property
    def partition_key(self) -> str:
        return f"{self.plan.period}|{self.plan.region}"
