"""The quota limiter on a fake clock: exact send times, no real waiting."""

from __future__ import annotations

import bisect
import itertools
import json
import statistics
from pathlib import Path

import pytest

from metawatch_dagster.blizzard import QuotaLimiter
from metawatch_dagster.blizzard.quota import (
    FUTURE_HORIZON_S,
    MAX_PAUSE_S,
    MAX_SLOWDOWN,
    RECOVERY_PER_S,
    SLOWDOWN_PER_REFUSAL,
)


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(path: Path, clock: FakeClock, **limits) -> QuotaLimiter:
    return QuotaLimiter(path, clock=clock, sleep=clock.sleep, **limits)


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_right(times, t + window - 1e-9) - i for i, t in enumerate(times))


def test_no_second_holds_more_than_the_limit_and_the_rate_stays_high(tmp_path: Path):
    clock = FakeClock()
    quota = limiter(tmp_path, clock, per_second=100)
    sends = []
    for _ in range(10 * quota.burst):
        quota.acquire()
        sends.append(clock.now)
    assert most_in_any_window(sends, 1.0) <= quota.burst == 98
    rate = (len(sends) - 1) / (sends[-1] - sends[0])
    assert 0.93 * 100 <= rate < 100
    # Evenly spaced, not in bursts: at most a few sends back to back (the catch-up slack).
    assert most_in_any_window(sends, quota.spacing / 2) <= 4


def test_two_limiters_on_one_folder_share_the_quota(tmp_path: Path):
    """Two instances stand for two processes: separate objects, one state file."""
    clock = FakeClock()
    first = limiter(tmp_path, clock, per_second=20)
    second = limiter(tmp_path, clock, per_second=20)
    sends = []
    for i in range(15 * first.burst):
        (first if i % 3 else second).acquire()
        sends.append(clock.now)
    assert most_in_any_window(sends, 1.0) <= 20
    assert (len(sends) - 1) / (sends[-1] - sends[0]) >= 0.9 * 20


def test_the_hourly_budget_holds_for_a_whole_hour(tmp_path: Path):
    clock = FakeClock()
    quota = limiter(tmp_path, clock, per_second=100, per_hour=50)
    sends = []
    for _ in range(120):
        quota.acquire()
        sends.append(clock.now)
    assert most_in_any_window(sends, 3600.0) == 50
    assert sends[50] - sends[0] >= 3600


def test_the_hourly_budget_survives_a_restart(tmp_path: Path):
    clock = FakeClock()
    for _ in range(30):
        limiter(tmp_path, clock, per_hour=40).acquire()
    clock.now += 600
    restarted = limiter(tmp_path, clock, per_hour=40)
    for _ in range(10):
        assert restarted.acquire() < 1
    assert restarted.acquire() > 2000  # the 41st waits until the first ones leave the hour


def test_a_limiter_that_leaves_part_of_the_hour_stops_short_of_it_for_itself_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A backfill's limiter and a current week's, two processes on one state file."""
    clock = FakeClock()
    backfill = limiter(tmp_path / "shared", clock, per_hour=40, leave_per_hour=10)
    current = limiter(tmp_path / "shared", clock, per_hour=40)
    for _ in range(30):
        assert backfill.acquire() < 1
    for _ in range(10):
        assert current.acquire() < 1, "the hour's last sends are left to the current week's load"
    assert current.acquire() > 3000  # then the hour is spent for everyone

    alone = limiter(tmp_path / "alone", clock, per_hour=40, leave_per_hour=10)
    for _ in range(30):
        assert alone.acquire() < 1
    assert alone.acquire() > 3000, "the backfill waits for the hour with 10 sends of it unused"
    assert "10 sends of each hour are left to other loads" in caplog.text


def test_a_limiter_cannot_leave_the_whole_hour(tmp_path: Path):
    with pytest.raises(ValueError, match="leave_per_hour"):
        limiter(tmp_path, FakeClock(), per_hour=40, leave_per_hour=40)


def test_a_refusal_holds_every_sharer_off(tmp_path: Path):
    clock = FakeClock()
    first = limiter(tmp_path, clock)
    second = limiter(tmp_path, clock)
    first.acquire()
    first.refused(5.0)
    assert second.acquire() == pytest.approx(5.0)


def test_a_refusal_longer_than_the_clock_jump_horizon_holds_every_sharer_off_for_the_cap(
    tmp_path: Path,
):
    clock = FakeClock()
    first = limiter(tmp_path, clock)
    second = limiter(tmp_path, clock)
    first.refused(FUTURE_HORIZON_S + 3600.0)
    assert second.acquire() == pytest.approx(MAX_PAUSE_S)


def steady_gap(quota: QuotaLimiter, clock: FakeClock, sends: int = 60) -> float:
    """The median time between sends once the first few (catching up after a wait) are past."""
    times = []
    for _ in range(sends):
        quota.acquire()
        times.append(clock.now)
    return statistics.median(b - a for a, b in itertools.pairwise(times[10:]))


def test_a_refusal_slows_every_sharer_then_the_pace_recovers(tmp_path: Path):
    clock = FakeClock()
    first = limiter(tmp_path, clock, per_second=100)
    second = limiter(tmp_path, clock, per_second=100)
    assert steady_gap(first, clock) == pytest.approx(first.spacing)
    first.refused(1.0)
    clock.now += 1.0
    assert steady_gap(second, clock) == pytest.approx(
        first.spacing * SLOWDOWN_PER_REFUSAL, rel=0.01
    )
    # The stretch shrinks while the server accepts: back to full pace soon after one refusal.
    clock.now += (SLOWDOWN_PER_REFUSAL - 1) / RECOVERY_PER_S
    assert steady_gap(second, clock) == pytest.approx(first.spacing)


def test_refusals_in_a_row_slow_the_pace_down_to_a_floor(tmp_path: Path):
    clock = FakeClock()
    quota = limiter(tmp_path, clock, per_second=100)
    for _ in range(10):
        quota.refused(0.0)
    assert steady_gap(quota, clock) == pytest.approx(quota.spacing * MAX_SLOWDOWN, rel=0.01)


def test_a_state_file_written_before_slowdowns_existed_still_reads(tmp_path: Path):
    clock = FakeClock()
    (tmp_path / "blizzard-quota.json").write_text(
        json.dumps({"sends": [clock.now - 0.5], "minutes": {}, "paused_until": clock.now + 3,
                    "paced_until": 0.0})
    )  # fmt: skip
    assert limiter(tmp_path, clock).acquire() == pytest.approx(3.0)


def test_an_unreadable_state_file_starts_afresh(tmp_path: Path):
    clock = FakeClock()
    (tmp_path / "blizzard-quota.json").write_text("{not json")
    assert limiter(tmp_path, clock).acquire() == 0
    assert limiter(tmp_path, clock).acquire() == 0


def test_sends_from_a_clock_that_jumped_back_are_forgotten(tmp_path: Path):
    clock = FakeClock()
    quota = limiter(tmp_path, clock, per_second=2)
    quota.acquire()
    quota.acquire()
    clock.now -= 24 * 3600
    assert quota.acquire() < 1
