"""The sandbox API in its own process (so it never competes for the measuring process's GIL), driven
over HTTP: its clock, its counters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from metawatch_dagster.local_sandbox import running_sandbox

CONTROL_TIMEOUT_S = 30


@dataclass(frozen=True)
class SandboxHandle:
    env: dict[str, str]  # METAWATCH_API_URL, METAWATCH_OAUTH_URL and the credentials

    @property
    def control_url(self) -> str:
        return self.env["METAWATCH_API_URL"].removesuffix("/{region}") + "/_sandbox"

    def now(self) -> datetime:
        return datetime.fromisoformat(self._clock()["now"])

    def current_period(self, region: str) -> int:
        return int(self._clock()["current_periods"][region])

    def set_clock(self, moment: datetime) -> None:
        response = requests.post(
            f"{self.control_url}/clock", json={"now": moment.isoformat()}, timeout=CONTROL_TIMEOUT_S
        )
        response.raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = requests.get(f"{self.control_url}/stats", timeout=CONTROL_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def _clock(self) -> dict[str, Any]:
        response = requests.get(f"{self.control_url}/clock", timeout=CONTROL_TIMEOUT_S)
        response.raise_for_status()
        return response.json()


@contextmanager
def sandbox_process(args: list[str]) -> Iterator[SandboxHandle]:
    with running_sandbox(args) as env:
        yield SandboxHandle(env)
