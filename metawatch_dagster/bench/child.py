"""Measurements that run in a child process, so their peak memory is their own.

The parent starts `python -m metawatch_dagster.bench.child TASK PAYLOAD_JSON` and reads the task's
JSON result from stdout, with the child's peak RSS: the high-water mark of the child's own memory
(`VmHWM` in /proc/self/status). Linux carries a parent's peak into its children's `ru_maxrss` across
fork and exec, so `os.wait4`'s figure is only the fallback where /proc is missing.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PEAK_KEY = "_peak_rss_bytes"

# task -> "module:function" taking the payload dict and returning a JSON-able dict.
TASKS = {
    "parse": "metawatch_dagster.bench.parse:parse_task",
    "floor": "metawatch_dagster.bench.parse:floor_task",
    "write_floor": "metawatch_dagster.bench.parse:write_floor_task",
    "baseline": "metawatch_dagster.bench.baseline:baseline_task",
}


class ChildTaskError(RuntimeError):
    pass


@dataclass(frozen=True)
class ChildResult:
    result: dict[str, Any]
    peak_rss_bytes: int


def run_in_child(task: str, payload: dict[str, Any]) -> ChildResult:
    if task not in TASKS:
        raise ValueError(f"unknown bench task {task!r}")
    command = [sys.executable, "-m", "metawatch_dagster.bench.child", task, json.dumps(payload)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read both pipes to the end before reaping, so a chatty child cannot block on a full pipe.
    stdout, stderr = process.stdout.read(), process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise ChildTaskError(f"bench task {task} exited {process.returncode}: {' | '.join(tail)}")
    output = json.loads(stdout)
    # Linux reports ru_maxrss in KiB.
    peak = output.pop(PEAK_KEY, None) or usage.ru_maxrss * 1024
    return ChildResult(output, peak)


def own_peak_rss_bytes() -> int | None:
    """This process image's peak resident memory, or None without /proc."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return None


def main(argv: list[str] | None = None) -> int:
    task, payload = (argv or sys.argv[1:])[:2]
    module_name, function_name = TASKS[task].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(json.loads(payload))
    print(json.dumps({**result, PEAK_KEY: own_peak_rss_bytes()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
