"""Who may call the API and how often: bearer tokens and the per-client quota, both on real time."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    client_id: str
    expires_at: float  # time.monotonic()


class TokenStore:
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, client_id: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = Token(client_id, time.monotonic() + self.ttl_s)
            self.issued += 1
        return token

    def client_of(self, token: str) -> str | None:
        """The client a live token belongs to, or None for unknown and expired tokens."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            if time.monotonic() >= found.expires_at:
                del self._tokens[token]
                return None
            return found.client_id

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)


class Quota:
    """At most ``per_second`` requests in any 1 s window and ``per_hour`` in any hour, per client."""

    def __init__(self, per_second: int, per_hour: int):
        self.windows = ((1.0, per_second), (3600.0, per_hour))
        self._seen: dict[str, tuple[deque[float], deque[float]]] = {}
        self._lock = threading.Lock()

    def admit(self, client_id: str) -> float | None:
        """Counts the request and returns None, or returns the seconds to wait (request refused)."""
        now = time.monotonic()
        with self._lock:
            queues = self._seen.setdefault(client_id, (deque(), deque()))
            wait = 0.0
            for (span, limit), queue in zip(self.windows, queues, strict=True):
                while queue and queue[0] <= now - span:
                    queue.popleft()
                if len(queue) >= limit:
                    wait = max(wait, queue[-limit] + span - now)
            if wait > 0:
                return wait
            for queue in queues:
                queue.append(now)
            return None


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
