"""`metawatch-sandbox`: runs the sandbox until SIGINT/SIGTERM and prints the environment to use it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from metawatch_dagster.sandbox.app import Sandbox
from metawatch_dagster.sandbox.config import REGIONS, FaultProfile, SandboxConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="metawatch-sandbox", description="A local stand-in for Blizzard's Game Data API."
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", choices=("small", "real"), default="small")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--regions", default=",".join(REGIONS))
    parser.add_argument("--board-limit", type=int, default=500)
    parser.add_argument("--clock-speed", type=float, default=0.0, help="simulated s per real s")
    parser.add_argument("--latency-ms", default="0,0", help="LOW,HIGH added per request")
    parser.add_argument("--replay", type=Path, default=None, help="serve recorded files from DIR")
    parser.add_argument("--per-second", type=int, default=100)
    parser.add_argument("--per-hour", type=int, default=36000)
    for kind in ("5xx", "429", "slow", "truncated", "html", "expired-token"):
        parser.add_argument(f"--fault-{kind}", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, for injected 429s")
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    low, _, high = args.latency_ms.partition(",")
    faults = FaultProfile(
        rate_5xx=args.fault_5xx,
        rate_429=args.fault_429,
        retry_after_s=args.retry_after,
        rate_slow=args.fault_slow,
        slow_seconds=args.slow_seconds,
        rate_truncated=args.fault_truncated,
        rate_html=args.fault_html,
        rate_expired_token=args.fault_expired_token,
    )
    return SandboxConfig(
        seed=args.seed,
        scale=args.scale,
        regions=tuple(r.strip() for r in args.regions.split(",") if r.strip()),
        board_limit=args.board_limit,
        clock_speed=args.clock_speed,
        per_second=args.per_second,
        per_hour=args.per_hour,
        latency_ms=(int(low), int(high or low)),
        faults=faults,
        replay_dir=args.replay,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Sandbox(config, host=args.host, port=args.port) as sandbox:
        line = " ".join(f"{name}={value}" for name, value in sandbox.env().items())
        print(line, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
