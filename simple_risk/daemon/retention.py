"""The store's long life: the journal and the own-order records pruned to ``retention_days``.

Every event that changed an account's facts is journaled, and a busy account writes a few
thousand rows a trading day: a daemon left running for a year would grow its store without
bound. Once each trading day of an account (and once after a start) the engine thread asks
for the account's prune, and the store writer thread — the one that saves the snapshots,
so none is saved in the middle of a check — does it in batches, each its own transaction,
each queued behind the journal writes that came meanwhile (the hot path never waits for it).

What a restart needs is never pruned: an entry goes only when it is older than the
retention (the start of the oldest trading day kept) *and* the account's newest snapshot —
checked to restore with this simple-risk and this ruleset, as a start would restore it —
covers it; the store refuses a batch when a newer snapshot was saved since the check. The
newest entry stays (the journal's numbering goes on after it), and so does the record of
an order the daemon placed that still works, or whose id it does not know yet: a rebuild
from the journal alone still knows it as the daemon's. Firings, lockouts, intents and the
admin's audit are not pruned. ``engine history`` says where an account's kept journal begins
(:meth:`Store.journal_kept_since <simple_risk.store.store.Store.journal_kept_since>`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from simple_risk.daemon.context import Shared
from simple_risk.daemon.journal import StoreWriter
from simple_risk.engine import Engine
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.model import Ruleset
from simple_risk.store import LeaseLost, Snapshot, Store, StoreError

log = logging.getLogger(__name__)

#: journal entries deleted per transaction: short enough that the writer's other work (the
#: journal, firings, snapshots) never waits long behind one
BATCH = 2000


def retained_from(calendar: TradingCalendar, today: date, days: int) -> datetime:
    """The start of the oldest of the ``days`` trading days kept, today the newest of them
    (weekends and the calendar's holidays are not trading days)."""
    day, counted = today, 1
    while counted < days:
        day -= timedelta(days=1)
        if calendar.is_trading_day(day):
            counted += 1
    return calendar.trading_day_start(day)


def unrestorable(ruleset: Ruleset, snapshot: Snapshot, account: int) -> str | None:
    """Why a start could not restore ``snapshot`` (None: it can), tried as
    :meth:`Persistence.restore <simple_risk.daemon.persistence.Persistence.restore>` does."""
    state = snapshot.state.get("engine")
    if not isinstance(state, dict):
        return "it holds no engine state"
    try:
        Engine.restore(ruleset, state, accounts=[account])
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


def own_tags_in_use(engine: Engine, account: int) -> frozenset[str]:
    """The tags of the daemon's orders whose record must stay: still working, or placed and
    not yet given an id (engine thread)."""
    state = engine.account(account)
    if state is None:
        return frozenset()
    return frozenset(
        tag
        for tag, order_id in state.own_tags.items()
        if order_id is None or order_id in state.orders
    )


class Retention:
    """Asks for each account's prune once a trading day (engine thread) and prunes in batches
    on the store writer thread."""

    def __init__(
        self,
        shared: Shared,
        writer: Callable[[], StoreWriter | None],
        lease_owner: Callable[[], str | None],
        *,
        batch: int = BATCH,
    ) -> None:
        self._shared = shared
        self._writer = writer
        self._lease_owner = lease_owner
        self.batch = batch
        #: the trading day each account's prune was last asked for (engine thread)
        self._asked: dict[int, date] = {}
        #: the snapshot id each account's last check found restorable (writer thread)
        self._checked: dict[int, int] = {}
        #: journal entries pruned per account by this run (writer thread; for tests, status)
        self.pruned: dict[int, int] = {}

    @property
    def days(self) -> int | None:
        return self._shared.config.retention_days

    def due(self, now: datetime) -> None:
        """Engine thread: queue the prune of every account whose trading day changed since
        its last one (every account, the first time)."""
        days = self.days
        writer = self._writer()
        if days is None or writer is None:
            return
        for account, engine in list(self._shared.engines.items()):
            today = engine.calendar.trading_day(now)
            if self._asked.get(account) == today:
                continue
            self._asked[account] = today
            before = retained_from(engine.calendar, today, days)
            keep = own_tags_in_use(engine, account)
            writer.call(self._job(account, before, keep, 0), key=f"retention:{account}")

    def _job(
        self, account: int, before: datetime, keep: frozenset[str], gone: int
    ) -> Callable[[Store], None]:
        return lambda store: self.prune(store, account, before, keep, gone)

    def prune(
        self, store: Store, account: int, before: datetime, keep: frozenset[str], gone: int = 0
    ) -> None:
        """One batch of ``account``'s prune (writer thread); the next is queued behind what
        was queued meanwhile. A store that refuses or is out of reach ends the prune until
        the next trading day (it must never hold the journal writes behind it)."""
        days = self.days
        try:
            snapshot = store.latest_snapshot(account)
            if snapshot is None or snapshot.id is None or snapshot.journal_seq is None:
                self._done(account, before, gone, "no snapshot covers the journal yet")
                return
            if self._checked.get(account) != snapshot.id:
                ruleset = self._shared.rulesets.get(account)
                why = (
                    "the account has no ruleset"
                    if ruleset is None
                    else unrestorable(ruleset, snapshot, account)
                )
                if why is not None:
                    log.warning(
                        "account %s: the journal is not pruned: its newest snapshot cannot be "
                        "restored (%s), so a restart would rebuild from the whole journal",
                        account,
                        why,
                    )
                    return
                self._checked[account] = snapshot.id
            batch, more = store.prune_journal(
                account,
                before=before,
                snapshot_id=snapshot.id,
                keep_tags=keep,
                limit=self.batch,
                lease_owner=self._lease_owner(),
                now=self._shared.clock.now(),
            )
        except LeaseLost as exc:
            log.info("account %s: the journal is not pruned here: %s", account, exc)
            return
        except StoreError as exc:
            # never raised to the writer: an outage or a refusal (a PostgreSQL role without
            # DELETE on journal) would hold every journal write behind it
            self._shared.alerter.alert(
                "warning",
                f"account {account}: pruning the journal failed after {gone} row(s) ({exc}); "
                "it is tried again next trading day, and the store grows meanwhile",
                self._shared.clock.now(),
                account,
            )
            return
        gone += batch
        self.pruned[account] = self.pruned.get(account, 0) + batch
        writer = self._writer()
        if more and writer is not None:
            writer.call(self._job(account, before, keep, gone), key=f"retention:{account}")
            return
        self._done(account, before, gone, f"retention {days} trading days")

    def _done(self, account: int, before: datetime, gone: int, why: str) -> None:
        log.info(
            "account %s: %d journal row(s) from before %s pruned (%s)",
            account,
            gone,
            before.isoformat(timespec="seconds"),
            why,
        )


__all__ = ["BATCH", "Retention", "own_tags_in_use", "retained_from", "unrestorable"]
