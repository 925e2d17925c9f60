"""The quota holds across two real processes sharing one state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stub_api import CLIENT_ID, CLIENT_SECRET, StubApi, answer
from test_quota import most_in_any_window

WORKER = Path(__file__).with_name("quota_worker.py")


def run_workers(
    api_url: str,
    oauth_url: str,
    state_dir: Path,
    per_second: int,
    boards: int,
    credentials: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
):
    client_id, secret = credentials
    env = {**os.environ, "QUOTA_WORKER_SECRET": secret}
    args = [api_url, oauth_url, client_id, str(state_dir), str(per_second), str(boards), "8"]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        results.append(json.loads(out))
    return results


def test_two_processes_together_stay_within_the_per_second_limit(tmp_path: Path):
    with StubApi() as stub:
        stub.fallback = answer(body=b'{"leading_groups":[]}')
        results = run_workers(stub.api_url, stub.oauth_url, tmp_path / "state", 20, 60)
        seen = stub.api_requests()
    arrivals = sorted(s.arrived for s in seen)
    by_process: dict[str, list[float]] = {}
    for s in seen:
        by_process.setdefault(s.headers["Authorization"], []).append(s.arrived)

    assert [r["statuses"] for r in results] == [[200] * 60, [200] * 60]
    assert sum(r["rate_limited"] for r in results) == 0
    assert len(arrivals) == 120
    assert 18 <= most_in_any_window(arrivals, 1.0) <= 20
    # The two processes (one token each) were sending during the same seconds.
    assert len(by_process) == 2
    first, second = by_process.values()
    overlap = min(max(first), max(second)) - max(min(first), min(second))
    assert overlap > 0.5 * (arrivals[-1] - arrivals[0])
