"""`make dev` stopped by Ctrl-C ends as a success once Dagster has shut down."""

from __future__ import annotations

import contextlib
import subprocess

import pytest

from metawatch_dagster import dev_server


class DagsterDev:
    """`dagster dev` as the command sees it: Ctrl-C arrives while it waits on it, then Dagster
    exits with `stopped_with` (1: click's 'Aborted!'), or not at all."""

    def __init__(self, stopped_with: int | None):
        self.stopped_with = stopped_with
        self.signals: list[str] = []

    def wait(self, timeout: float | None = None) -> int:
        if not self.signals:
            raise KeyboardInterrupt
        if self.stopped_with is None:
            raise subprocess.TimeoutExpired("dagster dev", timeout)
        return self.stopped_with

    def terminate(self) -> None:
        self.signals.append("terminate")

    def kill(self) -> None:
        self.signals.append("kill")


@pytest.mark.parametrize(
    ("stopped_with", "status", "signals"),
    [(1, 0, ["terminate"]), (None, 130, ["terminate", "kill"])],
)
def test_ctrl_c_stops_dagster_and_ends_with_success_once_it_has_shut_down(
    monkeypatch, stopped_with, status, signals
):
    dagster = DagsterDev(stopped_with)
    sandbox_env = {"METAWATCH_API_URL": "http://127.0.0.1:1/{region}"}
    monkeypatch.setattr(
        dev_server, "running_sandbox", lambda args: contextlib.nullcontext(sandbox_env)
    )
    monkeypatch.setattr(dev_server.subprocess, "Popen", lambda command, env: dagster)

    assert dev_server.run_dev() == status
    assert dagster.signals == signals
