"""Rolling windows over fill times: exact counts for any ``within`` (``trades.count``).

The ledger appends one entry per non-voided fill (engine time of its first sighting, fill
id). Engine time is monotonic, so appends keep the list sorted and a count is two bisections;
a voided fill is removed and an un-voided one re-inserted at its place. Entries older than
``retention`` are dropped as the window moves, so memory stays bounded.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta

#: Longest ``within`` answered exactly; older fills are forgotten.
DEFAULT_RETENTION = timedelta(days=8)


class FillWindow:
    """Sorted (time, fill id) entries with a moving head.

    The entries' times are also kept alone, index for index (``_times``): a count bisects
    them, comparing datetimes rather than tuples (rules count on every fill and order).
    """

    __slots__ = ("_entries", "_head", "_times", "retention")

    def __init__(self, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._entries: list[tuple[datetime, int]] = []
        self._times: list[datetime] = []
        self._head = 0
        self.retention = retention

    def add(self, at: datetime, fill_id: int) -> None:
        entry = (at, fill_id)
        entries = self._entries
        if not entries or entries[-1] <= entry:
            entries.append(entry)
            self._times.append(at)
        else:
            index = bisect_right(entries, entry, lo=self._head)
            entries.insert(index, entry)
            self._times.insert(index, at)

    def remove(self, at: datetime, fill_id: int) -> None:
        entry = (at, fill_id)
        index = bisect_left(self._entries, entry, lo=self._head)
        if index < len(self._entries) and self._entries[index] == entry:
            del self._entries[index]
            del self._times[index]

    def count(self, now: datetime, within: timedelta) -> int:
        """Entries with ``now - within <= time <= now``."""
        times = self._times
        lo = bisect_left(times, now - within, lo=self._head)
        if times and times[-1] <= now:  # as always while engine time moves forward
            return len(times) - lo
        return bisect_right(times, now, lo=lo) - lo

    def prune(self, now: datetime) -> None:
        entries = self._entries
        head = self._head
        horizon = now - self.retention
        if head >= len(entries) or entries[head][0] >= horizon:
            return  # the oldest entry kept is still inside: nothing to drop (most fills)
        head = bisect_left(entries, (horizon, -(2**63)), lo=head)
        if head > 256 and head * 2 > len(entries):
            del entries[:head]
            del self._times[:head]
            head = 0
        self._head = head

    def entries(self) -> list[tuple[datetime, int]]:
        return self._entries[self._head :]

    def load(self, entries: list[tuple[datetime, int]]) -> None:
        self._entries = sorted(entries)
        self._times = [at for at, _fill_id in self._entries]
        self._head = 0


__all__ = ["DEFAULT_RETENTION", "FillWindow"]
