"""What the daemon keeps in the store: the journal, firing records, snapshots and intent
bookkeeping — all written in order by the :class:`~simple_risk.daemon.journal.StoreWriter`
thread, so the engine thread never waits on the store — and the restore that rebuilds each
account's engine from them at start (act first, journal in parallel: docs/daemon.md, Crash
safety).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simple_risk.daemon.announce import Alerter, Announcer
from simple_risk.daemon.context import Shared
from simple_risk.daemon.journal import StoreWriter
from simple_risk.daemon.messages import SnapshotFailed
from simple_risk.daemon.observe import would_words
from simple_risk.daemon.planning import plan
from simple_risk.daemon.replay import ReplayGuard
from simple_risk.daemon.retention import Retention
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.engine import Engine, Firing
from simple_risk.engine.events import Event, Quote
from simple_risk.engine.intents import Alert, Intent, intent_from_json, intent_to_json
from simple_risk.engine.lock_changes import KeptLock, lift_locks, restore_locks
from simple_risk.engine.lockouts import Lock
from simple_risk.store import LeaseLost, Lockout, Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


class Persistence:
    """The store side of the runtime; every method but the writer's own runs on the engine
    thread (or, at restore, before it starts)."""

    def __init__(self, shared: Shared, announcer: Announcer) -> None:
        self._shared = shared
        self._store = shared.store
        self._alerter: Alerter = shared.alerter
        self._announcer = announcer
        self.writer: StoreWriter | None = None
        #: the daemon's lease owner id (set once :class:`Ownership` exists): a snapshot is saved
        #: only while this daemon holds the account's lease
        self.lease_owner: str | None = None
        #: each account's journal position (what a snapshot taken now covers)
        self.last_seq: dict[int, int] = {}
        #: accounts whose engine changed since their last snapshot
        self.dirty: set[int] = set()
        self._snapshot_failing: set[int] = set()
        self._lock_marks: dict[int, tuple[tuple[str, str, str | None, str], ...]] = {}
        #: snapshots saved per account: every 20th of an account prunes its older ones (counted
        #: over all accounts, accounts saving in turn left all but one unpruned)
        self._snapshots: dict[int, int] = {}
        #: journaled events replayed at restore, per account (the cost of the last restart)
        self.replayed: dict[int, int] = {}
        #: while an account's journal is replayed: the firings the store holds from there
        self._guard: ReplayGuard | None = None
        #: prunes the journal to ``retention_days`` on the writer thread (:mod:`.retention`)
        self.retention = Retention(shared, lambda: self.writer, lambda: self.lease_owner)

    # -- the writer thread ----------------------------------------------------------------------

    def start_writer(self, supervisor: Supervisor) -> None:
        """Start the store writer as a supervised part (a failure of its loop is alerted and
        the loop restarted). A store outage is the writer's own business: it holds the writes
        and tells the alerter (docs/daemon.md, Crash safety)."""
        shared = self._shared
        writer = StoreWriter(
            self._store,
            self.last_seq,
            retry=shared.config.timing.retry_interval,
            on_trouble=lambda level, message: self._alerter.alert(
                level, message, shared.clock.now()
            ),
        )
        self.writer = writer
        writer.start(spawn=lambda name, loop: supervisor.spawn(name, loop))

    def stop_writer(self, timeout: float = 10.0) -> None:
        """Write what can be written within ``timeout``, then end the writer thread."""
        if self.writer is not None:
            self.writer.stop(timeout)

    def store_health(self) -> dict[str, Any]:
        """The store as the writer sees it: ``ok``, ``unavailable`` (writes held) or
        ``stuck`` (a call that does not return); see :meth:`StoreWriter.health`."""
        return self.writer.health() if self.writer is not None else {"state": "ok"}

    def journal(self, account: int, event: Event) -> None:
        assert self.writer is not None
        self.writer.journal(account, event)

    def store_call(self, operation: Callable[[Store], object]) -> None:
        """An intent bookkeeping write, in order on the writer thread (never blocks; called
        from the engine thread and the executor workers)."""
        if self.writer is not None:
            self.writer.call(operation)
            return
        try:
            operation(self._store)
        except StoreError as exc:
            log.debug("store call failed: %s", exc)

    def keep_alert(self, at: datetime, level: str, message: str, account: int | None) -> None:
        """Write one alert for ``engine history``, in order on the writer thread. An outage
        holds it like every write; any other failure is logged, never alerted: an alert
        about keeping an alert would be kept in turn, failing the same way, for ever."""

        def record(store: Store) -> None:
            try:
                store.record_alert(at=at, level=level, message=message, account=account)
            except StoreUnavailable:
                raise
            except Exception as exc:  # raised to the writer, it would be alerted (and kept)
                log.warning("an alert could not be kept for engine history: %s", exc)

        self.store_call(record)

    # -- restore --------------------------------------------------------------------------------

    def restore(
        self,
        account: int,
        *,
        replay: Callable[[int, Event], None],
        adopt: Callable[[str, Intent, int], bool],
    ) -> None:
        """The account's engine as the last run left it: its latest snapshot, then the journal
        after the snapshot's position replayed (``replay`` applies one event, recording and
        working only firings the store does not hold); the open intents are handed to
        ``adopt``.

        A replayed event's firings were recorded (and their intents stored) when it was first
        applied, so replay records and works only a firing the daemon missed (it died between
        the event's journal write and the firing's): not one the store holds, nor one the
        store holds under another stamp or behind a later firing (:mod:`.replay`: the journal
        has no quotes or ticks, so a replay may re-derive a firing late). A snapshot written while
        replaying (the lock set changed) records the position of the event just replayed, and
        one more snapshot after the replay covers the whole journal, so the next restart
        replays only what came after it.
        """
        shared = self._shared
        ruleset = shared.rulesets[account]
        snapshot = self._store.latest_snapshot(account)
        engine: Engine | None = None
        seq = 0
        priced: list[str] = []
        source = "rebuilt from the journal (no snapshot):"
        unreadable: str | None = None
        if snapshot is not None:
            taken = snapshot.at.isoformat(timespec="seconds")
            try:
                state = snapshot.state.get("engine")
                if not isinstance(state, dict):
                    raise ValueError("it holds no engine state")
                engine = Engine.restore(ruleset, state, accounts=[account])
                seq = snapshot.journal_seq or 0
                priced = _priced(state)
                source = f"restored from its snapshot of {taken} (journal position {seq});"
            except Exception as exc:
                # another version's snapshot format (or another ruleset's): every event since
                # the first is journaled, so the day is rebuilt from the whole journal, then
                # reconciled with the gateway; what a clock tick alone changed is in no
                # journal, but the lockouts it set are in the store's lockouts table
                source = "rebuilt from the journal (its snapshot could not be read):"
                unreadable = f"its snapshot of {taken} cannot be read by this simple-risk ({exc})"
                engine = None
        rebuilt = engine is None
        if engine is None:
            engine = Engine(ruleset, accounts=[account])
        shared.engines[account] = engine
        skipped: list[tuple[int, str]] = []
        # an entry this version cannot read (written by a newer one, or damaged) is left out,
        # never a reason not to start: a daemon that is down guards nothing, and the
        # reconcile that follows the start brings the gateway's positions, orders and fills
        replayed = self._store.events_since(
            account, seq, unreadable=lambda at_seq, why: skipped.append((at_seq, why))
        )
        if skipped:
            first_seq, why = skipped[0]
            self._alerter.alert(
                "warning",
                f"account {account}: {len(skipped)} journaled event(s) cannot be read by this "
                f"simple-risk (the first, {account}/{first_seq}: {why}); replayed without "
                "them, then reconciled with the gateway. A lockout such an event set is in "
                "the store's lockouts: check engine status",
                shared.clock.now(),
                account,
            )
        self.last_seq[account] = seq
        if replayed:
            start = engine.now or replayed[0].event.at
            self._guard = ReplayGuard(self._store.firings_since(account, start))
        try:
            for entry in replayed:
                # replayed as journaled: the account's journal is in engine-time order already,
                # and its stamps are what the store's firings were recorded with
                self.last_seq[account] = entry.seq  # what a snapshot taken now covers
                if self._guard is not None:
                    self._guard.since = engine.now
                replay(account, entry.event)
        finally:
            self._guard = None
        # the journal has no clock ticks, nor the admin's clears: the lockouts come back as
        # the store holds them
        restored = self._restore_stored_locks(account, engine) if rebuilt else None
        if unreadable is not None:
            kept = self._store.journal_kept_since(account).get(account)
            whole = (
                "the whole journal"
                if kept is None
                else f"the journal kept since {kept.isoformat(timespec='seconds')} (older "
                "entries were pruned: retention_days)"
            )
            self._alerter.alert(
                "warning",
                f"account {account}: {unreadable}; rebuilt from {whole} instead, "
                f"then reconciled with the gateway; {_restored_words(restored or ([], []))}",
                shared.clock.now(),
                account,
            )
        last = replayed[-1].seq if replayed else self._store.last_seq(account)
        if skipped:  # past them: the next restart does not read (and alert) them again
            last = max(last, skipped[-1][0])
        self.last_seq[account] = last
        self.replayed[account] = len(replayed)
        # The snapshot's prices are as old as it is (a night, after a night down): a position
        # opened meanwhile must not be marked at them. Those of contracts the account holds no
        # position in are forgotten (unknown until this run's quotes come: the market hub
        # subscribes every contract the account holds or works); a position held across the
        # restart keeps the marks in force when the last run stopped (without a price, a stop
        # locking in profit would not count as its protection). The journal has no quotes, so
        # the replay above saw the prices the last run had.
        state = engine.account(account)
        held = set(state.positions) if state is not None else set()
        now = shared.clock.now()
        at = now if engine.now is None else max(engine.now, now)
        for contract_id in priced:
            if contract_id not in held:
                replay(account, Quote(at=at, contract_id=contract_id))
        if replayed or skipped or (restored is not None and any(restored)):
            self.snapshot(account)
        shared.deadlines[account] = engine.next_deadline()
        adopted = 0
        for stored in self._store.open_intents(account):
            try:
                intent = intent_from_json(
                    {k: v for k, v in stored.body.items() if k not in ("key", "kind", "would")}
                )
            except (KeyError, TypeError, ValueError) as exc:
                log.error("cannot read stored intent %s: %s", stored.key, exc)
                continue
            adopted += adopt(stored.key, intent, account)
        log.info(
            "account %s %s %d journaled events replayed, %d open intents, %d lockouts%s",
            account,
            source,
            len(replayed),
            adopted,
            len(engine.locks(account)),
            "" if restored is None else f" ({_restored_words(restored)})",
        )

    def _restore_stored_locks(self, account: int, engine: Engine) -> tuple[list[Lock], list[Lock]]:
        """Make a rebuilt engine's lockouts the store's: put back every lockout it holds in
        force now — not ended, not cleared by the admin, and (a ``while:`` lock, which has
        no end the store could pass) set on the current trading day — each with its stored
        end (a replay derives a tick's firing late, if at all); and end each lock the replay
        derived again though the admin had cleared it (the same firing; none of its identity
        in force since). Returns (put back, ended)."""
        now = self._shared.clock.now()
        calendar = engine.calendar
        today = calendar.trading_day(now)
        in_force = self._store.active_lockouts(now, account)
        kept = [
            _kept(row)
            for row in in_force
            if row.end is not None or calendar.trading_day(row.start) == today
        ]
        restored = restore_locks(engine, account, kept)
        held = {(row.rule, row.scope, row.symbol or "") for row in in_force}
        lifted = [
            _kept(row)
            for row in self._store.lifted_lockouts(now, account)
            if (row.rule, row.scope, row.symbol or "") not in held
        ]
        return restored, lift_locks(engine, account, lifted)

    # -- firings --------------------------------------------------------------------------------

    def record(self, firing: Firing, *, replay: bool = False) -> bool:
        """Queue the firing with its lockouts and intents for the writer thread (the caller
        tells the log, ``monitor`` and the observer once its intents are started). Returns
        whether it is to be worked.

        On a journal ``replay`` (before the writer runs) the firing is committed here: one the
        store already holds (same rule, account, item and time: replayed events keep their
        journaled stamps) was worked when it was new, so it is neither told nor worked again;
        one the store lacks — the daemon died before the writer recorded it — is recorded,
        told and worked now.
        """
        engine = self._shared.engines[firing.account]
        locks = []
        for notice in firing.locks:
            entry: dict[str, Any] = {
                "scope": notice.scope,
                "reason": notice.reason or firing.rule_id,
                "start": firing.at,
            }
            if notice.scope == "symbol":
                entry["symbol"] = notice.symbol
            if notice.ends_at is not None:
                if notice.ends_at <= firing.at:
                    continue
                entry["end"] = notice.ends_at
            else:
                source = next(
                    (
                        lock.while_expr.source
                        for lock in engine.locks(firing.account)
                        if lock.rule == firing.rule_id and lock.while_expr is not None
                    ),
                    "while condition",
                )
                entry["while"] = source
            locks.append(entry)
        intents = [
            {"key": intent.key, "kind": type(intent).__name__, **intent_to_json(intent)}
            for intent in firing.intents
            if not isinstance(intent, Alert)
        ]
        if self._shared.enforcement.observing(firing.account):
            state = engine.account(firing.account)
            for body, intent in zip(
                intents, (i for i in firing.intents if not isinstance(i, Alert)), strict=True
            ):
                body["would"] = would_words(plan(intent, state), state)
        values = {
            name: value if isinstance(value, str | int | bool | type(None)) else str(value)
            for name, value in firing.values.items()
        }
        record: dict[str, Any] = {
            "rule": firing.rule_id,
            "account": firing.account,
            "at": firing.at,
            "severity": firing.severity,
            "message": firing.message,
            "item": firing.item or None,
            "values": values,
        }
        if self.writer is not None and not replay:
            # act first: the writer commits it after the event that caused it (and after the
            # intent states queued before it), while the executor already works its intents
            self.writer.call(lambda store: self._commit_firing(store, record, locks, intents))
            return True
        why = self._guard.already(firing) if replay and self._guard is not None else None
        if why is not None:
            log.info(
                "replay re-derived %s [%s] at %s: not recorded or worked again (%s)",
                firing.rule_id,
                firing.item,
                firing.at.isoformat(),
                why,
            )
            return False
        created = self._commit_firing(self._store, record, locks, intents)
        if replay and created:
            self._announcer.tell_firing(firing)
        return created or not replay

    def _commit_firing(
        self,
        store: Store,
        record: dict[str, Any],
        locks: list[dict[str, Any]],
        intents: list[dict[str, Any]],
    ) -> bool:
        """Commit one firing; returns whether it was new. A store failure is alerted, never
        raised: the enforcement it records goes on from memory."""
        try:
            return store.record_firing(record, locks, intents).created
        except StoreUnavailable:
            raise  # the writer holds it and records it once the store is back
        except StoreError as exc:
            rule = record["rule"]
            log.error("could not record firing %s: %s (enforcing anyway)", rule, exc)
            self._alerter.alert(
                "critical", f"store failed while recording a firing: {exc}", record["at"]
            )
            return True

    # -- snapshots ------------------------------------------------------------------------------

    def locks_changed(self, account: int) -> bool:
        marks = tuple(
            sorted(
                (lock.rule, lock.scope, lock.symbol, str(lock.ends_at))
                for lock in self._shared.engines[account].locks(account)
            )
        )
        changed = self._lock_marks.get(account) != marks
        self._lock_marks[account] = marks
        return changed

    def forget_locks(self, account: int) -> None:
        """The account's engine was rebuilt: its lock set counts as changed."""
        self._lock_marks.pop(account, None)

    def snapshot(self, account: int) -> None:
        """Save the account's engine state and the journal position it covers.

        The state is taken now, on the engine thread; the writer thread saves it after every
        journal event queued before it, so the position it records is exactly the events the
        state has seen. The engine thread never waits for the save: an admin command that
        must answer only once its change survives a restart waits on its own thread
        (:meth:`saved`)."""
        engine = self._shared.engines[account]
        at = engine.now or self._shared.clock.now()
        state = {"engine": engine.snapshot()}
        self.dirty.discard(account)
        writer = self.writer
        if writer is None:  # restore, before the writer runs
            if not self._save_snapshot(self._store, account, at, state, None):
                self.dirty.add(account)
            return
        fallback = self.last_seq.get(account)
        queue = self._shared.queue

        def save(store: Store) -> None:
            seq = writer.last_seq.get(account, fallback)
            if not self._save_snapshot(store, account, at, state, seq):
                queue.put(SnapshotFailed(at=at, account=account))

        writer.call(save, key=f"snapshot:{account}")

    def saved(self, timeout: float) -> bool:
        """Wait until every store write queued so far is done; False on ``timeout`` or at once
        while the store is unavailable (the writes stay held and are done when it is back).
        Never on the engine thread."""
        writer = self.writer
        return True if writer is None else writer.flush(timeout)

    def _save_snapshot(
        self, store: Store, account: int, at: datetime, state: dict[str, Any], seq: int | None
    ) -> bool:
        """Save one snapshot; returns whether it was saved. Runs on the writer thread once it
        runs (before that, at restore, on the engine thread): whoever saves snapshots is
        the only one that touches ``_snapshot_failing``."""
        if seq is None:
            seq = self.last_seq.get(account)
        try:
            store.save_snapshot(
                account,
                at,
                state,
                seq,
                lease_owner=self.lease_owner,
                now=self._shared.clock.now(),
            )
            saved = self._snapshots[account] = self._snapshots.get(account, 0) + 1
            if saved % 20 == 0:
                store.prune_snapshots(account, keep=3)
        except LeaseLost as exc:
            # another daemon guards the account (this one lost the lease while the store was
            # out of its reach): its newest snapshot is what its restart restores, and this
            # engine knows nothing of what was done there since (an admin's clear, a reload)
            log.info("snapshot of account %s not saved: %s", account, exc)
            return True
        except StoreError as exc:
            if isinstance(exc, StoreUnavailable) and self.writer is not None:
                raise  # held in order behind the journal it covers; saved once the store is back
            # A restart would come back without what changed since the last good snapshot
            # (a lockout a clock tick set is in no journal): say so loudly, once per outage;
            # the engine thread keeps the account dirty so the next snapshot tries again.
            log.error("snapshot of account %s failed: %s", account, exc)
            if account not in self._snapshot_failing:
                self._snapshot_failing.add(account)
                self._alerter.alert(
                    "critical",
                    f"account {account}: the engine snapshot could not be saved ({exc}); "
                    "a restart now would lose state since the last one",
                    self._shared.clock.now(),
                    account,
                )
            return False
        if account in self._snapshot_failing:
            self._snapshot_failing.discard(account)
            log.warning("account %s: snapshots are saved again", account)
        return True

    def snapshot_dirty(self) -> None:
        """Snapshot every account that changed since its last snapshot."""
        for account in list(self.dirty):
            self.snapshot(account)


def _kept(row: Lockout) -> KeptLock:
    return KeptLock(
        scope=row.scope,
        symbol=row.symbol,
        rule=row.rule,
        reason=row.reason,
        set_at=row.start,
        ends_at=row.end,
        while_source=row.while_expr,
    )


def _restored_words(changed: tuple[list[Lock], list[Lock]]) -> str:
    """What a rebuild took from the store's lockouts, for the log and the alert."""
    restored, lifted = changed
    words = []
    if restored:
        said = []
        for lock in restored:
            where = f" on {lock.symbol}" if lock.scope == "symbol" and lock.symbol else ""
            if lock.ends_at is not None:
                until = f"until {lock.ends_at.isoformat(timespec='seconds')}"
            else:
                source = lock.while_expr.source if lock.while_expr is not None else "…"
                until = f"while {source}"
            said.append(f"{lock.rule}{where} {until}")
        count = f"{len(restored)} lockout{'s' if len(restored) > 1 else ''}"
        words.append(f"{count} still in force restored from the store ({'; '.join(said)})")
    if lifted:
        count = f"{len(lifted)} lockout{'s' if len(lifted) > 1 else ''}"
        rules = "; ".join(lock.rule for lock in lifted)
        words.append(f"the admin's clear of {count} kept ({rules})")
    if not words:
        return "the store holds no lockout in force that the journal did not give back"
    return "; ".join(words)


def _priced(snapshot: dict[str, Any]) -> list[str]:
    """The contracts an engine snapshot holds a price of."""
    contracts = snapshot.get("contracts")
    if not isinstance(contracts, list):
        return []
    return [
        str(entry["id"])
        for entry in contracts
        if isinstance(entry, dict)
        and "id" in entry
        and any(entry.get(price) is not None for price in ("last", "bid", "ask"))
    ]


__all__ = ["Persistence"]
