"""The client against the sandbox: real quota counting, random faults, tokens that expire, replay."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from test_quota_processes import run_workers

from metawatch_dagster.blizzard import BlizzardClient, QuotaLimiter, Recorder
from metawatch_dagster.sandbox import FaultProfile, Sandbox, SandboxConfig

PERIOD_IN_HREF = re.compile(r"/period/(\d+)")


def client_for(sandbox: Sandbox, state_dir: Path, **options) -> BlizzardClient:
    options.setdefault("backoff_base_s", 0.01)
    options.setdefault("limiter", QuotaLimiter(state_dir, per_second=sandbox.config.per_second))
    return BlizzardClient(
        sandbox.api_url, sandbox.oauth_url, sandbox.client_id, sandbox.client_secret, **options
    )


def all_boards(client: BlizzardClient, region: str = "us") -> tuple[int, list[tuple[int, int]]]:
    realms = client.connected_realm_ids(region)
    index = client.leaderboard_index(region, realms[0])["current_leaderboards"]
    period = int(PERIOD_IN_HREF.search(index[0]["key"]["href"]).group(1))
    return period, [(cr_id, board["id"]) for cr_id in realms for board in index]


def fetch_all(client, period, boards, threads=16, **kwargs):
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(
            pool.map(lambda b: client.leaderboard("us", b[0], b[1], period, **kwargs), boards)
        )


def test_a_faulty_sandbox_still_yields_every_board(tmp_path: Path):
    faults = FaultProfile(
        rate_5xx=0.05,
        rate_slow=0.05,
        slow_seconds=1.0,
        rate_truncated=0.05,
        rate_html=0.05,
        rate_expired_token=0.05,
    )
    with (
        Sandbox(SandboxConfig(seed=11, regions=("us",))) as clean_sandbox,
        client_for(clean_sandbox, tmp_path / "clean") as clean,
    ):
        period, boards = all_boards(clean)
        boards *= 4  # enough requests for every fault kind to show up
        expected = fetch_all(clean, period, boards)
    with (
        Sandbox(SandboxConfig(seed=11, regions=("us",), faults=faults)) as sandbox,
        client_for(sandbox, tmp_path / "faulty", timeout=0.5, max_retries=10) as client,
    ):
        got = fetch_all(client, period, boards)
        stats = client.stats
        served = sandbox.stats()

    assert [(r.status, r.body) for r in got] == [(r.status, r.body) for r in expected]
    assert {r.status for r in got} <= {200, 404}
    for response in got:
        if response.body is not None:
            assert json.loads(response.body)["period"] == period
    assert stats.retries > 0
    # 429s pause every thread for a second each: they have tests of their own.
    assert all(served["faults"][kind] > 0 for kind, rate in faults.rates().items() if rate)
    kinds = {kind.split()[0] for kind in stats.failures}
    # (The sandbox's HTML pages come with a 5xx status; a 200 HTML page is covered by the stub tests.)
    assert kinds >= {"http", "timeout", "truncated", "unauthorized"}
    assert stats.retries == sum(stats.failures.values())
    assert served["tokens_issued"] >= 2  # expired tokens were renewed


def test_token_renewed_before_it_expires_against_the_sandbox(tmp_path: Path):
    with Sandbox(SandboxConfig(regions=("us",), token_ttl_s=1.0)) as sandbox:
        with client_for(sandbox, tmp_path) as client:
            client.period_index("us")
            time.sleep(1.0)
            client.period_index("us")
            stats = client.stats
        assert sandbox.stats()["tokens_issued"] == 2
    assert stats.responses == {200: 2}


def test_the_quota_keeps_a_strict_sandbox_free_of_429s(tmp_path: Path):
    with Sandbox(SandboxConfig(regions=("us",), per_second=20)) as sandbox:
        with client_for(sandbox, tmp_path) as client:
            period, boards = all_boards(client)
            got = fetch_all(client, period, boards[:60])
        served = sandbox.stats()
    assert {r.status for r in got} <= {200, 404}
    assert served["quota_violations"] == 0
    assert "429" not in served["by_status"]


def test_a_client_quota_set_too_high_meets_429s_and_waits_them_out(tmp_path: Path):
    with Sandbox(SandboxConfig(regions=("us",), per_second=10)) as sandbox:
        limiter = QuotaLimiter(tmp_path, per_second=100)
        with client_for(sandbox, tmp_path, limiter=limiter) as client:
            period, boards = all_boards(client)
            got = fetch_all(client, period, boards[:30], threads=8)
            stats = client.stats
    assert {r.status for r in got} <= {200, 404}
    assert stats.rate_limited > 0
    assert stats.failures["rate limited"] == stats.rate_limited


def test_two_processes_share_the_sandbox_quota(tmp_path: Path):
    with Sandbox(SandboxConfig(regions=("us",), per_second=20)) as sandbox:
        results = run_workers(
            sandbox.api_url,
            sandbox.oauth_url,
            tmp_path,
            per_second=20,
            boards=50,
            credentials=(sandbox.client_id, sandbox.client_secret),
        )
        served = sandbox.stats()
    assert sum(r["requests"] for r in results) >= 100
    assert sum(r["rate_limited"] for r in results) == 0
    assert served["quota_violations"] == 0


def test_if_modified_since_and_the_clock(tmp_path: Path):
    with (
        Sandbox(SandboxConfig(regions=("us",))) as sandbox,
        client_for(sandbox, tmp_path) as client,
    ):
        period, boards = all_boards(client)
        first = fetch_all(client, period, boards[:40])
        again = [
            client.leaderboard("us", cr, d, period, if_modified_since=r.last_modified)
            for (cr, d), r in zip(boards[:40], first, strict=True)
            if r.status == 200
        ]
        sandbox.clock.advance(timedelta(days=2))
        later = [
            client.leaderboard("us", cr, d, period, if_modified_since=r.last_modified)
            for (cr, d), r in zip(boards[:40], first, strict=True)
            if r.status == 200
        ]
    assert {(r.status, r.body) for r in again} == {(304, None)}
    assert 200 in {r.status for r in later}  # boards moved on in two simulated days


def test_recorded_answers_replay_byte_for_byte_without_secrets(tmp_path: Path):
    folder = tmp_path / "recorded"
    with Sandbox(SandboxConfig(regions=("us",))) as sandbox:
        with client_for(sandbox, tmp_path / "a", recorder=Recorder(folder)) as client:
            period, boards = all_boards(client)
            original = fetch_all(client, period, boards[:16])
            client.period_index("us")
            client.specialization_index("us")
            token = client._tokens.current()
        secret = sandbox.client_secret
    assert (folder / "us/data/wow/playable-specialization/index.json").is_file()
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for needle in (secret, token, "access_token", "Bearer"):
                assert needle.encode() not in content, (path, needle)

    with (
        Sandbox(SandboxConfig(regions=("us",), replay_dir=folder)) as replay,
        client_for(replay, tmp_path / "b") as client,
    ):
        replayed = fetch_all(client, period, boards[:16])
    assert [r.body for r in replayed] == [r.body for r in original]
