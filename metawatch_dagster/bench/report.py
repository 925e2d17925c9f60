"""The results of a bench run: targets judged against the medians, `results.json` and `results.md`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metawatch_dagster.bench.config import TARGETS
from metawatch_dagster.bench.section import Section

# (section, figure, label, unit) in the order the table shows them.
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("fetch", "seconds", "fetch: one region-week, wall", "s"),
    ("fetch", "floor_seconds", "fetch: floor (requests / quota)", "s"),
    ("fetch", "quota_share", "fetch: share of the quota reached", ""),
    ("fetch", "requests", "fetch: requests", ""),
    ("fetch", "retries", "fetch: retries", ""),
    ("fetch", "rate_limited", "fetch: 429s", ""),
    ("parse", "seconds", "parse: raw week → contract tables", "s"),
    ("parse", "floor_seconds", "parse: floor (DuckDB reads the same fields)", "s"),
    ("parse", "vs_floor", "parse: × floor", "×"),
    ("parse", "read_seconds", "parse: of which reading the bodies", "s"),
    ("parse", "read_vs_floor", "parse: reading × floor", "×"),
    ("parse", "write_floor_seconds", "parse: DuckDB writing the parse's rows", "s"),
    ("parse", "vs_floors", "parse: × (floor + writing)", "×"),
    ("parse", "peak_rss_gb", "parse: peak RSS", "GB"),
    ("baseline", "seconds", "baseline: json + Python + pandas", "s"),
    ("baseline", "peak_rss_gb", "baseline: peak RSS", "GB"),
    ("baseline", "speedup", "baseline: our parse is faster by", "×"),
    ("baseline", "speedup_at_floors", "baseline: a parse at the floors would be faster by", "×"),
    ("incremental", "changed_share", "incremental: boards changed", ""),
    ("incremental", "bytes_share", "incremental: bytes vs full load", ""),
    ("incremental", "parse_seconds", "incremental: parse", "s"),
    ("incremental", "dbt_seconds", "incremental: dbt models", "s"),
    ("incremental", "time_share", "incremental: parse + dbt vs full load", ""),
    ("incremental", "later_parse_seconds", "incremental: parse of a later hourly reload", "s"),
    ("incremental", "later_vs_full_parse", "incremental: that parse vs the full week's", "×"),
    ("dbt", "full_refresh_seconds", "dbt: full refresh, models", "s"),
    ("dbt", "one_partition_seconds", "dbt: one new partition, models", "s"),
    ("dbt", "one_partition_share", "dbt: one partition vs full refresh", ""),
    ("end_to_end", "seconds", "end to end: empty → marts, one region-week", "s"),
    ("end_to_end", "run_seconds", "end to end: of which the partition's run", "s"),
    ("end_to_end", "reload_seconds", "end to end: the same command after ~5% changed", "s"),
    ("end_to_end", "reload_run_seconds", "end to end: of which the partition's run (hourly)", "s"),
)


def judge(sections: dict[str, Section]) -> list[dict[str, Any]]:
    """Each target against its figure's median: pass, miss, or not measured."""
    verdicts = []
    for name, (comparison, bound) in TARGETS.items():
        section_name, figure_name = name.split(".", 1)
        section = sections.get(section_name)
        figure = section.figures.get(figure_name) if section else None
        if figure is None:
            verdicts.append(
                {"name": name, "comparison": comparison, "bound": bound, "result": "not measured"}
            )
            continue
        met = figure.median >= bound if comparison == "min" else figure.median <= bound
        verdicts.append(
            {
                "name": name,
                "comparison": comparison,
                "bound": bound,
                "median": figure.median,
                "result": "pass" if met else "MISS",
            }
        )
    return verdicts


def _number(value: float, unit: str) -> str:
    if unit == "" and abs(value) < 1 and value != 0:
        return f"{value:.1%}"
    if float(value).is_integer() and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def markdown_table(results: dict[str, Any]) -> str:
    verdicts = {v["name"]: v for v in results["targets"]}
    lines = [
        "| measure | median | min | max | target | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    for section_name, figure_name, label, unit in ROWS:
        figure = results["sections"].get(section_name, {}).get("figures", {}).get(figure_name)
        if figure is None:
            continue
        verdict = verdicts.get(f"{section_name}.{figure_name}")
        target, result = "", ""
        if verdict:
            sign = "≥" if verdict["comparison"] == "min" else "≤"
            target = f"{sign} {_number(verdict['bound'], unit)}{unit}"
            result = verdict["result"]
        cells = [_number(figure[key], unit) + unit for key in ("median", "min", "max")]
        lines.append(f"| {label} | {' | '.join(cells)} | {target} | {result} |")
    machine = results["machine"]
    runs = results["config"]["runs"]
    lines += [
        "",
        f"{results['mode']} run of {results['date']}: median of {runs} runs after "
        f"{results['config']['warmups']} warm-up, min and max beside it; sandbox scale "
        f"{results['config']['scale']!r}, region {results['config']['region']}, "
        f"{results['facts']['boards']} boards. Machine: {machine['cores']} cores, "
        f"{machine['memory_gb']} GB, {machine['cpu_model']}; Python {machine['python']}, "
        f"duckdb {machine['packages']['duckdb']}, dbt {machine['packages']['dbt-core']}.",
    ]
    for section_name, section in results["sections"].items():
        for note in section["notes"]:
            lines.append(f"- {section_name}: {note}")
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], bench_dir: Path) -> tuple[Path, Path]:
    bench_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = bench_dir / "results.json", bench_dir / "results.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown_table(results), encoding="utf-8")
    return json_path, md_path
