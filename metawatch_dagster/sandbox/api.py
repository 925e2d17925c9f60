"""One request in, one reply out: OAuth, bearer auth, quota, faults, namespaces, 304s and the bodies.

Plain logic without sockets; ``handler`` turns replies into HTTP. Control endpoints live in ``control``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs

from metawatch_dagster.sandbox.access import Quota, TokenStore, retry_after_header
from metawatch_dagster.sandbox.bodies import dumps, error_body
from metawatch_dagster.sandbox.faults import FaultInjector
from metawatch_dagster.sandbox.routes import Answer, BoardKey, namespace_fits

JSON = "application/json;charset=UTF-8"
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>cdn</center>"
    b"</body></html>"
)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON
    truncate: bool = False  # announce the full length, send part of it, close
    delay_s: float = 0.0
    board: BoardKey | None = None  # a leaderboard body: record it as served once it was sent


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    arrived_at: float | None = None  # time.monotonic() when it reached the sandbox; None: now

    def param(self, name: str) -> str | None:
        values = parse_qs(self.query).get(name)
        return values[0] if values else None


def http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


class ApiService:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        tokens: TokenStore,
        quota: Quota,
        faults: FaultInjector,
        answer: Callable[[str, str, datetime], Answer | None],
        now: Callable[[], datetime],
    ):
        self._client_id = client_id
        self._client_secret = client_secret
        self.tokens = tokens
        self.quota = quota
        self.faults = faults
        self._answer = answer
        self._now = now
        self._lock = threading.Lock()
        self.requests = 0
        self.by_status: Counter[int] = Counter()
        self.quota_violations = 0

    def count(self, status: int) -> None:
        with self._lock:
            self.requests += 1
            self.by_status[status] += 1

    # --- OAuth ----------------------------------------------------------------------------------
    def token(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405, dumps({"error": "method_not_allowed"}))
        if not self._credentials_match(request.headers.get("authorization", "")):
            return Reply(
                401, dumps({"error": "unauthorized", "error_description": "Bad credentials"})
            )
        form = parse_qs(request.body.decode("latin-1"))
        if form.get("grant_type") != ["client_credentials"]:
            return Reply(
                400, dumps({"error": "invalid_request", "error_description": "grant_type"})
            )
        token = self.tokens.issue(self._client_id)
        return Reply(
            200,
            dumps(
                {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": int(self.tokens.ttl_s),
                    "sub": self._client_id,
                }
            ),
        )

    def _credentials_match(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return hmac.compare_digest(client_id, self._client_id) & hmac.compare_digest(
            secret, self._client_secret
        )

    # --- the Game Data API ----------------------------------------------------------------------
    def api(self, request: Request, region: str, api_path: str) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return Reply(405, error_body(405, "Method Not Allowed"))
        if request.param("access_token") is not None:
            return Reply(401, error_body(401, "Unauthorized"))  # tokens go in the header only
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        client = self.tokens.client_of(token) if scheme.lower() == "bearer" and token else None
        if client is None:
            return Reply(401, error_body(401, "Unauthorized"))

        wait = self.quota.admit(client, request.arrived_at)
        if wait is not None:
            with self._lock:
                self.quota_violations += 1
            return Reply(
                429,
                error_body(429, "Too Many Requests"),
                headers={"Retry-After": retry_after_header(wait)},
            )

        fault, latency = self.faults.draw(client)
        reply = self._fault_reply(fault, token) or self._content(request, region, api_path)
        reply.delay_s += latency
        if fault == "slow":
            reply.delay_s += self.faults.profile.slow_seconds
        if fault == "truncated" and reply.body:
            reply.truncate = True
            reply.board = None
        return reply

    def _fault_reply(self, fault: str | None, token: str) -> Reply | None:
        if fault == "5xx":
            status = self.faults.flavour()
            return Reply(status, error_body(status, "Internal Server Error"))
        if fault == "html":
            return Reply(503, _HTML_PAGE, content_type="text/html")
        if fault == "429":
            retry = str(self.faults.profile.retry_after_s)
            return Reply(429, error_body(429, "Too Many Requests"), headers={"Retry-After": retry})
        if fault == "expired_token":
            self.tokens.revoke(token)
            return Reply(401, error_body(401, "Unauthorized"))
        return None

    def _content(self, request: Request, region: str, api_path: str) -> Reply:
        namespace = request.param("namespace") or request.headers.get("battlenet-namespace")
        answer = None
        if namespace_fits(region, api_path, namespace):
            answer = self._answer(region, api_path, self._now())
        if answer is None:
            return Reply(404, error_body(404, "Not Found"))
        headers = {"Last-Modified": http_date(answer.last_modified)}
        since = _parse_http_date(request.headers.get("if-modified-since"))
        if since is not None and since >= answer.last_modified.replace(microsecond=0):
            return Reply(304, headers=headers)
        return Reply(200, answer.body, headers=headers, board=answer.board)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None
