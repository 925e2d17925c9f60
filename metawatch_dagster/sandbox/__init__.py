"""The sandbox: a local HTTP server that speaks Blizzard's Game Data API over a deterministic world.

Plain Python for tests, benchmarks and ``make dev``; production code never imports it.
"""

from metawatch_dagster.sandbox.app import Sandbox
from metawatch_dagster.sandbox.config import FaultProfile, SandboxConfig
from metawatch_dagster.sandbox.truth import Truth, TruthMember, TruthRun

__all__ = ["FaultProfile", "Sandbox", "SandboxConfig", "Truth", "TruthMember", "TruthRun"]
