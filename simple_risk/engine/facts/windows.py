"""Rolling windows over fill times: exact counts for any ``within`` (``trades.count``).

The ledger appends one entry per non-voided fill (engine time of its first sighting, fill
id). Engine time is monotonic, so appends keep the list sorted and a count is two bisections;
a voided fill is removed and an un-voided one re-inserted at its place. Entries older than
``retention`` are dropped as the window moves, so memory stays bounded.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import datetime, timedelta

#: Longest ``within`` answered exactly; older fills are forgotten.
DEFAULT_RETENTION = timedelta(days=8)


class FillWindow:
    """Sorted (time, fill id) entries with a moving head."""

    __slots__ = ("_entries", "_head", "retention")

    def __init__(self, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._entries: list[tuple[datetime, int]] = []
        self._head = 0
        self.retention = retention

    def add(self, at: datetime, fill_id: int) -> None:
        entry = (at, fill_id)
        if not self._entries or self._entries[-1] <= entry:
            self._entries.append(entry)
        else:
            insort(self._entries, entry, lo=self._head)

    def remove(self, at: datetime, fill_id: int) -> None:
        entry = (at, fill_id)
        index = bisect_left(self._entries, entry, lo=self._head)
        if index < len(self._entries) and self._entries[index] == entry:
            del self._entries[index]

    def count(self, now: datetime, within: timedelta) -> int:
        """Entries with ``now - within <= time <= now``."""
        entries = self._entries
        lo = bisect_left(entries, (now - within, -(2**63)), lo=self._head)
        hi = bisect_left(entries, (now, 2**63), lo=lo)
        return hi - lo

    def prune(self, now: datetime) -> None:
        entries = self._entries
        head = self._head
        horizon = now - self.retention
        if head >= len(entries) or entries[head][0] >= horizon:
            return  # the oldest entry kept is still inside: nothing to drop (most fills)
        head = bisect_left(entries, (horizon, -(2**63)), lo=head)
        if head > 256 and head * 2 > len(entries):
            del entries[:head]
            head = 0
        self._head = head

    def entries(self) -> list[tuple[datetime, int]]:
        return self._entries[self._head :]

    def load(self, entries: list[tuple[datetime, int]]) -> None:
        self._entries = sorted(entries)
        self._head = 0


__all__ = ["DEFAULT_RETENTION", "FillWindow"]
