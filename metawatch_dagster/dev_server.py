"""`make dev`: the sandbox with a fast clock and the Dagster UI, stopped together by Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from metawatch_dagster.local_sandbox import running_sandbox

# A simulated week passes in about five real minutes, so a newcomer sees a new period arrive.
DEV_CLOCK_SPEED = 2016
DEV_SENSOR_INTERVAL_SECONDS = 30


def run_dev(host: str = "127.0.0.1", port: int = 3000, clock_speed: float = DEV_CLOCK_SPEED) -> int:
    sandbox_args = ["--seed", "7", "--scale", "small", "--clock-speed", str(clock_speed)]
    with running_sandbox(sandbox_args) as sandbox_env:
        env = {
            **os.environ,
            **sandbox_env,
            "METAWATCH_SENSOR_INTERVAL": str(DEV_SENSOR_INTERVAL_SECONDS),
        }
        print(f"sandbox: {sandbox_env['METAWATCH_API_URL']} (clock ×{clock_speed:g})", flush=True)
        print(f"Dagster UI: http://{host}:{port}  (Ctrl-C stops both)", flush=True)
        dagster = Path(sys.executable).with_name("dagster")
        command = [str(dagster), "dev", "-h", host, "-p", str(port), "-w", "workspace.yaml"]
        process = subprocess.Popen(command, env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl-C is how `make dev` stops: once Dagster has shut down, that is a success (its own
            # status says it was aborted, which made make report an error).
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                return 130
            return 0
