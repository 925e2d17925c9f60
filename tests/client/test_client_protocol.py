"""The client against a scripted stub: auth, answers, every fault kind, recording, threads."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from stub_api import CLIENT_ID, CLIENT_SECRET, HTML_PAGE, StubApi, answer, reset, slow, truncated
from test_quota import FakeClock

from metawatch_dagster.blizzard import (
    BlizzardClient,
    BlizzardError,
    CredentialsRejected,
    NotFound,
    QuotaLimiter,
    Recorder,
)
from metawatch_dagster.config import Settings

BOARD_PATH = "/us/data/wow/connected-realm/3694/mythic-leaderboard/244/period/663"
PERIOD_INDEX_PATH = "/us/data/wow/mythic-keystone/period/index"
PERIOD_INDEX = {"current_period": {"id": 1024}, "periods": [{"id": 1023}, {"id": 1024}]}


def board(client, **kwargs):
    return client.leaderboard("us", 3694, 244, 663, **kwargs)


def test_token_is_fetched_once_and_travels_only_as_bearer(stub: StubApi, make_client):
    stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
    client = make_client()
    for _ in range(5):
        assert client.period_index("us") == PERIOD_INDEX
    assert len(stub.tokens_issued) == 1
    token = stub.tokens_issued[0]
    requests = stub.api_requests()
    assert len(requests) == 5
    for seen in requests:
        assert seen.headers["Authorization"] == f"Bearer {token}"
        assert seen.query == {"namespace": ["dynamic-us"], "locale": ["en_US"]}
        assert token not in json.dumps(seen.query)
    assert client.stats.token_fetches == 1


def test_specializations_use_the_static_namespace(stub: StubApi, make_client):
    stub.script("/eu/data/wow/playable-specialization/262", answer(body=b'{"id":262}'))
    assert make_client().specialization("eu", 262) == {"id": 262}
    assert stub.api_requests()[0].query["namespace"] == ["static-eu"]


def test_token_is_renewed_before_it_expires(make_client):
    with StubApi(token_ttl_s=1) as stub:
        stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
        with BlizzardClient(stub.api_url, stub.oauth_url, CLIENT_ID, CLIENT_SECRET) as client:
            client.period_index("us")
            time.sleep(0.95)  # past the renewal point (10% before the 1 s lifetime ends)
            client.period_index("us")
        assert len(stub.tokens_issued) == 2
        assert client.stats.responses == {200: 2}


def test_the_token_is_taken_after_the_quota_wait(tmp_path: Path):
    with StubApi(token_ttl_s=1) as stub:
        stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
        # One send a second: the second waits 1.03 s, past the token's renewal point (0.9 s).
        limiter = QuotaLimiter(tmp_path, per_second=1)
        with BlizzardClient(
            stub.api_url, stub.oauth_url, CLIENT_ID, CLIENT_SECRET, limiter=limiter
        ) as client:
            client.period_index("us")
            client.period_index("us")
        assert len(stub.tokens_issued) == 2
        sent = [seen.headers["Authorization"] for seen in stub.api_requests()]
        assert sent == [f"Bearer {token}" for token in stub.tokens_issued]


def test_a_failed_token_fetch_spends_no_quota_slot(stub: StubApi, make_client, tmp_path: Path):
    stub.malformed_tokens = 1
    stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
    client = make_client(limiter=QuotaLimiter(tmp_path))
    assert client.period_index("us") == PERIOD_INDEX
    assert len(stub.tokens_issued) == 2
    assert len(json.loads((tmp_path / "blizzard-quota.json").read_bytes())["sends"]) == 1


def test_a_refused_token_is_renewed_once_and_the_request_retried(stub: StubApi, make_client):
    stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
    client = make_client()
    client.period_index("us")
    stub.refused_tokens.add(stub.tokens_issued[0])
    assert client.period_index("us") == PERIOD_INDEX
    assert len(stub.tokens_issued) == 2
    stats = client.stats
    assert stats.responses == {200: 2, 401: 1}
    assert stats.requests == 3
    assert stats.retries == 1


def test_wrong_credentials_fail_at_once_without_the_secret(stub: StubApi):
    with BlizzardClient(stub.api_url, stub.oauth_url, "stub-client", "wrong-secret-77") as client:
        for _ in range(2):
            with pytest.raises(CredentialsRejected, match="answered 401") as raised:
                client.period_index("us")
            assert "wrong-secret-77" not in f"{raised.value} {raised.value.args!r} {raised.value!r}"
    assert [seen.path for seen in stub.seen] == ["/oauth/token"], "refused once, not asked again"


def test_an_invalid_header_fails_the_request_naming_its_error_class_not_its_value(
    stub: StubApi, make_client
):
    """requests' own text can quote a header value: an Authorization header, in the worst case."""
    with pytest.raises(BlizzardError) as raised:
        board(make_client(), if_modified_since="Tue, 18 Sep 2018 15:00:00 GMT\r\nX-Quoted: 1")
    url = f"{stub.api_url.replace('{region}', 'us')}{BOARD_PATH.removeprefix('/us')}"
    assert str(raised.value) == f"GET {url}?namespace=dynamic-us&locale=en_US failed: InvalidHeader"
    assert stub.api_requests() == []


def test_board_bytes_come_back_exactly_as_sent(stub: StubApi, make_client, board_body):
    last_modified = "Tue, 18 Sep 2018 15:00:00 GMT"
    stub.script(BOARD_PATH, answer(body=board_body, headers={"Last-Modified": last_modified}))
    response = board(make_client())
    assert response.status == 200
    assert response.body == board_body
    assert response.last_modified == last_modified
    assert response.attempts == 1
    assert response.url.endswith(BOARD_PATH + "?namespace=dynamic-us&locale=en_US")
    assert str(len(board_body)) in repr(response)
    assert board_body[:20].decode() not in repr(response)


def test_if_modified_since_gives_304_without_a_body(stub: StubApi, make_client, board_body):
    last_modified = "Wed, 19 Sep 2018 10:00:00 GMT"

    def conditional(handler):
        if handler.headers.get("If-Modified-Since") == last_modified:
            handler.send_response(304)
            handler.send_header("Last-Modified", last_modified)
            handler.end_headers()
        else:
            answer(body=board_body, headers={"Last-Modified": last_modified})(handler)

    stub.script(BOARD_PATH, conditional)
    client = make_client()
    first = board(client)
    second = board(client, if_modified_since=first.last_modified)
    assert (first.status, len(first.body)) == (200, len(board_body))
    assert (second.status, second.body, second.last_modified) == (304, None, last_modified)
    assert stub.api_requests()[1].headers["If-Modified-Since"] == last_modified
    assert client.stats.bytes_received == len(board_body)


def test_404_is_an_answer(stub: StubApi, make_client):
    client = make_client()
    response = board(client)
    assert (response.status, response.body, response.attempts) == (404, None, 1)
    with pytest.raises(NotFound, match="/data/wow/mythic-keystone/season/99"):
        client.season("us", 99)
    assert client.stats.retries == 0


FAULTS = {
    "5xx": (answer(503, b'{"code":503}'), "http 503"),
    "html error page": (answer(502, HTML_PAGE, {"Content-Type": "text/html"}), "http 502"),
    "html with 200": (answer(200, HTML_PAGE, {"Content-Type": "text/html"}), "invalid body"),
    "truncated": (None, "truncated"),  # built from the board below
    "invalid json": (None, "invalid body"),
    "connection reset": (reset(), "connection"),
    "slow": (None, "timeout"),
    "429": (answer(429, b"{}", {"Retry-After": "0"}), "rate limited"),
}


def _fault(name: str, board_body: bytes):
    behaviour, kind = FAULTS[name]
    if name == "truncated":
        behaviour = truncated(board_body)
    if name == "invalid json":
        cut = board_body[: len(board_body) // 2]
        behaviour = answer(body=cut[: cut.rindex(b"}") + 1])  # ends in "}", length correct
    if name == "slow":
        behaviour = slow(1.0, answer(body=board_body))
    return behaviour, kind


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_fault_is_retried(stub: StubApi, make_client, board_body, name):
    fault, kind = _fault(name, board_body)
    stub.script(BOARD_PATH, fault, answer(body=board_body))
    client = make_client(timeout=0.3)
    response = board(client)
    assert response.status == 200
    assert response.body == board_body
    assert response.attempts == 2
    stats = client.stats
    assert stats.retries == 1
    assert stats.failures == {kind: 1}


@pytest.mark.parametrize("name", ["5xx", "invalid json", "connection reset"])
def test_spent_retries_raise_an_error_naming_the_request_and_no_secret(
    stub: StubApi, make_client, board_body, name
):
    fault, kind = _fault(name, board_body)
    stub.script(BOARD_PATH, fault)
    client = make_client(max_retries=3)
    with pytest.raises(BlizzardError) as raised:
        board(client)
    error = raised.value
    text = f"{error} {error.args!r} {error!r}"
    assert f"GET {stub.api_url.replace('{region}', 'us')}" in str(error)
    assert "/mythic-leaderboard/244/period/663" in str(error)
    assert "after 4 attempts" in str(error)
    assert CLIENT_SECRET not in text
    assert stub.tokens_issued[0] not in text
    assert CLIENT_SECRET not in repr(client)
    assert len(stub.api_requests()) == 4
    assert client.stats.failures == {kind: 4}


def test_retry_after_is_honoured(stub: StubApi, make_client, tmp_path: Path, board_body):
    stub.script(BOARD_PATH, answer(429, b"{}", {"Retry-After": "7"}), answer(body=board_body))
    clock = FakeClock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.sleep(seconds)

    limiter = QuotaLimiter(tmp_path, per_second=100, clock=clock, sleep=sleep)
    response = board(make_client(limiter=limiter))
    assert response.status == 200
    assert waits == [pytest.approx(7.0)]  # the second attempt waited out the whole Retry-After

    slept: list[float] = []
    stub.script(BOARD_PATH, answer(429, b"{}", {"Retry-After": "3"}), answer(body=board_body))
    assert board(make_client(sleep=slept.append)).status == 200
    assert slept == [3.0]


def test_recording_writes_the_replay_layout_and_no_secret(
    stub: StubApi, make_client, tmp_path: Path, board_body
):
    stub.script(BOARD_PATH, answer(body=board_body))
    stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
    stub.script("/us/data/wow/playable-specialization/index", answer(body=b'{"specs":[]}'))
    folder = tmp_path / "recorded"
    client = make_client(recorder=Recorder(folder))
    board(client)
    client.period_index("us")
    client.specialization_index("us")
    with pytest.raises(NotFound):
        client.season("us", 99)  # nothing recorded

    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [
        "us/data/wow/connected-realm/3694/mythic-leaderboard/244/period/663.json",
        "us/data/wow/mythic-keystone/period/index.json",
        "us/data/wow/playable-specialization/index.json",
    ]
    assert (folder / files[0]).read_bytes() == board_body
    token = stub.tokens_issued[0]
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in (CLIENT_SECRET, token, "Bearer", "access_token", "Authorization"):
                assert secret.encode() not in content, (path, secret)


def test_one_client_serves_a_thread_pool(stub: StubApi, make_client):
    paths = {}
    for cr_id in range(1, 41):
        for dungeon_id in (1, 2, 3, 4, 5):
            path = f"/us/data/wow/connected-realm/{cr_id}/mythic-leaderboard/{dungeon_id}/period/7"
            body = json.dumps({"cr": cr_id, "dungeon": dungeon_id, "leading_groups": []}).encode()
            stub.script(path, answer(body=body))
            paths[cr_id, dungeon_id] = body
    client = make_client(pool_size=16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = dict(
            zip(
                paths,
                pool.map(lambda key: client.leaderboard("us", key[0], key[1], 7), paths),
                strict=True,
            )
        )
    assert {key: r.body for key, r in results.items()} == paths
    assert len(stub.tokens_issued) == 1
    stats = client.stats
    assert (stats.requests, stats.retries, stats.responses) == (200, 0, {200: 200})


def test_from_settings_shares_the_quota_under_the_state_dir(stub: StubApi, tmp_path: Path):
    settings = Settings(stub.api_url, stub.oauth_url, CLIENT_ID, CLIENT_SECRET, data_dir=tmp_path)
    stub.script(PERIOD_INDEX_PATH, answer(body=json.dumps(PERIOD_INDEX).encode()))
    with BlizzardClient.from_settings(settings) as client:
        assert client.period_index("us") == PERIOD_INDEX
        assert CLIENT_SECRET not in repr(client)
    assert (tmp_path / "state" / "blizzard-quota.json").is_file()
    with pytest.raises(ValueError, match="BLIZZARD_CLIENT_SECRET"):
        BlizzardClient.from_settings(Settings(data_dir=tmp_path))
