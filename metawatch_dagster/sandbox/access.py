"""Who may call the API and how often: bearer tokens and the per-client quota, both on real time."""

from __future__ import annotations

import bisect
import math
import secrets
import threading
import time
from dataclasses import dataclass

from metawatch_dagster.sandbox.arrival import MAX_AGE_S


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
    """At most ``per_second`` requests in any 1 s window and ``per_hour`` in any hour, per client,
    each counted at its arrival."""

    def __init__(self, per_second: int, per_hour: int):
        self.windows = ((1.0, per_second), (3600.0, per_hour))
        self._seen: dict[str, tuple[list[float], list[float]]] = {}  # arrivals, sorted
        self._lock = threading.Lock()

    def admit(self, client_id: str, arrived_at: float | None = None) -> float | None:
        """Counts the request at its arrival (`time.monotonic()`; None: now) and returns None, or
        returns the seconds to wait (request refused).

        Handler threads get to requests in another order than they arrived (up to 120 ms apart
        measured): a request is admitted when every window holding its arrival stays within the
        limit with it, the windows of requests that arrived after it but were counted first included.
        """
        with self._lock:
            seen = self._seen.setdefault(client_id, ([], []))
            at = time.monotonic() if arrived_at is None else arrived_at
            wait = 0.0
            for (span, limit), arrivals in zip(self.windows, seen, strict=True):
                # Requests are counted at most MAX_AGE_S after they arrived (arrival.py caps the age),
                # so the windows of the requests still to come hold no older arrival than this.
                newest = max(at, arrivals[-1]) if arrivals else at
                del arrivals[: bisect.bisect_right(arrivals, newest - span - MAX_AGE_S)]
                if _overfills(arrivals, at, span, limit):
                    wait = max(wait, arrivals[-limit] + span - at)
            if wait > 0:
                return wait
            for arrivals in seen:
                bisect.insort(arrivals, at)
            return None


def _overfills(arrivals: list[float], at: float, span: float, limit: int) -> bool:
    """Would one more arrival at `at` put more than `limit` of the sorted `arrivals` in a window of
    `span`: the one ending at `at`, or one ending at a later arrival?"""
    later = arrivals[bisect.bisect_right(arrivals, at) : bisect.bisect_left(arrivals, at + span)]
    for end in (at, *later):
        inside = bisect.bisect_right(arrivals, end) - bisect.bisect_right(arrivals, end - span)
        if inside + 1 > limit:
            return True
    return False


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
