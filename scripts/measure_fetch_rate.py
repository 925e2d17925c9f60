"""Measure how much of the API quota one busy client reaches: a whole US week against the sandbox.

The sandbox runs in its own process (as in `make demo`), so server and client do not share a GIL.
Prints boards, seconds, requests per second as a share of the quota, retries and 429s.

    .venv/bin/python scripts/measure_fetch_rate.py [--threads 24] [--scale real]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from metawatch_dagster.blizzard import BlizzardClient, QuotaLimiter

PER_SECOND = 100
PER_HOUR = 36000
REGION = "us"
_PERIOD_IN_HREF = re.compile(r"/period/(\d+)")


def serve_sandbox(scale: str, conn: Connection) -> None:
    """Child process: run the sandbox, report its address, answer 'stats' until 'stop'."""
    from metawatch_dagster.sandbox import Sandbox, SandboxConfig

    config = SandboxConfig(seed=7, scale=scale, per_second=PER_SECOND, per_hour=PER_HOUR)
    with Sandbox(config, port=0) as sandbox:
        conn.send(
            {
                "api_url": sandbox.api_url,
                "oauth_url": sandbox.oauth_url,
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
            }
        )
        while (command := conn.recv()) != "stop":
            if command == "stats":
                conn.send(sandbox.stats())


def plan_boards(client: BlizzardClient) -> tuple[int, list[tuple[int, int]]]:
    realms = client.connected_realm_ids(REGION)
    index = client.leaderboard_index(REGION, realms[0])
    boards = index["current_leaderboards"]
    period = int(_PERIOD_IN_HREF.search(boards[0]["key"]["href"]).group(1))
    return period, [(cr_id, board["id"]) for cr_id in realms for board in boards]


def fetch_week(
    client: BlizzardClient, period: int, boards: list[tuple[int, int]], threads: int
) -> dict[str, Any]:
    before = client.stats
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        responses = list(pool.map(lambda b: client.leaderboard(REGION, b[0], b[1], period), boards))
    seconds = time.monotonic() - started
    after = client.stats
    requests = after.requests - before.requests
    return {
        "statuses": sorted({r.status for r in responses}),
        "megabytes": sum(len(r.body or b"") for r in responses) / 1e6,
        "seconds": seconds,
        "requests": requests,
        "rate": requests / seconds,
        "retries": after.retries - before.retries,
        "client_429s": after.rate_limited - before.rate_limited,
    }


def measure(endpoints: dict[str, str], threads: int) -> tuple[int, int, list[dict[str, Any]]]:
    """Two passes over the week: the first also pays for the sandbox rendering each board once
    (it builds its world lazily); the second shows what the client and the quota allow."""
    with tempfile.TemporaryDirectory(prefix="metawatch-quota-") as state_dir:
        limiter = QuotaLimiter(state_dir, per_second=PER_SECOND, per_hour=PER_HOUR)
        with BlizzardClient(
            endpoints["api_url"],
            endpoints["oauth_url"],
            endpoints["client_id"],
            endpoints["client_secret"],
            limiter=limiter,
            pool_size=threads,
        ) as client:
            period, boards = plan_boards(client)
            passes = [fetch_week(client, period, boards, threads) for _ in range(2)]
    return period, len(boards), passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=24)
    parser.add_argument("--scale", default="real")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve_sandbox, args=(args.scale, theirs), daemon=True)
    server.start()
    try:
        period, boards, passes = measure(ours.recv(), args.threads)
        ours.send("stats")
        sandbox_stats = ours.recv()
    finally:
        ours.send("stop")
        server.join(timeout=10)

    print(
        f"{boards} boards of period {period} ({REGION}, scale {args.scale}, {args.threads} threads)"
    )
    for name, result in zip(("first pass (sandbox renders)", "second pass"), passes, strict=True):
        print(
            f"{name}: {result['requests']} requests in {result['seconds']:.1f} s = "
            f"{result['rate']:.1f}/s = {result['rate'] / PER_SECOND:.1%} of {PER_SECOND}/s; "
            f"statuses {result['statuses']}, {result['megabytes']:.0f} MB, "
            f"retries {result['retries']}, 429s {result['client_429s']}"
        )
    print(f"sandbox stats: {sandbox_stats}")


if __name__ == "__main__":
    main()
