"""Starting the bundled sandbox API as a child process (for `demo` and `dev`).

The platform talks to it over HTTP like to Blizzard; it never imports the sandbox's code.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_LINE_KEYS = (
    "METAWATCH_API_URL",
    "METAWATCH_OAUTH_URL",
    "BLIZZARD_CLIENT_ID",
    "BLIZZARD_CLIENT_SECRET",
)


class SandboxStartError(RuntimeError):
    pass


def parse_env_line(line: str) -> dict[str, str]:
    env = dict(item.split("=", 1) for item in shlex.split(line) if "=" in item)
    missing = [key for key in ENV_LINE_KEYS if key not in env]
    if missing:
        raise SandboxStartError(f"the sandbox printed no {', '.join(missing)}")
    return env


@contextmanager
def running_sandbox(args: list[str]) -> Iterator[dict[str, str]]:
    """Starts `metawatch-sandbox ARGS`, yields the environment it prints, stops it on exit."""
    executable = Path(sys.executable).with_name("metawatch-sandbox")
    command = [str(executable), "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = process.stdout.readline()
        if not line:
            raise SandboxStartError(
                f"the sandbox exited with code {process.wait()} before it was ready"
            )
        yield parse_env_line(line)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        process.stdout.close()
