"""Which firings a restart's journal replay may record: only those the daemon missed.

The journal keeps the fact events, not quotes or clock ticks, so replaying it after the last
snapshot does not always re-derive a firing at the instant it first happened. A ``for:`` rule
(``no-stop-loss-grace``) fired by a tick between two journaled events fires on replay at the
*next* journaled event instead; a rule reading prices may fire where the live run, having
seen quotes the journal lacks, did not. Recorded, such a firing is a second record of one
that already fired — stamped earlier than firings recorded after it (out of order) — and
working its intents re-enforces what was already enforced.

A firing the daemon really missed (it died after journaling the event, before the store
writer recorded the firing) is different: the writer records in engine order, so nothing
later than it is in the store. :class:`ReplayGuard` keeps the firings the store holds from
where the replay starts and tells the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from simple_risk.engine import Firing
from simple_risk.store.records import Firing as Recorded


@dataclass(slots=True)
class ReplayGuard:
    """The store's firings of one account from the replay's start, and the engine time
    before the event being replayed (:attr:`since`, None before the first one)."""

    held: Sequence[Recorded]
    since: datetime | None = None
    #: the newest stamp the store holds (None: it holds nothing from the replay's start)
    latest: datetime | None = field(init=False)

    def __post_init__(self) -> None:
        self.latest = max((firing.at for firing in self.held), default=None)

    def already(self, firing: Firing) -> str | None:
        """Why a firing derived by replay is not one the daemon missed. None: it is missed,
        or the store holds it at exactly its stamp (the store's own check finds that one)."""
        item = firing.item or ""
        same = [
            held.at
            for held in self.held
            if held.rule == firing.rule_id and (held.item or "") == item
        ]
        if firing.at in same:
            return None
        if self.latest is not None and firing.at < self.latest:
            return f"the store holds a later firing ({self.latest.isoformat()})"
        since = self.since
        for at in same:
            if since is not None and since < at < firing.at:
                return f"it fired at {at.isoformat()}, between two journaled events"
        return None


__all__ = ["ReplayGuard"]
