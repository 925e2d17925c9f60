"""The API quota (per second and per hour), shared by every thread and process using one state folder.

A request may start only when a small JSON file, read and written under ``fcntl.flock``, says so; the
send is recorded at that moment (checked and taken together, never reserved ahead). The file holds:

- ``sends``: the most recent send times. A send may start only ``window`` seconds after the send
  ``burst`` places before it, so no ``window`` ever holds more than ``burst`` sends. ``burst`` is a
  little under the per-second limit and ``window`` a little over one second: the margin absorbs
  arrival jitter at a server that counts a strict 1-second sliding window.
- ``paced_until``: sends are also spaced evenly (``window / burst`` apart, with a few slots of slack),
  because bursts are what jitter turns into 429s: a server busy answering 24 requests at once reads
  the last of them hundreds of milliseconds late, next to the following burst.
- ``minutes``: sends counted per wall-clock minute. A send may start only while the minute buckets
  that overlap the last hour (plus one spare minute for jitter) hold fewer than ``per_hour``, or
  fewer than ``per_hour - leave_per_hour`` for a limiter that leaves part of each hour to others
  (a backfill's, so that the current weeks' hourly loads never wait for the hour to roll over).
- ``paused_until``: set after the server answered 429, so every process holds off, not just one thread
  (for the answer's Retry-After, at most MAX_PAUSE_S).
- ``slowdown`` and ``slowed_at``: a 429 also slows every sharer's pace (the spacing stretched by the
  factor), which falls back to 1 while the server accepts. A refusal most often means that arrivals
  jitter more than the margin absorbs (about 50 ms at the full pace): the same pace would meet another.

Wall-clock time is used because monotonic clocks are not comparable across reboots, and the hourly
budget must survive a restart.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from metawatch_dagster.blizzard.errors import Stopped
from metawatch_dagster.files import atomic_write_bytes

log = logging.getLogger("metawatch.blizzard")

MINUTE = 60
# Minute buckets consulted for the hourly limit: the 60 full minutes of the hour, the partial minute at
# its start, and one spare minute so jittered arrivals stay inside the server's window too.
HOUR_BUCKETS = 62
# How many sends may follow each other without spacing, to catch up after a late wake-up.
PACING_SLACK_SLOTS = 3
# Each 429 stretches the pace by this factor, up to the maximum; the stretch then shrinks linearly by
# RECOVERY_PER_S while the server accepts. After one refusal, full pace is back in 20 s: long enough to
# ride out a busy spell, short enough that a one-off refusal costs little.
SLOWDOWN_PER_REFUSAL = 1.1
MAX_SLOWDOWN = 1.5
RECOVERY_PER_S = 0.1 / 20
# Times further ahead than this can only come from a clock that jumped back; they are dropped.
FUTURE_HORIZON_S = 2 * 3600
# The longest pause a 429's Retry-After sets. It must stay under FUTURE_HORIZON_S: a pause past it
# would read as a clock jump and be dropped, and every sharer would retry at once.
MAX_PAUSE_S = 3600


@dataclass
class _State:
    sends: list[float] = field(default_factory=list)
    minutes: dict[int, int] = field(default_factory=dict)
    paused_until: float = 0.0
    paced_until: float = 0.0
    slowdown: float = 1.0
    slowed_at: float = 0.0

    def slowdown_at(self, now: float) -> float:
        """The pace's stretch at ``now``: the last refusal's, recovered since."""
        return max(1.0, self.slowdown - max(0.0, now - self.slowed_at) * RECOVERY_PER_S)


class QuotaLimiter:
    """At most ``per_second`` request starts in any second and ``per_hour`` in any hour, across every
    process sharing ``state_dir``; this limiter's own sends stop ``leave_per_hour`` short of the
    hourly limit. Call ``acquire()`` before each request (retries included)."""

    def __init__(
        self,
        state_dir: Path | str,
        per_second: int = 100,
        per_hour: int = 36000,
        *,
        leave_per_hour: int = 0,
        name: str = "blizzard-quota",
        burst_headroom: float = 0.02,
        window_margin_s: float = 0.03,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
    ):
        """``sleep`` None waits on the limiter's own event, which `stop` ends at once."""
        if per_second < 1 or per_hour < 1:
            raise ValueError("per_second and per_hour must be at least 1")
        if not 0 <= leave_per_hour < per_hour:
            raise ValueError("leave_per_hour must be at least 0 and under per_hour")
        self.state_dir = Path(state_dir)
        self.per_second = per_second
        self.per_hour = per_hour
        self.leave_per_hour = leave_per_hour
        self.burst = max(1, math.floor(per_second * (1 - burst_headroom)))
        self.window = 1.0 + window_margin_s
        self.spacing = self.window / self.burst
        self.slack = PACING_SLACK_SLOTS * self.spacing
        self._state_path = self.state_dir / f"{name}.json"
        self._lock_path = self.state_dir / f"{name}.lock"
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._gate = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"QuotaLimiter({str(self.state_dir)!r}, per_second={self.per_second}, "
            f"per_hour={self.per_hour}, leave_per_hour={self.leave_per_hour})"
        )

    def acquire(self) -> float:
        """Wait for a free send slot and take it; returns the seconds waited.

        The slot is checked and taken at the moment of sending, never reserved ahead, so a thread
        that wakes late cannot send in a bunch with others. One thread per process waits for the
        next slot while the others queue behind it.
        """
        started = self._clock()
        with self._gate:
            while True:
                if self._stopping.is_set():
                    raise Stopped("the quota wait was stopped: the requests are no longer wanted")
                with self._transaction() as state:
                    now = self._clock()
                    slot = self._next_slot(state, now)
                    if slot <= now:
                        self._record(state, now)
                        break
                if slot - now > 5:
                    log.warning(
                        "quota: waiting %.0f s for a free request slot%s",
                        slot - now,
                        f" ({self.leave_per_hour} sends of each hour are left to other loads)"
                        if self.leave_per_hour
                        else "",
                    )
                self._sleep(slot - now)
        return now - started

    def stop(self) -> None:
        """End every wait for a slot at once, and refuse every later one (raising Stopped): the
        caller abandons the requests (an interrupted fetch), which would otherwise wait for the
        hour's quota to spend it on nothing."""
        self._stopping.set()

    def refused(self, retry_after_s: float) -> None:
        """After a 429: hold every sharer of this state off for ``retry_after_s`` (at most
        MAX_PAUSE_S) and slow the pace."""
        with self._transaction() as state:
            now = self._clock()
            state.paused_until = max(state.paused_until, now + min(retry_after_s, MAX_PAUSE_S))
            state.slowdown = min(MAX_SLOWDOWN, state.slowdown_at(now) * SLOWDOWN_PER_REFUSAL)
            state.slowed_at = now
        log.info(
            "quota: a request was refused; pacing %.0f%% slower, back to full pace in %.0f s",
            100 * (state.slowdown - 1),
            (state.slowdown - 1) / RECOVERY_PER_S,
        )

    def _next_slot(self, state: _State, now: float) -> float:
        # Even pacing (with a few slots of slack to catch up after a late wake-up) keeps arrivals
        # spread, so server-side jitter cannot pile a burst into one second.
        slot = max(now, state.paused_until, state.paced_until - self.slack)
        if len(state.sends) >= self.burst:
            slot = max(slot, state.sends[-self.burst] + self.window)
        while True:
            bucket = int(slot // MINUTE)
            in_hour = {m: n for m, n in state.minutes.items() if m > bucket - HOUR_BUCKETS}
            if sum(in_hour.values()) < self.per_hour - self.leave_per_hour:
                return slot
            slot = max(slot, (min(in_hour) + HOUR_BUCKETS) * MINUTE)

    def _record(self, state: _State, now: float) -> None:
        state.sends.append(now)
        del state.sends[: -self.burst]
        state.paced_until = max(state.paced_until, now) + self.spacing * state.slowdown_at(now)
        bucket = int(now // MINUTE)
        state.minutes[bucket] = state.minutes.get(bucket, 0) + 1

    @contextmanager
    def _transaction(self) -> Iterator[_State]:
        """The state, read and written back under the file lock."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock_file:  # a fresh descriptor excludes threads too
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                state = self._load()
                yield state
                self._save(state)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _load(self) -> _State:
        try:
            raw = json.loads(self._state_path.read_bytes())
            state = _State(
                sends=[float(t) for t in raw["sends"]],
                minutes={int(m): int(n) for m, n in raw["minutes"].items()},
                paused_until=float(raw["paused_until"]),
                paced_until=float(raw["paced_until"]),
                slowdown=float(raw.get("slowdown", 1.0)),
                slowed_at=float(raw.get("slowed_at", 0.0)),
            )
        except FileNotFoundError:
            return _State()
        except (ValueError, KeyError, TypeError, AttributeError):
            # Written atomically: someone edited it, or a power loss emptied it; start over, loudly.
            log.warning("quota: unreadable state in %s, starting afresh", self._state_path)
            return _State()
        now = self._clock()
        horizon = now + FUTURE_HORIZON_S
        oldest_bucket = int(now // MINUTE) - HOUR_BUCKETS
        state.sends = sorted(t for t in state.sends if t <= horizon)
        state.minutes = {
            m: n for m, n in state.minutes.items() if oldest_bucket < m <= horizon // MINUTE
        }
        if max(state.paused_until, state.paced_until, state.slowed_at) > horizon:
            state.paused_until = state.paced_until = state.slowed_at = 0.0
            state.slowdown = 1.0
        return state

    def _save(self, state: _State) -> None:
        payload = {
            "sends": [round(t, 6) for t in state.sends],
            "minutes": {str(m): n for m, n in sorted(state.minutes.items())},
            "paused_until": state.paused_until,
            "paced_until": state.paced_until,
            "slowdown": state.slowdown,
            "slowed_at": state.slowed_at,
        }
        # Written on every send: syncing it each time cost the pace a few requests a second (one
        # limiter, 8 threads: 92-94 of 100/s against 95.5), and a state a power loss empties only
        # starts afresh; the server's 429s slow the sharers down if that overshoots the hour.
        atomic_write_bytes(self._state_path, json.dumps(payload).encode(), durable=False)
