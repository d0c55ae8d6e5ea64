"""Applying one event to one account's engine, and everything that follows from it at once:
journal the event, record the firings, start their intents (act first), tell them, snapshot
when the lock set changed and confirm the intents whose target is met. Engine thread only
(and restore, before it runs): the engine loop, the reconciler and the admin changes all
apply events through here, so every path to the engine does the same bookkeeping.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from simple_risk.daemon.announce import Announcer
from simple_risk.daemon.context import Shared
from simple_risk.daemon.enforcement import Enforcer
from simple_risk.daemon.intake import Intake
from simple_risk.daemon.persistence import Persistence
from simple_risk.engine.events import (
    AccountUpdate,
    ContractLoaded,
    Event,
    OrderUpdate,
    OwnOrder,
    PositionUpdate,
    Quote,
    TradeFill,
)

log = logging.getLogger(__name__)

FACT_EVENTS = (AccountUpdate, OrderUpdate, PositionUpdate, TradeFill)
#: what the journal keeps: the facts, and which orders the daemon placed
JOURNALED = (*FACT_EVENTS, OwnOrder)


class Applier:
    """Applies events to engines in strictly increasing engine time."""

    def __init__(
        self,
        shared: Shared,
        persistence: Persistence,
        enforcer: Enforcer,
        announcer: Announcer,
        intake: Intake,
    ) -> None:
        self._shared = shared
        self._persistence = persistence
        self._enforcer = enforcer
        self._announcer = announcer
        self._intake = intake
        self._journal = shared.options.journal
        #: engine time of the newest event applied
        self.last_at: datetime | None = None
        self.events_applied = 0

    def monotonic(self, event: Event) -> Event:
        """The event with engine time strictly later than the last applied one.

        Events can reach the queue out of stamp order (a coalesced quote keeps its slot), and
        two firings of one rule and item at the same instant would look like one replayed
        firing to the store, so a late or equal stamp moves to 1 µs after the last one.
        """
        if self.last_at is not None and event.at <= self.last_at:
            event = dataclasses.replace(event, at=self.last_at + timedelta(microseconds=1))
        self.last_at = event.at
        return event

    def replay(self, account: int, event: Event) -> None:
        """Restore: a journaled event again, with its journaled stamp."""
        self.apply(account, event, journal=False, replay=True)
        if self.last_at is None or event.at > self.last_at:
            self.last_at = event.at

    def fact(self, account: int, event: Event) -> None:
        """A fact event (already :meth:`monotonic`) from the hubs, a reconcile or the executor:
        its contract watched, the latest quote the account skipped handed over (a position a
        reconcile found is marked at today's price, not at the one the engine saw when it last
        held the contract), the daemon's own orders claimed, then applied and journaled."""
        self._intake.watch_contract(event)
        self.catch_up_quote(account, event)
        if isinstance(event, OrderUpdate):
            self.claim_own(account, event)
        self.apply(account, event, journal=True)

    def catch_up_quote(self, account: int, event: Event) -> None:
        """Before an account's first order or position in a contract, its engine gets the
        latest quote of it that it skipped, so unrealized P&L is known at once."""
        quote = self._intake.skipped_quote(account, event)
        if quote is not None:
            self.apply(account, self.monotonic(quote), journal=False)

    def claim_own(self, account: int, update: OrderUpdate) -> None:
        """An order carrying this installation's tag is one the daemon placed, even when the
        record of placing it was lost (a crash before the executor's answer was journaled):
        recorded (and journaled) as the daemon's before the update applies. Any other tag,
        whatever its prefix, claims nothing."""
        state = self._shared.engines[account].account(account)
        if state is None or update.order_id in state.own_ids:
            return
        tag = update.custom_tag
        if tag is None or not self._shared.own_tags.verify(account, tag):
            return
        own = OwnOrder(
            at=update.at,
            account_id=account,
            custom_tag=tag,
            order_id=update.order_id,
            size=update.size,  # as first seen: the record of the size placed is lost too
        )
        self.apply(account, own, journal=True)

    def apply(self, account: int, event: Event, *, journal: bool, replay: bool = False) -> None:
        """Apply one event to the account's engine; record and work its firings (on a journal
        ``replay``, only those the store does not hold already: see
        :meth:`Persistence.record`)."""
        shared = self._shared
        persistence = self._persistence
        engine = shared.engines[account]
        if journal and self._journal and isinstance(event, JOURNALED):
            persistence.journal(account, event)
        try:
            firings = engine.apply(event)
        except Exception as exc:  # fail safe: report, keep running
            log.exception("engine failed on %s", type(event).__name__)
            shared.alerter.alert(
                "critical", f"engine error on {type(event).__name__}: {exc}", event.at, account
            )
            return
        self.events_applied += 1
        shared.deadlines[account] = engine.next_deadline()
        if isinstance(event, (*FACT_EVENTS, ContractLoaded)):
            persistence.dirty.add(account)
        if firings:
            # queued for the writer first (a firing's record opens the intents whose states
            # the executor's bookkeeping then writes), but nothing here waits for the store
            firings = [firing for firing in firings if persistence.record(firing, replay=replay)]
        if not replay:
            for firing in firings:
                self._announcer.note_firing(firing)  # shown no later than it acts
        self._enforcer.work_firings(firings)  # act first: the rest is bookkeeping
        if not replay:
            for firing in firings:
                self._announcer.tell_firing(firing, noted=True)
        if firings and persistence.locks_changed(account):
            # A lockout set by a clock tick is not in the journal (ticks are not journaled):
            # it survives a restart in this snapshot (or, lost in a crash before the writer
            # saved it, is derived again by the restart's ticks). Other firings are
            # reproduced by replaying the journaled event after the last snapshot.
            persistence.snapshot(account)
        if firings:
            persistence.dirty.add(account)
            shared.status_due = True
        if not isinstance(event, Quote) or firings:
            self._enforcer.confirm(account)


__all__ = ["FACT_EVENTS", "JOURNALED", "Applier"]
