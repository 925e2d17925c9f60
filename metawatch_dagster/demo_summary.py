"""The short summary `metawatch demo` prints: top specs per role, and how complete each week is."""

from __future__ import annotations

from pathlib import Path

import duckdb

TOP_SPECS = """
    WITH latest AS (SELECT region, max(period) AS period FROM marts.spec_weekly GROUP BY region),
    ranked AS (
        SELECT s.region, s.period, s.role, s.class_name, s.spec_name, s.runs, s.role_share,
               s.median_level, s.timed_rate,
               row_number() OVER (PARTITION BY s.region, s.role ORDER BY s.role_share DESC, s.spec_id) AS rank
        FROM marts.spec_weekly s JOIN latest USING (region, period)
    )
    SELECT region, period, role, rank, spec_name, class_name, runs, role_share, median_level, timed_rate
    FROM ranked WHERE rank <= $top ORDER BY region, role, rank
"""

COVERAGE = """
    SELECT period, region, boards_expected, answered_200, answered_304, answered_404, failed,
           full_boards, answered_share
    FROM marts.board_coverage ORDER BY region, period
"""

TOTALS = "SELECT count(*), count(DISTINCT period || region) FROM main.runs"


def summary_lines(warehouse: Path, top: int = 3) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs, partitions = con.execute(TOTALS).fetchone()
        lines = [
            f"{runs:,} runs in {partitions} region-weeks",
            "",
            "Top specs per role (latest week):",
        ]
        current = None
        for region, period, role, rank, spec, cls, n, share, median, timed in con.execute(
            TOP_SPECS, {"top": top}
        ).fetchall():
            if (region, period, role) != current:
                current = (region, period, role)
                lines.append(f"  {region} {period} {role.lower()}:")
            lines.append(
                f"    {rank}. {spec} {cls}: {share:.0%} of {role.lower()} slots, {n} runs, "
                f"median +{median:g}, {timed:.0%} timed"
            )
        lines += ["", "Board coverage:"]
        for period, region, expected, ok, same, missing, failed, full, share in con.execute(
            COVERAGE
        ).fetchall():
            lines.append(
                f"  {period}|{region}: {ok + same + missing}/{expected} boards answered "
                f"(200={ok} 304={same} 404={missing} failed={failed}), {full} full"
                + (f", {share:.0%}" if share is not None else "")
            )
    return lines
