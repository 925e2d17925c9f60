from __future__ import annotations

import pytest

from metawatch_dagster.sandbox import Sandbox, SandboxConfig

from .api_client import ApiClient

# Small boards keep these tests fast; the shapes and rules are the same at 500.
QUICK = SandboxConfig(seed=7, regions=("us", "eu"), board_limit=20, runs_per_board_week=60)


@pytest.fixture
def sandbox():
    with Sandbox(QUICK) as sb:
        yield sb


@pytest.fixture
def make_sandbox():
    started: list[Sandbox] = []

    def make(**changes) -> Sandbox:
        options = {**QUICK.__dict__, **changes}
        sb = Sandbox(SandboxConfig(**options)).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def client(sandbox):
    api = ApiClient(sandbox)
    yield api
    api.close()


@pytest.fixture
def make_client():
    made: list[ApiClient] = []

    def make(sb: Sandbox) -> ApiClient:
        api = ApiClient(sb)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()
