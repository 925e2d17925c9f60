"""Fetching one region-week through the real client and `fetch_partition`, against the quota's floor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from metawatch_dagster.bench.figures import repeat, summarize
from metawatch_dagster.bench.section import Section
from metawatch_dagster.blizzard import BlizzardClient, QuotaLimiter
from metawatch_dagster.leaderboard_fetch import FetchReport, fetch_partition
from metawatch_dagster.reference import BoardPlan, ReferenceFetcher, ReferenceStore

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext

# Building a dungeon-week of a real-scale world takes the sandbox several seconds on first ask.
PRIME_TIMEOUT_S = 600


def make_client(
    env: dict[str, str], state_dir: Path, per_second: int, per_hour: int, timeout: float = 10.0
) -> BlizzardClient:
    limiter = QuotaLimiter(state_dir, per_second=per_second, per_hour=per_hour)
    return BlizzardClient(
        env["METAWATCH_API_URL"],
        env["METAWATCH_OAUTH_URL"],
        env["BLIZZARD_CLIENT_ID"],
        env["BLIZZARD_CLIENT_SECRET"],
        limiter=limiter,
        timeout=timeout,
    )


def plan_current_week(
    client: BlizzardClient, reference_dir: Path, region: str, also: tuple[str, ...] = ()
) -> BoardPlan:
    """Fetch the reference files of the region (and of `also`), and plan every board of the
    region's current period."""
    store = ReferenceStore(reference_dir)
    ReferenceFetcher(client, store).refresh(sorted({region, *also}))
    return store.board_plan(region, store.periods(region)["current_period"])


def prime_sandbox(client: BlizzardClient, plan: BoardPlan) -> None:
    """Ask one board per dungeon, one at a time, so the sandbox builds its world before any timing."""
    cr_id = plan.connected_realm_ids[0]
    for dungeon in plan.dungeons:
        client.leaderboard(plan.region, cr_id, dungeon.dungeon_id, plan.period)


def fetch_week(client: BlizzardClient, raw_dir: Path, plan: BoardPlan) -> dict[str, float]:
    """One fetch of every board of the plan into `raw_dir`; its figures as one sample."""
    rate_limited_before = client.stats.rate_limited
    report = fetch_partition(client, raw_dir, plan)
    return fetch_sample(report, client.stats.rate_limited - rate_limited_before, client)


def fetch_sample(
    report: FetchReport, rate_limited: int, client: BlizzardClient
) -> dict[str, float]:
    per_second = client.limiter.per_second if client.limiter else 0
    floor_s = report.requests / per_second if per_second else 0.0
    return {
        "seconds": report.seconds,
        "floor_seconds": floor_s,
        "quota_share": floor_s / report.seconds if report.seconds else 0.0,
        "requests": report.requests,
        "retries": report.retries,
        "rate_limited": rate_limited,
        **report.board_counts(),
        "entries": report.entries,
        "bytes": report.bytes,
    }


def measure_fetch(ctx: BenchContext) -> tuple[Section, Path]:
    """Fetch the week from empty, several times; returns the section and the last run's raw folder."""
    raw_dirs: list[Path] = []

    def once() -> dict[str, float]:
        ctx.sandbox.set_clock(ctx.start)
        raw_dirs.append(ctx.scratch("fetch"))
        with ctx.client() as client:
            return fetch_week(client, raw_dirs[-1], ctx.plan)

    violations_before = ctx.sandbox.stats()["quota_violations"]
    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    facts = {
        "boards": len(ctx.plan.boards),
        "server_quota_violations": ctx.sandbox.stats()["quota_violations"] - violations_before,
        "per_second": ctx.config.per_second,
        "latency_ms": list(ctx.config.latency_ms),
    }
    return Section(summarize(samples), facts), raw_dirs[-1]
