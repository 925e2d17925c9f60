"""Measurements that run in a child process, so their peak memory is their own.

The parent starts `python -m metawatch_dagster.bench.child TASK PAYLOAD_JSON`, reads the task's JSON
result from stdout and the child's peak RSS from `os.wait4`, which reports that one child's rusage.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

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
    # Linux reports ru_maxrss in KiB.
    return ChildResult(json.loads(stdout), usage.ru_maxrss * 1024)


def main(argv: list[str] | None = None) -> int:
    task, payload = (argv or sys.argv[1:])[:2]
    module_name, function_name = TASKS[task].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    print(json.dumps(function(json.loads(payload))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
