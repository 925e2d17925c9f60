"""A scripted stand-in for the API: each path answers from a list of behaviours, one per request.

The sandbox draws faults at random; this stub produces each fault exactly when a test asks, including
the ones the sandbox has no knob for (invalid JSON with a correct length, a connection reset).
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "stub-client"
CLIENT_SECRET = "stub-secret-Zq8x"

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def answer(
    status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> Behaviour:
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return send


def truncated(body: bytes) -> Behaviour:
    """Announce the whole body, send half of it, close."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return send


def reset() -> Behaviour:
    """Drop the connection with a TCP reset before answering."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        handler.connection.close()

    return send


def slow(seconds: float, then: Behaviour) -> Behaviour:
    def send(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        then(handler)

    return send


HTML_PAGE = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    arrived: float  # time.time() when the request line was read


@dataclass
class StubApi:
    token_ttl_s: int = 86399
    scripts: dict[str, list[Behaviour]] = field(default_factory=lambda: defaultdict(list))
    seen: list[Seen] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    refused_tokens: set[str] = field(default_factory=set)
    fallback: Behaviour | None = None  # for paths without a script; None answers 404
    malformed_tokens: int = 0  # how many of the first tokens issued end in a newline

    def script(self, path: str, *behaviours: Behaviour) -> None:
        """Answer ``path`` (without query) with these behaviours in turn; the last one repeats."""
        self.scripts[path] = list(behaviours)

    def api_requests(self, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.path != "/oauth/token" and path in (None, s.path)]

    def __enter__(self) -> StubApi:
        stub = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                stub._remember(self)
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}" or form.get(
                    "grant_type"
                ) != ["client_credentials"]:
                    answer(401, b'{"error":"invalid_client"}')(self)
                    return
                token = f"tok-{len(stub.tokens_issued) + 1}-{time.monotonic_ns()}"
                if len(stub.tokens_issued) < stub.malformed_tokens:
                    token += "\n"
                stub.tokens_issued.append(token)
                body = {
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": stub.token_ttl_s,
                }
                answer(200, json.dumps(body).encode())(self)

            def do_GET(self) -> None:
                seen = stub._remember(self)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in stub.tokens_issued or token in stub.refused_tokens:
                    answer(401, b'{"code":401}')(self)
                    return
                stub._next(seen.path)(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        port = self._server.server_address[1]
        self.api_url = f"http://127.0.0.1:{port}/{{region}}"
        self.oauth_url = f"http://127.0.0.1:{port}/oauth/token"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _remember(self, handler: BaseHTTPRequestHandler) -> Seen:
        parts = urlsplit(handler.path)
        seen = Seen(
            handler.command, parts.path, parse_qs(parts.query), dict(handler.headers), time.time()
        )
        with self._lock:
            self.seen.append(seen)
        return seen

    def _next(self, path: str) -> Behaviour:
        with self._lock:
            script = self.scripts.get(path)
            if not script and self.fallback is not None:
                return self.fallback
            if not script:
                return answer(404, b'{"code":404,"type":"BLZWEBAPI00000404","detail":"Not Found"}')
            return script.pop(0) if len(script) > 1 else script[0]
