"""What a bench run measures at which scale, and the targets its figures are held to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    mode: str = "full"
    scale: str = "real"  # the sandbox's scale: "real" = an EU-size week of 92 connected realms
    region: str = "eu"
    seed: int = 7
    board_limit: int = 500
    latency_ms: tuple[int, int] = (30, 80)
    per_second: int = 100
    per_hour: int = 36000
    runs: int = 3  # measured runs per figure
    warmups: int = 1  # runs before those, not counted
    incremental_share: float = 0.05  # the share of boards the incremental hour should see changed
    # The first guess at the simulated seconds that change that share (calibrated on the warm-up).
    incremental_step_s: float = 40.0
    # The hourly reload whose parse is measured after the ones before it (most boards change each hour).
    later_reload_hours: int = 4
    dbt_periods: int = 12
    dbt_regions: tuple[str, ...] = ("eu", "us")
    end_to_end: bool = True

    @classmethod
    def full(cls) -> BenchConfig:
        return cls()

    @classmethod
    def quick(cls) -> BenchConfig:
        """About a minute or two: the sandbox's small world (3-4 connected realms per region), one
        measured run per figure without warm-up (so no step calibration), 3 periods for dbt."""
        return cls(
            mode="quick",
            scale="small",
            runs=1,
            warmups=0,
            incremental_step_s=120.0,
            dbt_periods=3,
        )

    def sandbox_args(self) -> list[str]:
        low, high = self.latency_ms
        return [
            "--seed", str(self.seed),
            "--scale", self.scale,
            "--regions", ",".join(sorted({self.region, *self.dbt_regions})),
            "--board-limit", str(self.board_limit),
            "--latency-ms", f"{low},{high}",
            "--per-second", str(self.per_second),
            "--per-hour", str(self.per_hour),
        ]  # fmt: skip


# name -> (comparison, bound): "min" means the figure must be at least the bound, "max" at most.
TARGETS: dict[str, tuple[str, float]] = {
    "fetch.quota_share": ("min", 0.9),
    "fetch.rate_limited": ("max", 0),
    "parse.vs_floor": ("max", 1.5),
    "parse.peak_rss_gb": ("max", 1.5),
    "baseline.speedup": ("min", 10.0),
    "incremental.bytes_share": ("max", 0.10),
    "incremental.time_share": ("max", 0.25),
    "dbt.one_partition_share": ("max", 0.15),
}
