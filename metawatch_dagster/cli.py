"""The `metawatch` command line."""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from metawatch_dagster.config import LOG_BACKUPS, LOG_ROTATE_BYTES, Settings
from metawatch_dagster.files import rotate_when_larger


def _operator(settings: Settings | None = None):
    from metawatch_dagster.definitions import defs
    from metawatch_dagster.instance_home import get_instance
    from metawatch_dagster.operations import Operator

    settings = settings or Settings.from_env()
    # Before the instance: a data folder the machine refuses ends the command with nothing made.
    settings.log_path.parent.mkdir(parents=True, exist_ok=True)
    rotate_when_larger(settings.log_path, LOG_ROTATE_BYTES, LOG_BACKUPS)
    return Operator(get_instance(), defs, settings)


def cmd_load(args: argparse.Namespace) -> int:
    from metawatch_dagster.jobs import PARTITION_JOB
    from metawatch_dagster.operations import PeriodSpec, parse_regions

    settings = Settings.from_env()
    regions = parse_regions(args.region, settings)
    spec = PeriodSpec.parse(args.period)
    operator = _operator(settings)
    ok = operator.load(regions, spec, PARTITION_JOB)
    if ok and args.publish:
        ok = operator.publish()
    return operator.exit_status(ok)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from metawatch_dagster.jobs import REPARSE_JOB
    from metawatch_dagster.operations import PeriodSpec, parse_regions

    settings = Settings.from_env()
    regions = parse_regions(args.region, settings)
    spec = PeriodSpec.parse(args.period) if args.period else None
    operator = _operator(settings)
    ok = operator.rebuild(regions, spec, REPARSE_JOB)
    if ok and args.publish:
        ok = operator.publish()
    return operator.exit_status(ok)


def cmd_pack(args: argparse.Namespace) -> int:
    from metawatch_dagster.operations import PeriodSpec, pack_ended_weeks, parse_regions

    settings = Settings.from_env()
    regions = parse_regions(args.region, settings)
    spec = PeriodSpec.parse(args.period) if args.period else None
    return 0 if pack_ended_weeks(settings, regions, spec, print).ok else 1


def cmd_sync_periods(args: argparse.Namespace) -> int:
    from metawatch_dagster.operations import parse_season

    season = parse_season(args.season)
    operator = _operator()
    return operator.exit_status(operator.sync_periods(season))


def cmd_demo(args: argparse.Namespace) -> int:
    from metawatch_dagster.demo import run_demo

    return run_demo(_operator)


def cmd_dev(args: argparse.Namespace) -> int:
    from metawatch_dagster.dev_server import run_dev
    from metawatch_dagster.instance_home import ensure_dagster_home

    ensure_dagster_home()
    return run_dev(host=args.host, port=args.port)


def cmd_docs(args: argparse.Namespace) -> int:
    from metawatch_dagster.docs_server import build_and_serve

    try:
        return build_and_serve(Settings.from_env(), serve=args.serve, port=args.port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise OSError(
            f"port {args.port} is in use: serve the docs on another with --port"
        ) from error


def cmd_bench(args: argparse.Namespace) -> int:
    from metawatch_dagster.bench.config import BenchConfig
    from metawatch_dagster.bench.runner import run_bench

    config = BenchConfig.quick() if args.quick else BenchConfig.full()
    run_bench(config, Settings.from_env().data_dir)
    return 0


def add_region(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--region", default="", help="comma-separated regions (default: METAWATCH_REGIONS)"
    )


def add_no_publish(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-publish",
        dest="publish",
        action="store_false",
        help="skip the season marts, docs, serving copy and exports afterwards",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metawatch",
        description="Collect Mythic+ leaderboards from Blizzard's Game Data API into DuckDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser(
        "load", help="fetch, parse and model weeks through the Dagster instance"
    )
    add_region(load)
    load.add_argument(
        "--period", default="current", help="current | latest:N | <id> | <first>-<last>"
    )
    add_no_publish(load)
    load.set_defaults(func=cmd_load)

    rebuild = commands.add_parser("rebuild", help="re-parse from raw snapshots alone, no API calls")
    add_region(rebuild)
    rebuild.add_argument(
        "--period",
        default="",
        help="current | latest:N (from the reference files held) | <id> | <first>-<last>"
        " (default: all held)",
    )
    add_no_publish(rebuild)
    rebuild.set_defaults(func=cmd_rebuild)

    pack = commands.add_parser(
        "pack",
        help="pack the raw bodies of ended weeks into one archive each (a rebuild reads them"
        " from it; a load of the week unpacks them)",
    )
    add_region(pack)
    pack.add_argument(
        "--period",
        default="",
        help="latest:N (from the reference files held) | <id> | <first>-<last> (default: all held)",
    )
    pack.set_defaults(func=cmd_pack)

    sync = commands.add_parser("sync-periods", help="register every started period of a season")
    sync.add_argument("--season", default="current", help="current | <season id>")
    sync.set_defaults(func=cmd_sync_periods)

    demo = commands.add_parser("demo", help="two weeks of two regions end to end, with a summary")
    demo.set_defaults(func=cmd_demo)

    dev = commands.add_parser("dev", help="the sandbox with a fast clock and the Dagster UI")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)

    docs = commands.add_parser("docs", help="build the dbt docs site (and serve it on localhost)")
    docs.add_argument("--serve", action="store_true", help="serve it after building")
    docs.add_argument("--port", type=int, default=8080)
    docs.set_defaults(func=cmd_docs)

    bench = commands.add_parser(
        "bench", help="measure fetch, parse, incremental, dbt and end to end against the sandbox"
    )
    bench.add_argument("--quick", action="store_true", help="small scale, about a minute")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    # Dagster's loggers set their own levels; the handler's level keeps the terminal to warnings.
    handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[handler]
    )
    try:
        return args.func(args)
    except ValueError as error:
        print(f"metawatch: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path or port the machine refuses, named in the message
        print(f"metawatch: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "metawatch: interrupted (a run it stopped is marked failed, not to be retried); the"
            " same command again does what is left: loads and rebuilds are idempotent",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
