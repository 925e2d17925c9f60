"""Misbehaviour on purpose: one draw per API request, from the seed, in request order."""

from __future__ import annotations

import random
import threading
import time

from metawatch_dagster.sandbox.config import FaultProfile


class FaultInjector:
    def __init__(self, seed: int, profile: FaultProfile, latency_ms: tuple[int, int]):
        self.profile = profile
        self.latency_ms = latency_ms
        self._rng = random.Random(f"{seed}|faults")
        self._lock = threading.Lock()
        self._burst_until: dict[str, float] = {}
        self.counts = {kind: 0 for kind in profile.rates()}

    def draw(self, client_id: str) -> tuple[str | None, float]:
        """The fault for this request (None for none) and the latency to add, in seconds."""
        with self._lock:
            u = self._rng.random()
            low, high = self.latency_ms
            latency = self._rng.uniform(low, high) / 1000 if high > 0 else 0.0
            if time.monotonic() < self._burst_until.get(client_id, 0.0):
                self.counts["429"] += 1
                return "429", latency
            total = 0.0
            for kind, rate in self.profile.rates().items():
                total += rate
                if u < total:
                    self.counts[kind] += 1
                    if kind == "429":
                        self._burst_until[client_id] = time.monotonic() + self.profile.retry_after_s
                    return kind, latency
            return None, latency

    def flavour(self) -> int:
        """Which 5xx status a server error uses (500, 502 or 503), drawn in request order."""
        with self._lock:
            return self._rng.choice((500, 502, 503))
