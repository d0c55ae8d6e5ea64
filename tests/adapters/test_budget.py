"""The daemon's REST budget: enforcement has reserved slots, and a restart keeps counting.

The gateway allows 200 calls per 60 s and does not forget the calls of a daemon that was just
killed; the limiter must stay under that on its own, whatever restarts in between.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx import ratelimit
from simple_risk.adapters.topstepx.errors import RateLimitTimeout
from simple_risk.adapters.topstepx.ratelimit import (
    DEFAULT_BUCKET,
    Budget,
    Priority,
    RateLimiter,
    busiest_window,
    read_ledger,
)


class Clocks:
    """A monotonic and a wall clock that move together, only when told."""

    def __init__(self, wall: float = 1_000_000.0) -> None:
        self.wall = wall
        self.mono = 50.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def limiter(self, budget: int, **kwargs: object) -> RateLimiter:
        return RateLimiter(
            {DEFAULT_BUCKET: Budget(budget, 60.0)},
            margin=0.0,
            monotonic=lambda: self.mono,
            wall=lambda: self.wall,
            **kwargs,  # type: ignore[arg-type]
        )


def _granted(limiter: RateLimiter, priority: Priority) -> bool:
    try:
        limiter.acquire(priority=priority, timeout=0.0)
    except RateLimitTimeout:
        return False
    return True


def test_the_last_slots_of_the_window_are_only_for_enforcement() -> None:
    clocks = Clocks()
    limiter = clocks.limiter(10, reserve=3)
    assert [_granted(limiter, Priority.RECONCILIATION) for _ in range(8)] == [True] * 7 + [False]
    assert not _granted(limiter, Priority.STOP_MANAGEMENT)
    assert [_granted(limiter, Priority.ENFORCEMENT) for _ in range(4)] == [True] * 3 + [False]
    clocks.advance(60.0)
    assert _granted(limiter, Priority.RECONCILIATION)


def test_the_reserve_never_takes_more_than_half_the_budget() -> None:
    assert Clocks().limiter(10, reserve=50).reserve == 5


def test_a_restarted_limiter_counts_the_calls_its_previous_life_made(tmp_path: Path) -> None:
    ledger = tmp_path / "rest-calls.log"
    clocks = Clocks()
    first = clocks.limiter(10, ledger=ledger)
    for _ in range(6):
        assert _granted(first, Priority.RECONCILIATION)
        clocks.advance(1.0)
    # killed: nothing closed, nothing flushed beyond what each grant wrote
    clocks.advance(20.0)
    second = clocks.limiter(10, ledger=ledger)
    assert second.inherited == 6
    assert second.in_window() == 6
    assert [_granted(second, Priority.ENFORCEMENT) for _ in range(5)] == [True] * 4 + [False]
    # the first life's calls leave the window one by one, on the gateway's schedule
    clocks.advance(60.0 - 26.0 + 0.5)
    assert _granted(second, Priority.ENFORCEMENT)
    second.close()


def test_a_ledger_line_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    ledger = tmp_path / "rest-calls.log"
    ledger.write_text("default 1000.000\ndefault 1001.000\ndefau", encoding="ascii")
    assert read_ledger(ledger) == [("default", 1000.0), ("default", 1001.0)]
    limiter = Clocks(wall=1010.0).limiter(10, ledger=ledger)
    assert limiter.inherited == 2


def test_without_a_ledger_a_new_limiter_assumes_the_window_partly_used(tmp_path: Path) -> None:
    clocks = Clocks()
    limiter = clocks.limiter(10, ledger=tmp_path / "absent.log", assume_used=7)
    assert limiter.in_window() == 7
    assert [_granted(limiter, Priority.ENFORCEMENT) for _ in range(4)] == [True] * 3 + [False]


def test_the_busiest_window_counts_a_sliding_window() -> None:
    assert busiest_window([], 60.0) == 0
    assert busiest_window([0.0, 59.9, 60.0, 119.0], 60.0) == 3  # 59.9 .. 119.0
    assert busiest_window([0.0, 30.0, 60.0, 90.0], 60.0) == 2
    assert busiest_window([5.0, 1.0, 3.0], 2.0) == 1


@given(st.lists(st.floats(0, 500, allow_nan=False), max_size=60), st.floats(0.5, 100))
def test_the_busiest_window_is_the_most_calls_any_window_holds(
    times: list[float], window: float
) -> None:
    brute = max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)
    assert busiest_window(times, window) == brute


@given(
    lives=st.lists(
        st.tuples(
            st.floats(0.0, 90.0),  # how long after the previous kill the daemon starts
            st.lists(st.floats(0.0, 5.0), min_size=1, max_size=40),  # gaps between attempts
        ),
        min_size=1,
        max_size=5,
    )
)
def test_calls_over_any_number_of_restarts_stay_within_the_budget(
    tmp_path_factory: pytest.TempPathFactory,
    lives: list[tuple[float, list[float]]],
) -> None:
    ledger = tmp_path_factory.mktemp("ledger") / "rest-calls.log"
    clocks = Clocks()
    sent: list[float] = []
    for pause, gaps in lives:
        clocks.advance(pause)
        limiter = clocks.limiter(12, ledger=ledger, reserve=3)
        for n, gap in enumerate(gaps):
            clocks.advance(gap)
            priority = Priority.ENFORCEMENT if n % 3 == 0 else Priority.RECONCILIATION
            if _granted(limiter, priority):
                sent.append(clocks.wall)
        limiter.close()  # the file handle only: a kill -9 writes nothing more either
    assert busiest_window(sent, 60.0) <= 12


def test_the_ledger_of_a_daemon_that_never_restarts_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "_LEDGER_COMPACT_AT", 100)
    ledger = tmp_path / "rest-calls.log"
    clocks = Clocks()
    running = clocks.limiter(30, ledger=ledger)
    for _ in range(1000):  # weeks of calls, shrunk: one every 2.9 s
        assert _granted(running, Priority.RECONCILIATION)
        clocks.advance(2.9)
    assert len(read_ledger(ledger)) <= 100 + 30
    # killed: the next life still counts what the window holds
    restarted = clocks.limiter(30, ledger=ledger)
    assert restarted.inherited == running.in_window() == 20
    restarted.close()


def test_a_ledger_that_could_not_be_written_for_a_while_is_kept_again_once_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk refuses the ledger's appends for a while. The daemon runs on, and once the
    disk has room again the ledger must hold the window's grants again — those made while it
    was full included — or a restart after the outage would count too few and the gateway
    would refuse its first calls (429)."""
    ledger = tmp_path / "rest-calls.log"
    clocks = Clocks()
    running = clocks.limiter(30, ledger=ledger)
    for _ in range(3):
        assert _granted(running, Priority.RECONCILIATION)
    full = True
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if full and fd == running._ledger_fd:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    for _ in range(4):
        assert _granted(running, Priority.RECONCILIATION)
        clocks.advance(1.0)
    assert len(read_ledger(ledger)) == 3
    full = False
    clocks.advance(10.0)
    for _ in range(2):
        assert _granted(running, Priority.RECONCILIATION)
    # killed now: the next life counts every grant of the window, the disk-full ones too
    assert running.in_window() == 9
    assert clocks.limiter(30, ledger=ledger).inherited == 9
