"""Counters a client keeps about its traffic, readable as a consistent snapshot."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, replace


@dataclass
class ClientStats:
    requests: int = 0  # API requests sent, every attempt included (the token endpoint excluded)
    retries: int = 0  # attempts beyond the first of each call
    responses: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    rate_limited: int = 0  # 429 answers
    failures: Counter[str] = field(default_factory=Counter)  # why attempts failed -> count
    bytes_received: int = 0
    quota_wait_s: float = 0.0  # time spent waiting for a free quota slot
    token_fetches: int = 0

    def snapshot(self) -> ClientStats:
        return replace(self, responses=Counter(self.responses), failures=Counter(self.failures))


class StatsRecorder:
    """The live, lock-guarded counters behind ``BlizzardClient.stats``."""

    def __init__(self) -> None:
        self._stats = ClientStats()
        self._lock = threading.Lock()

    def snapshot(self) -> ClientStats:
        with self._lock:
            return self._stats.snapshot()

    def sent(self, retry: bool, quota_wait_s: float) -> None:
        with self._lock:
            self._stats.requests += 1
            self._stats.retries += retry
            self._stats.quota_wait_s += quota_wait_s

    def answered(self, status: int, size: int) -> None:
        with self._lock:
            self._stats.responses[status] += 1
            self._stats.rate_limited += status == 429
            self._stats.bytes_received += size

    def failed(self, reason: str) -> None:
        with self._lock:
            self._stats.failures[reason] += 1

    def token_fetched(self) -> None:
        with self._lock:
            self._stats.token_fetches += 1
