"""The `metawatch` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from metawatch_dagster.config import Settings


def _operator():
    import dagster as dg

    from metawatch_dagster.definitions import defs
    from metawatch_dagster.operations import Operator

    return Operator(dg.DagsterInstance.get(), defs, Settings.from_env())


def cmd_load(args: argparse.Namespace) -> int:
    from metawatch_dagster.jobs import PARTITION_JOB
    from metawatch_dagster.operations import PeriodSpec, parse_regions

    settings = Settings.from_env()
    regions = parse_regions(args.region, settings)
    ok = _operator().load(regions, PeriodSpec.parse(args.period), PARTITION_JOB)
    return 0 if ok else 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    from metawatch_dagster.jobs import REPARSE_JOB
    from metawatch_dagster.operations import PeriodSpec, parse_regions

    settings = Settings.from_env()
    regions = parse_regions(args.region, settings)
    spec = PeriodSpec.parse(args.period) if args.period else None
    return 0 if _operator().rebuild(regions, spec, REPARSE_JOB) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metawatch",
        description="Collect Mythic+ leaderboards from Blizzard's Game Data API into DuckDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser("load", help="fetch and parse weeks through the Dagster instance")
    load.add_argument("--region", default="", help="comma-separated regions (default: METAWATCH_REGIONS)")
    load.add_argument("--period", default="current", help="current | <id> | <first>-<last>")
    load.set_defaults(func=cmd_load)

    rebuild = commands.add_parser("rebuild", help="re-parse from raw snapshots alone, no API calls")
    rebuild.add_argument("--region", default="", help="comma-separated regions (default: all held)")
    rebuild.add_argument("--period", default="", help="<id> | <first>-<last> (default: all held)")
    rebuild.set_defaults(func=cmd_rebuild)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except ValueError as error:
        print(f"metawatch: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
