"""One process of the cross-process quota test: fetch boards with its own client, print its stats.

Usage: python quota_worker.py API_URL OAUTH_URL CLIENT_ID STATE_DIR PER_SECOND BOARDS THREADS
(the client secret comes from the QUOTA_WORKER_SECRET environment variable, never argv).
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from metawatch_dagster.blizzard import BlizzardClient, QuotaLimiter


def main() -> None:
    api_url, oauth_url, client_id, state_dir, per_second, boards, threads = sys.argv[1:8]
    limiter = QuotaLimiter(state_dir, per_second=int(per_second))
    with BlizzardClient(
        api_url, oauth_url, client_id, os.environ["QUOTA_WORKER_SECRET"], limiter=limiter
    ) as client:

        def fetch(i: int) -> int:
            return client.leaderboard("us", 1000 + i, 1, 1).status

        with ThreadPoolExecutor(max_workers=int(threads)) as pool:
            statuses = list(pool.map(fetch, range(int(boards))))
        stats = client.stats
    print(
        json.dumps(
            {
                "statuses": statuses,
                "requests": stats.requests,
                "rate_limited": stats.rate_limited,
                "retries": stats.retries,
            }
        )
    )


if __name__ == "__main__":
    main()
