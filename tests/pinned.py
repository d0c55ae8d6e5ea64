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
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from simple_risk.adapters.topstepx.clock import started_at
from simple_risk.daemon.wallclock import WALL_START_ENV

#: Wednesday 13 January 2027, 10:00 in Chicago.
PINNED_START = datetime(2027, 1, 13, 10, 0, tzinfo=ZoneInfo("America/Chicago"))

Wall = Callable[[], datetime]


def pinned_wall(start: datetime = PINNED_START) -> Wall:
    """A wall clock that reads ``start`` now and then advances with the real clock."""
    return started_at(start)


def pinned_env(wall: Wall, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a daemon subprocess whose wall reads ``wall()``.

    Each call starts the child at the wall's current reading, so a daemon restarted later in a
    test continues the same pinned day instead of going back to its start.
    """
    result = dict(os.environ if env is None else env)
    result[WALL_START_ENV] = wall().isoformat()
    return result


__all__ = ["PINNED_START", "Wall", "pinned_env", "pinned_wall"]
