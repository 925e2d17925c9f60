from __future__ import annotations

import json
from pathlib import Path

import pytest
from stub_api import CLIENT_ID, CLIENT_SECRET, StubApi

from metawatch_dagster.blizzard import BlizzardClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "blizzard"


@pytest.fixture(scope="session")
def board_body() -> bytes:
    """A real 500-group board, compacted the way an API serves it."""
    path = FIXTURES / "mythic-leaderboard_cr3694_d244_p663.us.full.json"
    return json.dumps(json.loads(path.read_bytes()), separators=(",", ":")).encode()


@pytest.fixture
def stub():
    with StubApi() as api:
        yield api


@pytest.fixture
def make_client(stub: StubApi):
    clients: list[BlizzardClient] = []

    def make(**options) -> BlizzardClient:
        options.setdefault("backoff_base_s", 0.001)
        client = BlizzardClient(stub.api_url, stub.oauth_url, CLIENT_ID, CLIENT_SECRET, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
