"""A pinned clock for tests that run a real simulator and daemon.

No test may depend on the day or the hour it runs: a boundary a few seconds away does not end a
trading day on a weekend, a session "open all day" closes for a second at midnight, and the 17:00
Chicago reset can fall in the middle of a run. So the end-to-end tests run on a clock that
starts at :data:`PINNED_START` — a Wednesday mid-morning in Chicago, far from the daily boundary,
a weekend, a holiday or a DST change — and advances at real speed from there (timeouts stay
real).

In-process, the simulator and the daemon share one :func:`pinned_wall`. A daemon started as a
subprocess gets the same wall through ``SIMPLE_RISK_WALL_START`` (:func:`pinned_env`), which
``engine run`` honours only for a gateway on this machine. (libfaketime is no substitute here:
on this Python and glibc it breaks timed waits — ``Event.wait(0.5)`` never returns. To check
that nothing else reads the real date, ``pytest --wall INSTANT`` moves this process's wall
clock and leaves timed waits alone: see ``tests/conftest.py``.)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simple_risk.adapters.topstepx.clock import started_at
from simple_risk.daemon.wallclock import WALL_START_ENV

#: Wednesday 13 January 2027, 10:00 in Chicago.
PINNED_START = datetime(2027, 1, 13, 10, 0, tzinfo=ZoneInfo("America/Chicago"))

Wall = Callable[[], datetime]


def pinned_wall(start: datetime = PINNED_START) -> Wall:
    """A wall clock that reads ``start`` now and then advances with the real clock."""
    return started_at(start)


class SteppedWall:
    """A pinned wall clock that a test also moves on in large steps: a week of trading days
    in seconds (the daily boundary, Friday's close, the weekend, Sunday's open). Between
    steps it advances at real speed, so a boundary a second ahead is crossed as in a real
    run. It never goes back: a step to an earlier moment is refused."""

    def __init__(self, start: datetime = PINNED_START) -> None:
        self._wall = pinned_wall(start)
        self._ahead = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._wall() + self._ahead

    def step_to(self, moment: datetime) -> None:
        """Read ``moment`` now (and advance from there)."""
        with self._lock:
            now = self._wall() + self._ahead
            if moment < now:
                raise ValueError(f"the wall never goes back: {moment} is before {now}")
            self._ahead += moment - now


def pinned_env(wall: Wall, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a daemon subprocess whose wall reads ``wall()``.

    Each call starts the child at the wall's current reading, so a daemon restarted later in a
    test continues the same pinned day instead of going back to its start.
    """
    result = dict(os.environ if env is None else env)
    result[WALL_START_ENV] = wall().isoformat()
    return result


__all__ = ["PINNED_START", "SteppedWall", "Wall", "pinned_env", "pinned_wall"]
