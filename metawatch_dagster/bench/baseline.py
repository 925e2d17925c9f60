"""The original Metawatch way of turning leaderboards into tables, for an honest speed-up figure.

Each body is loaded with `json`, every entry walked in Python, a run is identified by its completion
timestamp, region and smallest member id, duplicates are dropped through a Python set, and pandas
frames are built for the runs and the roster. Written here in that style; it is a yardstick only.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from metawatch_dagster.bench.child import run_in_child
from metawatch_dagster.bench.figures import ratio_figure, repeat, summarize
from metawatch_dagster.bench.parse import GB, body_files
from metawatch_dagster.bench.section import Section

if TYPE_CHECKING:
    from metawatch_dagster.bench.context import BenchContext


def baseline_frames(files: list[str], region: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    seen: set[str] = set()
    runs: list[dict[str, Any]] = []
    roster: list[dict[str, Any]] = []
    for file in files:
        with gzip.open(file, "rt", encoding="utf-8") as handle:
            board = json.load(handle)
        dungeon_id = board["map_challenge_mode_id"]
        period = board["period"]
        for group in board.get("leading_groups", []):
            members = group["members"]
            smallest_member = min(member["profile"]["id"] for member in members)
            run_id = f"{group['completed_timestamp']}_{region}_{smallest_member}"
            if run_id in seen:
                continue
            seen.add(run_id)
            runs.append(
                {
                    "run_id": run_id,
                    "region": region,
                    "period": period,
                    "dungeon_id": dungeon_id,
                    "keystone_level": group["keystone_level"],
                    "duration_ms": group["duration"],
                    "completed_at": group["completed_timestamp"],
                    "mythic_rating": group.get("mythic_rating", {}).get("rating"),
                }
            )
            for member in members:
                roster.append(
                    {
                        "run_id": run_id,
                        "realm_id": member["profile"]["realm"]["id"],
                        "character_id": member["profile"]["id"],
                        "character_name": member["profile"]["name"],
                        "spec_id": member["specialization"]["id"],
                        "faction": member["faction"]["type"],
                    }
                )
    runs_frame = pd.DataFrame(runs)
    runs_frame["completed_at"] = pd.to_datetime(runs_frame["completed_at"], unit="ms", utc=True)
    return runs_frame, pd.DataFrame(roster)


def baseline_task(payload: dict[str, Any]) -> dict[str, Any]:
    files = body_files(Path(payload["raw_dir"]), payload["region"], payload["period"])
    started = time.perf_counter()
    runs, roster = baseline_frames(files, payload["region"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "runs": len(runs), "members": len(roster)}


def measure_baseline(
    ctx: BenchContext, raw_dir: Path, parse_samples: list[dict[str, float]]
) -> Section:
    """The baseline on the same files, in a child process; the parse section's samples pair run by
    run with it (same count of runs) for the speed-up, and for the speed-up at the floors: that of
    a parse costing no more than DuckDB's bare read of the fields and bare write of the rows, which
    no parse of these files into these tables can beat."""
    facts: dict[str, Any] = {}

    def once() -> dict[str, float]:
        done = run_in_child("baseline", ctx.payload(raw_dir))
        facts.update(runs=done.result["runs"], members=done.result["members"])
        return {"seconds": done.result["seconds"], "peak_rss_gb": done.peak_rss_bytes / GB}

    samples = repeat(once, ctx.config.runs, ctx.config.warmups)
    figures = summarize(samples)
    baseline_seconds = [s["seconds"] for s in samples]
    figures["speedup"] = ratio_figure(baseline_seconds, [s["seconds"] for s in parse_samples])
    figures["speedup_at_floors"] = ratio_figure(
        baseline_seconds,
        [s["floor_seconds"] + s["write_floor_seconds"] for s in parse_samples],
    )
    notes = [
        "run id = completion timestamp + region + smallest member id, as the original did: "
        "it merges runs our run_id keeps apart, so its run count may differ from ours"
    ]
    return Section(figures, facts, notes)
