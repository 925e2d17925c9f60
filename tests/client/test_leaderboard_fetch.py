"""A partition's fetch against the scripted stub: what reaches the API and what lands on disk."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from stub_api import CLIENT_ID, StubApi, answer, slow

from metawatch_dagster.blizzard import BlizzardClient, CredentialsRejected, QuotaLimiter, Stopped
from metawatch_dagster.leaderboard_fetch import NoBoardAnswered, fetch_partition
from metawatch_dagster.raw_store import list_snapshots, partition_dir, read_manifest
from metawatch_dagster.reference import BoardPlan, Dungeon

BOARD_BODY = b'{"leading_groups":[]}'


def board_plan(connected_realms: int, dungeons: int = 5) -> BoardPlan:
    return BoardPlan(
        region="us",
        period=7,
        season=1,
        connected_realm_ids=tuple(range(1, connected_realms + 1)),
        dungeons=tuple(
            Dungeon(d, f"dungeon {d}", 1_800_000, None, None) for d in range(1, dungeons + 1)
        ),
        dungeons_source="test",
    )


def test_an_interrupt_drops_the_queued_boards_and_writes_no_snapshot(
    stub: StubApi, make_client, tmp_path: Path
):
    stub.fallback = slow(0.02, answer(body=BOARD_BODY))
    plan = board_plan(40)

    def interrupt_at_the_tenth_board(done: int, total: int) -> None:
        if done == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_partition(
            make_client(), tmp_path, plan, workers=4, progress=interrupt_at_the_tenth_board
        )
    # The ten boards recorded and the few in flight at the interrupt, not the 190 queued behind.
    assert len(plan.boards) == 200
    assert len(stub.api_requests()) < 30
    assert list(partition_dir(tmp_path, "us", 7).iterdir()) == []


def test_rejected_credentials_end_the_fetch_after_one_token_request(stub: StubApi, tmp_path: Path):
    stub.fallback = answer(body=BOARD_BODY)
    with (
        BlizzardClient(stub.api_url, stub.oauth_url, CLIENT_ID, "wrong-secret-77") as client,
        pytest.raises(CredentialsRejected) as raised,
    ):
        fetch_partition(client, tmp_path, board_plan(40), workers=4)
    assert str(raised.value) == (
        f"POST {stub.oauth_url} answered 401: check BLIZZARD_CLIENT_ID / BLIZZARD_CLIENT_SECRET"
    )
    assert "wrong-secret-77" not in f"{raised.value!r} {raised.value.args!r}"
    assert [seen.path for seen in stub.seen] == ["/oauth/token"]
    assert list(partition_dir(tmp_path, "us", 7).iterdir()) == []


def test_a_fetch_no_board_answered_leaves_the_previous_snapshot_the_newest(
    stub: StubApi, make_client, tmp_path: Path
):
    plan = board_plan(2)
    stub.fallback = answer(body=BOARD_BODY)
    fetch_partition(make_client(), tmp_path, plan)
    [previous] = list_snapshots(tmp_path, "us", 7)

    stub.fallback = answer(500, b'{"code":500}')
    with pytest.raises(NoBoardAnswered) as raised:
        fetch_partition(make_client(max_retries=1), tmp_path, plan, workers=4)
    assert str(raised.value).startswith(
        "none of the 10 boards of 7|us answered, so no snapshot was written; the first error: GET "
    )
    assert str(raised.value).endswith("failed after 2 attempts: status 500")
    assert len(stub.api_requests()) == 10 + 10 * 2
    assert list(partition_dir(tmp_path, "us", 7).iterdir()) == [previous]


def test_a_fetch_one_board_answered_is_written_with_the_others_marked_error(
    stub: StubApi, make_client, tmp_path: Path
):
    stub.fallback = answer(500, b'{"code":500}')
    stub.script(
        "/us/data/wow/connected-realm/1/mythic-leaderboard/1/period/7", answer(body=BOARD_BODY)
    )
    report = fetch_partition(make_client(max_retries=0), tmp_path, board_plan(2))
    [snapshot] = list_snapshots(tmp_path, "us", 7)
    statuses = [entry["status"] for entry in read_manifest(snapshot)["boards"]]
    assert sorted(statuses) == ["200"] + ["error"] * 9
    assert report.statuses == {"200": 1, "error": 9}


def test_a_token_holding_a_newline_is_refused_and_never_shown(
    stub: StubApi, make_client, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    stub.malformed_tokens = 1
    stub.fallback = answer(body=BOARD_BODY)
    caplog.set_level(logging.DEBUG)
    report = fetch_partition(make_client(), tmp_path, board_plan(2), workers=4)
    assert report.statuses == {"200": 10}
    assert [seen.path for seen in stub.seen].count("/oauth/token") == 2, "refused, then renewed"
    malformed = stub.tokens_issued[0].strip()
    assert "gave a token that is not a valid bearer token" in caplog.text
    assert not [record for record in caplog.records if malformed in record.getMessage()]
    [snapshot] = list_snapshots(tmp_path, "us", 7)
    assert malformed not in (snapshot / "manifest.json").read_text()


def test_an_interrupt_ends_the_waits_for_the_hour_s_quota_and_sends_nothing_more(
    stub: StubApi, make_client, tmp_path: Path
):
    stub.fallback = answer(body=BOARD_BODY)
    limiter = QuotaLimiter(tmp_path / "state", per_hour=3)  # the fourth send waits about an hour
    client = make_client(limiter=limiter)
    outcome: list[BaseException] = []

    def interrupt_at_the_second_board(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    def fetch() -> None:
        try:
            fetch_partition(
                client, tmp_path / "raw", board_plan(8), workers=8,
                progress=interrupt_at_the_second_board,
            )  # fmt: skip
        except BaseException as error:
            outcome.append(error)

    fetching = threading.Thread(target=fetch, daemon=True)
    fetching.start()
    fetching.join(timeout=60)
    assert not fetching.is_alive(), "the interrupted fetch still waits for the hour's quota"
    assert [type(error) for error in outcome] == [KeyboardInterrupt]
    assert len(stub.api_requests()) == 3
    assert list(partition_dir(tmp_path / "raw", "us", 7).iterdir()) == []
    with pytest.raises(Stopped):
        limiter.acquire()
