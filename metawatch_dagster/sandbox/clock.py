"""The simulated clock: periods, board growth and Last-Modified follow it; quota and tokens do not."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Moves only by hand when ``speed`` is 0; otherwise ``speed`` simulated seconds per real second."""

    def __init__(self, start: datetime, speed: float = 0.0):
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware UTC datetime")
        self._lock = threading.Lock()
        self._anchor = start.astimezone(UTC)
        self._anchor_real = time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if not self.speed:
            return self._anchor
        elapsed = (time.monotonic() - self._anchor_real) * self.speed
        return self._anchor + timedelta(seconds=elapsed)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware UTC datetime")
        with self._lock:
            self._anchor = moment.astimezone(UTC)
            self._anchor_real = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._anchor = self._now_locked() + delta
            self._anchor_real = time.monotonic()

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)
