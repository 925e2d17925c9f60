"""HTTP behaviour: OAuth and bearer tokens, quota, 304/404, injected faults, replay, control, CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from metawatch_dagster.leaderboard_fetch import DEFAULT_WORKERS
from metawatch_dagster.sandbox import FaultProfile, handler
from metawatch_dagster.sandbox.access import Quota
from metawatch_dagster.sandbox.api import Request
from metawatch_dagster.sandbox.app import SandboxServer

PERIOD_INDEX = "/data/wow/mythic-keystone/period/index"


def test_token_needs_basic_auth_with_the_right_credentials(sandbox):
    url = sandbox.oauth_url
    form = {"grant_type": "client_credentials"}
    good = requests.post(url, auth=(sandbox.client_id, sandbox.client_secret), data=form)
    assert good.status_code == 200
    assert good.json()["token_type"] == "bearer" and good.json()["expires_in"] == 86399
    assert set(good.json()) == {"access_token", "token_type", "expires_in", "sub"}
    assert requests.post(url, auth=(sandbox.client_id, "wrong"), data=form).status_code == 401
    assert requests.post(url, data={**form, "client_id": sandbox.client_id}).status_code == 401
    assert sandbox.stats()["tokens_issued"] == 1


def test_api_takes_bearer_tokens_only(sandbox, client):
    token = client.fetch_token()
    url = sandbox.api_url.format(region="us") + PERIOD_INDEX
    ns = {"namespace": "dynamic-us"}
    assert requests.get(url, params={**ns, "access_token": token}).status_code == 401
    assert requests.get(url, params=ns).status_code == 401
    assert requests.get(url, params=ns, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        requests.get(url, params=ns, headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    header_ns = {"Authorization": f"Bearer {token}", "Battlenet-Namespace": "dynamic-us"}
    assert requests.get(url, headers=header_ns).status_code == 200


def test_tokens_expire_on_real_time(make_sandbox, make_client):
    client = make_client(make_sandbox(token_ttl_s=0.3))
    assert client.get("us", PERIOD_INDEX).status_code == 200
    time.sleep(0.4)
    assert client.get("us", PERIOD_INDEX).status_code == 401


def test_namespaces_paths_and_combinations_that_do_not_exist_answer_404(sandbox, client):
    cr = sandbox.world.connected_realms("us")[0].id
    period = sandbox.current_period("us")
    assert client.get("us", PERIOD_INDEX, namespace=None).status_code == 404
    assert client.get("us", PERIOD_INDEX, namespace="static").status_code == 404
    assert client.get("eu", PERIOD_INDEX, namespace="dynamic").status_code == 200
    assert (
        client.get("us", "/data/wow/playable-specialization/262", namespace="dynamic").status_code
        == 404
    )
    assert client.get("us", "/data/wow/no-such-thing").status_code == 404
    assert client.get("us", "/data/wow/connected-realm/999999").status_code == 404
    assert client.board("us", cr, 197, period).status_code == 404  # not a dungeon of the season
    assert client.board("us", cr, 503, period + 1).status_code == 404  # not started
    assert client.board("us", 999999, 503, period).status_code == 404
    assert client.get("kr", PERIOD_INDEX).status_code == 404  # region not served
    holes = [
        (c.id, d.id)
        for c in sandbox.world.connected_realms("us")
        for d in sandbox.world.season_dungeons
        if sandbox.world.is_hole("us", period, d.id, c.id)
    ]
    for cr_id, dungeon_id in holes:
        assert client.board("us", cr_id, dungeon_id, period).status_code == 404


def test_if_modified_since_gives_304_until_the_board_changes(sandbox, client):
    cr = sandbox.world.connected_realms("us")[0].id
    period = sandbox.current_period("us")
    first = client.board("us", cr, 503, period)
    stamp = {"If-Modified-Since": first.headers["Last-Modified"]}
    again = client.board("us", cr, 503, period, headers=stamp)
    assert again.status_code == 304 and again.content == b""
    old = {"If-Modified-Since": format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)}
    assert client.board("us", cr, 503, period, headers=old).status_code == 200
    sandbox.clock.advance(timedelta(days=1))
    assert client.board("us", cr, 503, period, headers=stamp).status_code == 200
    assert sandbox.stats()["by_status"]["304"] == 1


def test_quota_per_second_answers_429_with_retry_after(make_sandbox, make_client):
    sb = make_sandbox(per_second=5)
    client = make_client(sb)
    statuses = [client.get("us", PERIOD_INDEX).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
    refused = client.get("us", PERIOD_INDEX)
    assert refused.headers["Retry-After"] == "1"
    assert sb.stats()["quota_violations"] == 4


def test_quota_per_hour(make_sandbox, make_client):
    sb = make_sandbox(per_hour=3)
    client = make_client(sb)
    assert [client.get("us", PERIOD_INDEX).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert 3500 < int(client.get("us", PERIOD_INDEX).headers["Retry-After"]) <= 3600


def test_quota_counts_requests_when_they_arrived():
    quota = Quota(per_second=2, per_hour=100)
    assert quota.admit("c", arrived_at=100.0) is None
    assert quota.admit("c", arrived_at=100.5) is None
    assert quota.admit("c", arrived_at=100.9) == pytest.approx(0.1)
    assert quota.admit("c", arrived_at=101.05) is None  # the first has left its window


def test_quota_counts_a_request_admitted_out_of_order_at_its_arrival():
    quota = Quota(per_second=2, per_hour=100)
    assert quota.admit("c", arrived_at=100.0) is None
    assert quota.admit("c", arrived_at=101.5) is None
    assert quota.admit("c", arrived_at=100.6) is None  # admitted after 101.5, counted at 100.6
    assert quota.admit("c", arrived_at=101.55) == pytest.approx(0.05)  # 100.6 and 101.5 before it
    assert quota.admit("c", arrived_at=101.65) is None


def test_quota_refuses_a_late_request_that_would_overfill_a_later_arrivals_window():
    quota = Quota(per_second=2, per_hour=100)
    assert quota.admit("c", arrived_at=101.0) is None
    assert quota.admit("c", arrived_at=101.5) is None
    # Nothing arrived in the second before 100.8, but (100.5, 101.5] would hold three.
    assert quota.admit("c", arrived_at=100.8) == pytest.approx(1.2)
    assert quota.admit("c", arrived_at=100.4) is None  # (100.0, 101.0] holds it and 101.0 only


def test_quota_checks_a_late_request_against_the_arrivals_before_it():
    quota = Quota(per_second=2, per_hour=100)
    assert quota.admit("c", arrived_at=100.0) is None
    assert quota.admit("c", arrived_at=100.2) is None
    assert quota.admit("c", arrived_at=101.3) is None  # the window before it is empty
    assert quota.admit("c", arrived_at=100.25) == pytest.approx(0.95)  # 100.0 and 100.2 before it


@pytest.mark.parametrize(
    ("stamped", "statuses"),
    [
        pytest.param(
            True,
            [200, 429],
            marks=pytest.mark.skipif(sys.platform != "linux", reason="SO_TIMESTAMPNS is Linux's"),
        ),
        (False, [200, 200]),
    ],
)
def test_a_request_counts_when_it_reached_the_sandbox_not_when_it_was_read(
    make_sandbox, make_client, monkeypatch, stamped, statuses
):
    """Two requests sent together on one connection: the second is read only after the first's slow
    reply, more than a second later, but it arrived with the first, so the quota of 1/s refuses it.
    Where the kernel cannot stamp arrivals, a request counts when it is read."""
    if not stamped:
        monkeypatch.setattr(handler, "stamp_arrivals", lambda sock: False)
    sb = make_sandbox(per_second=1, faults=FaultProfile(rate_slow=1.0, slow_seconds=1.2))
    token = make_client(sb).fetch_token()
    url = urlsplit(sb.api_url.format(region="us") + PERIOD_INDEX)
    request = (
        f"GET {url.path}?namespace=dynamic-us HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request * 2)
        replies = conn.makefile("rb")
        assert [_read_reply_status(replies) for _ in range(2)] == statuses
    assert sb.stats()["quota_violations"] == statuses.count(429)


def test_a_pool_of_connections_opened_at_once_waits_in_the_queue_not_for_tcp_to_retry():
    """The server accepts none of them here (as when its accept loop waits for the GIL): the kernel
    queues them all, where a backlog of 5 would drop the rest and each would connect a second later."""
    with SandboxServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        pool = []
        try:
            for _ in range(DEFAULT_WORKERS * 2):
                conn = socket.socket()
                pool.append(conn)
                conn.settimeout(0.5)
                conn.connect(server.server_address)
        finally:
            for conn in pool:
                conn.close()


def _read_reply_status(replies) -> int:
    """The status of the next reply on a keep-alive connection; reads its headers and body."""
    status = int(replies.readline().split()[1])
    length = 0
    while (line := replies.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    replies.read(length)
    return status


@pytest.mark.parametrize(
    ("fault", "profile"),
    [
        ("5xx", FaultProfile(rate_5xx=1.0)),
        ("html", FaultProfile(rate_html=1.0)),
        ("429", FaultProfile(rate_429=1.0, retry_after_s=7)),
        ("expired_token", FaultProfile(rate_expired_token=1.0)),
    ],
)
def test_each_fault_kind_is_injected_and_counted(make_sandbox, make_client, fault, profile):
    sb = make_sandbox(faults=profile)
    client = make_client(sb)
    reply = client.get("us", PERIOD_INDEX)
    if fault == "5xx":
        assert reply.status_code in (500, 502, 503) and reply.json()["code"] == reply.status_code
    elif fault == "html":
        assert reply.status_code == 503 and reply.headers["Content-Type"] == "text/html"
    elif fault == "429":
        assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    else:
        assert reply.status_code == 401
        sb._api.faults.profile = FaultProfile()  # the token was revoked: a renewal is needed
        assert client.get("us", PERIOD_INDEX).status_code == 401
        client.fetch_token()
        assert client.get("us", PERIOD_INDEX).status_code == 200
    assert sb.stats()["faults"][fault] == 1


def test_slow_answers_outlast_a_client_timeout(make_sandbox, make_client):
    sb = make_sandbox(faults=FaultProfile(rate_slow=1.0, slow_seconds=0.5))
    client = make_client(sb)
    with pytest.raises(requests.Timeout):
        client.get("us", PERIOD_INDEX, timeout=0.1)
    assert sb.stats()["faults"]["slow"] == 1


def test_truncated_bodies_are_not_counted_as_served(make_sandbox, make_client):
    sb = make_sandbox(faults=FaultProfile(rate_truncated=1.0))
    client = make_client(sb)
    cr = sb.world.connected_realms("us")[0].id
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.board("us", cr, 503, sb.current_period("us"))
    assert sb.stats()["faults"]["truncated"] == 1
    assert sb.truth("us", sb.current_period("us")).runs == {}


def test_faults_follow_the_seed_and_request_order(make_sandbox, make_client):
    profile = FaultProfile(rate_5xx=0.2, rate_html=0.2)
    runs = []
    for _ in range(2):
        client = make_client(make_sandbox(faults=profile))
        runs.append([client.get("us", PERIOD_INDEX).status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and 503 in runs[0]


def test_replay_serves_recorded_files_and_404s_the_rest(make_sandbox, make_client, tmp_path: Path):
    recorded = tmp_path / "us" / "data" / "wow" / "mythic-keystone" / "period" / "index.json"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(b'{"recorded": true}')
    os.utime(recorded, (1_700_000_000, 1_700_000_000))
    client = make_client(make_sandbox(replay_dir=tmp_path))
    reply = client.get("us", PERIOD_INDEX)
    assert reply.status_code == 200 and reply.content == b'{"recorded": true}'
    assert reply.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert client.get("eu", PERIOD_INDEX).status_code == 404
    assert client.get("us", "/data/wow/connected-realm/index").status_code == 404
    assert client.get("us", "/data/wow/../../../etc/passwd").status_code == 404
    client.token = "forged"
    assert client.get("us", PERIOD_INDEX).status_code == 401


def test_control_surface_moves_the_clock_and_reports(sandbox, client):
    base = sandbox.base_url + "/_sandbox"
    now = requests.get(base + "/clock").json()["now"]
    assert now == sandbox.clock.now().isoformat()
    moved = requests.post(base + "/clock", json={"advance_seconds": 3600}).json()
    assert datetime.fromisoformat(moved["now"]) == datetime.fromisoformat(now) + timedelta(hours=1)
    requests.post(base + "/clock", json={"now": "2025-08-06T12:00:00+00:00"})
    assert sandbox.clock.now() == datetime(2025, 8, 6, 12, tzinfo=UTC)
    cr = sandbox.world.connected_realms("us")[0].id
    period = sandbox.current_period("us")
    client.board("us", cr, 503, period)
    truth = requests.get(base + "/truth", params={"region": "us", "period": period}).json()
    assert set(truth["runs"]) == set(sandbox.truth("us", period).runs)
    stats = requests.get(base + "/stats").json()
    assert stats["by_status"]["200"] >= 2 and stats["tokens_issued"] == 1


def test_cli_prints_the_environment_and_stops_on_sigterm():
    command = [
        str(Path(sys.executable).with_name("metawatch-sandbox")),
        "--port",
        "0",
        "--regions",
        "us",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        env = dict(item.split("=", 1) for item in line.split())
        assert set(env) == {
            "METAWATCH_API_URL",
            "METAWATCH_OAUTH_URL",
            "BLIZZARD_CLIENT_ID",
            "BLIZZARD_CLIENT_SECRET",
        }
        assert env["METAWATCH_API_URL"].endswith("/{region}")
        token = requests.post(
            env["METAWATCH_OAUTH_URL"],
            auth=(env["BLIZZARD_CLIENT_ID"], env["BLIZZARD_CLIENT_SECRET"]),
            data={"grant_type": "client_credentials"},
        )
        assert token.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def test_truth_waits_for_a_board_reply_still_being_written(sandbox, client):
    """A client holds the whole body before the server thread records it; truth must not miss it."""
    token = client.fetch_token()
    cr = sandbox.world.connected_realms("us")[0].id
    period = sandbox.current_period("us")
    path = f"/us/data/wow/connected-realm/{cr}/mythic-leaderboard/503/period/{period}"
    request = Request("GET", path, "namespace=dynamic-us", {"authorization": f"Bearer {token}"})
    reply = sandbox._dispatch(request)  # what a handler thread does before it writes the body
    assert reply.status == 200
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(sandbox.truth, "us", period)
        time.sleep(0.2)
        assert not asked.done(), "truth waits while the reply is under way"
        sandbox._finished(reply, True)  # ... and what it does once the body is out
        runs = asked.result(timeout=5).runs
    assert len(runs) == len(json.loads(reply.body)["leading_groups"]) > 0
