"""The Sandbox: a local HTTP server that speaks Blizzard's Game Data API, with its clock and its truth."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from metawatch_dagster.sandbox import catalog
from metawatch_dagster.sandbox.access import Quota, TokenStore
from metawatch_dagster.sandbox.api import ApiService, Reply, Request
from metawatch_dagster.sandbox.bodies import dumps, error_body
from metawatch_dagster.sandbox.clock import SimClock
from metawatch_dagster.sandbox.config import SandboxConfig
from metawatch_dagster.sandbox.faults import FaultInjector
from metawatch_dagster.sandbox.handler import make_handler
from metawatch_dagster.sandbox.replay import ReplayStore
from metawatch_dagster.sandbox.routes import BoardKey, ReplayRoutes, WorldRoutes
from metawatch_dagster.sandbox.truth import Truth
from metawatch_dagster.sandbox.world import BoardView, World

_SEND_WAIT_S = 30.0  # longest wait of truth for replies under way (slow faults sleep first)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    # A fetch opens its pool of connections at once (24 by default) while the accept loop may wait for
    # the GIL. With socketserver's backlog of 5 the kernel dropped the connections beyond it, and each
    # waited a second for TCP to try again.
    request_queue_size = 128


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or SandboxConfig()
        cfg = self.config
        self.host = host
        self.port = port
        self.world = World(
            cfg.seed, cfg.scale, cfg.regions, cfg.board_limit, cfg.runs_per_board_week
        )
        self.clock = SimClock(cfg.start or catalog.default_start(), cfg.clock_speed)
        self._routes = (
            ReplayRoutes(ReplayStore(cfg.replay_dir)) if cfg.replay_dir else WorldRoutes(self.world)
        )
        self._api = ApiService(
            cfg.client_id,
            cfg.client_secret,
            TokenStore(cfg.token_ttl_s),
            Quota(cfg.per_second, cfg.per_hour),
            FaultInjector(cfg.seed, cfg.faults, cfg.latency_ms),
            self._routes.answer,
            self.clock.now,
        )
        self._served: set[BoardKey] = set()
        # ids of leaderboard replies dispatched but not yet finished; truth waits for them
        self._sending: set[int] = set()
        self._served_changed = threading.Condition()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Sandbox(seed={self.config.seed}, scale={self.config.scale!r}, port={self.port})"

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        server = SandboxServer((self.host, self.port), make_handler(self._dispatch, self._finished))
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- where and how to reach it --------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/{region}"

    @property
    def oauth_url(self) -> str:
        return self.base_url + "/oauth/token"

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    def env(self) -> dict[str, str]:
        return {
            "METAWATCH_API_URL": self.api_url,
            "METAWATCH_OAUTH_URL": self.oauth_url,
            "BLIZZARD_CLIENT_ID": self.client_id,
            "BLIZZARD_CLIENT_SECRET": self.client_secret,
        }

    # --- the simulated calendar -----------------------------------------------------------------
    def current_period(self, region: str) -> int:
        period = self.world.current_period(region, self.clock.now())
        if period is None:
            raise LookupError(f"the season has not started in {region} at {self.clock.now()}")
        return period

    def periods(self, region: str) -> list[tuple[int, datetime, datetime]]:
        return [
            (p, catalog.period_start(region, p), catalog.period_end(region, p))
            for p in self.world.started_periods(region, self.clock.now())
        ]

    # --- truth ----------------------------------------------------------------------------------
    def truth(self, region: str, period: int) -> Truth:
        """Exactly the runs and listings this server has served in 200 leaderboard bodies so far.

        A client may hold a whole body (and ask for truth) before the server thread that wrote it
        has recorded it, so truth first waits for the leaderboard replies already under way.
        """
        with self._served_changed:
            under_way = set(self._sending)
            self._served_changed.wait_for(
                lambda: under_way.isdisjoint(self._sending), timeout=_SEND_WAIT_S
            )
            served = sorted(k for k in self._served if k[0] == region and k[1] == period)
        truth = Truth()
        for _, _, dungeon_id, cr_id, version in served:
            view = self.world.board_version(region, period, dungeon_id, cr_id, version)
            _add_board(truth, cr_id, view)
        return truth

    def board_truth(self, region: str, period: int, as_of: datetime | None = None) -> Truth:
        """What every board of the region and period shows at ``as_of`` (default: now)."""
        moment = as_of or self.clock.now()
        truth = Truth()
        for cr in self.world.connected_realms(region):
            for dungeon in self.world.season_dungeons:
                _add_board(
                    truth, cr.id, self.world.board(region, period, dungeon.id, cr.id, moment)
                )
        return truth

    # --- stats ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        api = self._api
        with api._lock:
            by_status = {str(status): n for status, n in sorted(api.by_status.items())}
            requests, violations = api.requests, api.quota_violations
        return {
            "requests": requests,
            "by_status": by_status,
            "quota_violations": violations,
            "faults": dict(api.faults.counts),
            "tokens_issued": api.tokens.issued,
            "boards_served": len(self._served),
        }

    # --- HTTP -----------------------------------------------------------------------------------
    def _dispatch(self, request: Request) -> Reply:
        path = request.path
        if path == "/oauth/token":
            reply = self._api.token(request)
        elif path.startswith("/_sandbox/"):
            reply = self._control(request)
        else:
            region, slash, api_path = path.lstrip("/").partition("/")
            if slash and api_path.startswith("data/wow/"):
                reply = self._api.api(request, region, "/" + api_path)
            else:
                reply = Reply(404, error_body(404, "Not Found"))
        self._api.count(reply.status)
        if reply.board is not None:
            with self._served_changed:
                self._sending.add(id(reply))
        return reply

    def _finished(self, reply: Reply, delivered: bool) -> None:
        if reply.board is None:
            return
        with self._served_changed:
            if delivered and reply.status == 200:
                self._served.add(reply.board)
            self._sending.discard(id(reply))
            self._served_changed.notify_all()

    def _control(self, request: Request) -> Reply:
        name = request.path.removeprefix("/_sandbox/")
        if name == "stats" and request.method == "GET":
            return Reply(200, dumps(self.stats()))
        if name == "clock" and request.method == "POST":
            try:
                order = json.loads(request.body or b"{}")
                if "now" in order:
                    self.clock.set(_aware(datetime.fromisoformat(order["now"])))
                elif "advance_seconds" in order:
                    self.clock.advance(timedelta(seconds=float(order["advance_seconds"])))
                else:
                    raise ValueError("give 'now' or 'advance_seconds'")
            except (ValueError, TypeError, AttributeError) as error:
                return Reply(400, dumps({"error": str(error)}))
        if name == "clock":
            return Reply(200, dumps(self._clock_json()))
        if name == "truth" and request.method == "GET":
            region, period = request.param("region"), request.param("period")
            if region not in self.world.regions or not (period or "").isdigit():
                return Reply(400, dumps({"error": "give ?region=<known region>&period=<id>"}))
            return Reply(200, dumps(self.truth(region, int(period)).to_json()))
        return Reply(404, error_body(404, "Not Found"))

    def _clock_json(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "now": now.isoformat(),
            "speed": self.clock.speed,
            "current_periods": {r: self.world.current_period(r, now) for r in self.world.regions},
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add_board(truth: Truth, cr_id: int, view: BoardView | None) -> None:
    if view is None:
        return
    for ranking, run in enumerate(view.entries, start=1):
        truth.add_listing(run.run_id, run.truth, cr_id, ranking)
