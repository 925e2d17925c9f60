"""What a sandbox is asked to be: its world, its clock, its limits and its misbehaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

Scale = Literal["small", "real"]
REGIONS = ("us", "eu", "kr", "tw")


@dataclass(frozen=True)
class FaultProfile:
    """Probabilities per API request (the token endpoint is exempt); at most one fault per request."""

    rate_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after_s: int = 1
    rate_slow: float = 0.0
    slow_seconds: float = 5.0
    rate_truncated: float = 0.0
    rate_html: float = 0.0
    rate_expired_token: float = 0.0

    def __post_init__(self) -> None:
        rates = self.rates()
        if any(rate < 0 for rate in rates.values()) or sum(rates.values()) > 1:
            raise ValueError(f"fault rates must be >= 0 and sum to at most 1: {rates}")

    def rates(self) -> dict[str, float]:
        """Each fault kind (as counted in stats) with its probability."""
        return {
            "5xx": self.rate_5xx,
            "429": self.rate_429,
            "slow": self.rate_slow,
            "truncated": self.rate_truncated,
            "html": self.rate_html,
            "expired_token": self.rate_expired_token,
        }


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 7
    scale: Scale = "small"
    regions: tuple[str, ...] = REGIONS
    board_limit: int = 500
    runs_per_board_week: int | None = None
    start: datetime | None = None
    clock_speed: float = 0.0
    per_second: int = 100
    per_hour: int = 36000
    token_ttl_s: float = 86399
    latency_ms: tuple[int, int] = (0, 0)
    faults: FaultProfile = field(default_factory=FaultProfile)
    replay_dir: Path | None = None
    client_id: str = "sandbox-client"
    client_secret: str = field(default="sandbox-secret", repr=False)

    def __post_init__(self) -> None:
        unknown = [r for r in self.regions if r not in REGIONS]
        if unknown:
            raise ValueError(f"unknown regions {unknown}; known: {REGIONS}")
        if self.scale not in ("small", "real"):
            raise ValueError(f"scale must be 'small' or 'real', not {self.scale!r}")
        if self.board_limit < 1:
            raise ValueError("board_limit must be at least 1")
