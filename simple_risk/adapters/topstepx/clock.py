"""The receive clock: engine time for every event the adapters produce.

The engine never reads a clock (architecture.md §3): its time is the instant the adapter received a
message, stamped here. Wall clocks can step backwards (NTP slews, VM pauses), and an engine that
saw time run backwards would re-open expired windows, so the stamp is clamped to never be
earlier than the previous one. The wall source is injectable so tests can drive it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def started_at(start: datetime) -> Callable[[], datetime]:
    """A wall clock that reads ``start`` now and then advances with the system clock.

    Runs against the simulator use it to pin the day and hour (a weekday morning, far from the
    daily boundary) while every timeout and timer keeps running at real speed.
    """
    if start.tzinfo is None:
        raise ValueError("the start of a wall clock must be timezone-aware")
    offset = start.astimezone(UTC) - datetime.now(UTC)

    def wall() -> datetime:
        return datetime.now(UTC) + offset

    return wall


class ReceiveClock:
    """Monotonic, timezone-aware UTC receive stamps, safe to call from any thread."""

    def __init__(self, wall: Callable[[], datetime] = _utc_now) -> None:
        self._wall = wall
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current engine time: the wall time, or the previous stamp if the wall went back."""
        stamp = self._wall()
        if stamp.tzinfo is None:
            raise ValueError("the wall clock must return timezone-aware datetimes")
        stamp = stamp.astimezone(UTC)
        with self._lock:
            if self._last is not None and stamp < self._last:
                stamp = self._last
            self._last = stamp
            return stamp

    def __repr__(self) -> str:
        return f"ReceiveClock(last={self._last!r})"


__all__ = ["ReceiveClock", "started_at"]
