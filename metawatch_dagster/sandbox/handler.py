"""HTTP/1.1 plumbing: requests into ``Request``, replies onto the socket (keep-alive, exact lengths)."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from metawatch_dagster.sandbox.api import Reply, Request
from metawatch_dagster.sandbox.arrival import StampedSocketReader, stamp_arrivals

Dispatch = Callable[[Request], Reply]
Finished = Callable[[Reply, bool], None]


def make_handler(dispatch: Dispatch, finished: Finished) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to the sandbox: ``dispatch`` answers; ``finished`` hears of the end of
    every reply it dispatched, with whether the whole body went out."""

    class SandboxHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "metawatch-sandbox"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        arrivals: StampedSocketReader | None = None

        def setup(self) -> None:
            super().setup()
            if stamp_arrivals(self.connection):
                self.rfile.close()  # the socket stays open: the handler reads it through arrivals
                self.arrivals = StampedSocketReader(self.connection)
                self.rfile = io.BufferedReader(self.arrivals)

        def version_string(self) -> str:
            return self.server_version

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: request lines would be noise in test and dev output

        def _serve(self) -> None:
            arrived_at = self.arrivals.arrived_at if self.arrivals else None
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = dispatch(Request(self.command, path, query, headers, body, arrived_at))
            delivered = False
            try:
                if reply.delay_s > 0:
                    time.sleep(reply.delay_s)
                self._write(reply)
                delivered = not reply.truncate
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                finished(reply, delivered)

        def _write(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 304:
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
            if reply.truncate:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command == "HEAD" or reply.status == 304:
                return
            if reply.truncate:
                self.wfile.write(reply.body[: len(reply.body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                return
            self.wfile.write(reply.body)

    return SandboxHandler
