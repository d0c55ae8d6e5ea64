"""The daemon's durable memory: journal, firings, intents, lockouts, snapshots, leases, audit.

One :class:`Store` per daemon process, opened with :meth:`Store.open` on a SQLAlchemy URL:
``sqlite:///var/lib/simple-risk/store.db`` (the default kind: one machine, one daemon) or
``postgresql+psycopg://user@host/db`` (a desk running several daemons on one database). The
same code serves both; what differs between them (WAL, ``BEGIN IMMEDIATE``, advisory locks)
is set up once in :mod:`simple_risk.store.database`. A Store is safe to share between the
daemon's threads: every call is one short transaction on a pooled connection.

Durability contract for enforcement (issue #6, item 5): :meth:`Store.record_firing` commits a
firing together with its lockouts and intents in one transaction and returns only after the
commit, so the executor acts on nothing that a crash could forget; replaying the same firing
after a restart records nothing twice. Lockouts keep their end across restarts; intents that
were pending or in flight come back from :meth:`Store.open_intents`.

Time is always an argument (``now``, ``at``), timezone-aware; the store never reads a clock,
so the daemon's fake clock in tests drives leases and lockout expiry too.

This class owns the transactions and nothing else: each method checks its arguments, opens
one transaction (:meth:`Store._session`; ``write=True`` takes the write lock up front) and
calls a function of the module that holds that part of the store with the session —
:mod:`~simple_risk.store.journal`, :mod:`~simple_risk.store.firings` (with
:mod:`~simple_risk.store.lockouts` and :mod:`~simple_risk.store.intents`),
:mod:`~simple_risk.store.snapshots`, :mod:`~simple_risk.store.contract_cache`,
:mod:`~simple_risk.store.audit`, :mod:`~simple_risk.store.leases` and
:mod:`~simple_risk.store.history`. Those functions never commit, so where one transaction
begins and ends — what a crash can and cannot split — is decided here alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from simple_risk.engine.codec import contract_to_json
from simple_risk.engine.events import ContractInfo, Event
from simple_risk.store import audit, contract_cache, journal, leases, snapshots
from simple_risk.store import firings as firing_rows
from simple_risk.store import history as timeline
from simple_risk.store import intents as intent_rows
from simple_risk.store import lockouts as lockout_rows
from simple_risk.store.database import (
    WRITE_OPTION,
    Dialect,
    connect,
    missing_privileges,
    prepare_schema,
    reason,
)
from simple_risk.store.failures import for_everyone, unavailable
from simple_risk.store.inputs import firing_input, require_aware, require_int
from simple_risk.store.models import AlertRow, StoreMeta
from simple_risk.store.records import (
    FINAL_INTENT_STATES,
    AdminAction,
    Firing,
    FiringRecorded,
    HistoryItem,
    HistoryKind,
    Intent,
    IntentAttempt,
    JournalEntry,
    Lease,
    Lockout,
    Snapshot,
    StoreError,
    StoreUnavailable,
)


class Store:
    """Durable state of the daemon on SQLite or PostgreSQL; see the module docstring."""

    def __init__(self, engine: Engine, url: URL, dialect: Dialect) -> None:
        """Use :meth:`open`; this only wraps an engine whose schema is already current."""
        self._engine = engine
        self._url = url
        self.dialect: Dialect = dialect

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, busy_timeout: timedelta = timedelta(seconds=30)) -> Store:
        """Open the store at ``url``, creating or migrating its schema.

        A database that is not a simple-risk store, or whose schema is newer than this code
        (a newer simple-risk wrote it) or too old to migrate, is refused with a
        :class:`StoreError` and left exactly as it was.
        """
        engine, parsed, dialect = connect(url, busy_timeout)
        store = cls(engine, parsed, dialect)
        try:
            prepare_schema(engine, dialect, store.url)
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        """Close every pooled connection (further calls open new ones)."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The URL with any password masked, for messages and status output."""
        return self._url.render_as_string(hide_password=True)

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._session() as s:
            value = s.get(StoreMeta, "schema_version")
        return int(value.value) if value is not None else 0

    # --- transactions --------------------------------------------------------------------

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; committed when the block ends, rolled back if it raises."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                    yield session
        except SQLAlchemyError as exc:
            if unavailable(exc):
                raise StoreUnavailable(
                    f"store {self.url}: {reason(exc)}", for_everyone=for_everyone(exc)
                ) from exc
            raise StoreError(f"store {self.url}: {reason(exc)}") from exc

    # --- journal -------------------------------------------------------------------------

    def append_events(self, account: int, events: Sequence[Event]) -> list[int]:
        """Journal events that changed ``account``'s facts, in order; return their seqs."""
        require_int(account, "account")
        pending = journal.encode(account, events)
        if not pending:
            return []
        with self._session(write=True) as s:
            seqs = journal.append(s, self.dialect, account, pending)
        return seqs

    def last_seq(self, account: int) -> int:
        """The seq of ``account``'s last journaled event (0 when none)."""
        with self._session() as s:
            return journal.last_seq(s, account)

    def events_since(
        self,
        account: int,
        seq: int,
        limit: int | None = None,
        unreadable: Callable[[int, str], None] | None = None,
    ) -> list[JournalEntry]:
        """``account``'s journaled events after ``seq``, oldest first (what a restart replays);
        ``unreadable``: told of each entry this version cannot read, which is left out
        (else such an entry raises StoreError)."""
        with self._session() as s:
            return journal.entries_after(s, account, seq, limit, unreadable)

    def prune_journal(
        self,
        account: int,
        *,
        before: datetime,
        snapshot_id: int,
        keep_tags: frozenset[str] = frozenset(),
        limit: int = 2000,
        lease_owner: str | None = None,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Delete one batch of ``account``'s journal entries older than ``before`` that the
        snapshot ``snapshot_id`` covers; return (rows deleted, whether more would go).

        ``snapshot_id`` is a snapshot the caller has read and can restore: nothing goes unless
        it is still the account's newest (the one a restart restores, replaying only what
        comes after its position), so a snapshot saved since — by a version that cannot be
        read, say — keeps the journal whole. With ``lease_owner`` the account's lease is
        checked at ``now`` in the same transaction (:class:`LeaseLost`). Own-order records
        whose tag is in ``keep_tags`` and the newest entry always stay
        (:func:`~simple_risk.store.journal.prune`). One transaction per batch: a crash between
        batches leaves a journal that is whole after the snapshot."""
        require_int(account, "account")
        require_aware(before, "before")
        if limit < 1:
            raise StoreError(f"a prune batch is at least 1 entry, got {limit}")
        with self._session(write=True) as s:
            if lease_owner is not None:
                if now is None:
                    raise StoreError("checking the lease needs now")
                leases.require(s, self.dialect, account, lease_owner, require_aware(now, "now"))
            newest = snapshots.latest(s, account)
            if newest is None or newest.id != snapshot_id or newest.journal_seq is None:
                return 0, False
            return journal.prune(
                s,
                account,
                before=before,
                through_seq=newest.journal_seq,
                keep_tags=keep_tags,
                limit=limit,
            )

    def journal_kept_since(self, account: int | None = None) -> dict[int, datetime]:
        """The accounts whose journal was pruned (``account`` alone, or all), each with the
        time of its oldest entry kept: fills before it are no longer in the store."""
        with self._session() as s:
            return journal.kept_since(s, account)

    # --- firings, lockouts, intents ------------------------------------------------------

    def record_firing(
        self,
        firing: Mapping[str, Any],
        lockouts: Sequence[Mapping[str, Any]] = (),
        intents: Sequence[Mapping[str, Any]] = (),
    ) -> FiringRecorded:
        """Commit a firing with its lockouts and intents in one transaction, then return.

        The executor must act only after this returns: a crash at any point leaves either
        all of them or none. A firing already recorded (same rule, account, item and time —
        a journal replay after a crash) is not recorded again: ``created`` is False and the
        ids of what the first recording stored come back.
        """
        checked = firing_input(firing, lockouts, intents)
        with self._session(write=True) as s:
            recorded = firing_rows.record(s, self.dialect, checked)
        return recorded

    def firings_since(self, account: int, since: datetime) -> list[Firing]:
        """The account's firings fired at or after ``since``, oldest first (a restart's
        journal replay tells the firings the daemon missed from those it re-derives)."""
        require_aware(since, "since")
        with self._session() as s:
            return firing_rows.fired_since(s, account, since)

    def intent(self, key: str) -> Intent | None:
        """The intent with this stable key, or None."""
        with self._session() as s:
            return intent_rows.find(s, key)

    def open_intents(self, account: int | None = None) -> list[Intent]:
        """Intents still pending or in flight: the executor's work after a start.

        Oldest firing first, and within a firing in the declared order (cancel before close).
        """
        with self._session() as s:
            return intent_rows.still_open(s, account)

    def intent_started(self, key: str, now: datetime, *, lease_owner: str | None = None) -> Intent:
        """The executor begins working on an intent (again, after a restart).

        With ``lease_owner`` (a shared store) the intent's account lease is checked in the same
        transaction: if that daemon no longer holds it at ``now``, :class:`LeaseLost` is
        raised and the intent stays as it was, for the daemon that does hold it.
        """
        require_aware(now, "now")
        with self._session(write=True) as s:
            return intent_rows.start(s, self.dialect, key, now, lease_owner)

    def intent_attempt(
        self,
        key: str,
        now: datetime,
        outcome: str,
        *,
        request: Mapping[str, Any] | None = None,
        response: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> Intent:
        """Record one REST call made for an intent and its result (``ok``, ``retry``, ...)."""
        require_aware(now, "now")
        with self._session(write=True) as s:
            return intent_rows.attempt(
                s, self.dialect, key, now, outcome, request=request, response=response, error=error
            )

    def intent_finished(
        self,
        key: str,
        now: datetime,
        state: Literal["done", "gave_up"],
        error: str | None = None,
    ) -> Intent:
        """The intent's target is met (``done``) or the executor gave up (``gave_up``)."""
        require_aware(now, "now")
        if state not in FINAL_INTENT_STATES:
            raise StoreError(f"an intent finishes as done or gave_up, not {state!r}")
        with self._session(write=True) as s:
            return intent_rows.finish(s, self.dialect, key, now, state, error)

    def intent_attempts(self, key: str) -> list[IntentAttempt]:
        """Every REST call recorded for an intent, oldest first."""
        with self._session() as s:
            return intent_rows.attempts(s, key)

    def lockout(self, lockout_id: int) -> Lockout | None:
        """One lockout by id, in force or not."""
        with self._session() as s:
            return lockout_rows.find(s, lockout_id)

    def active_lockouts(self, now: datetime, account: int | None = None) -> list[Lockout]:
        """Lockouts in force at ``now``: not cleared, and ``while:`` locks or not yet ended."""
        require_aware(now, "now")
        with self._session() as s:
            return lockout_rows.active(s, now, account)

    def lifted_lockouts(self, now: datetime, account: int) -> list[Lockout]:
        """The account's lockouts cleared early that would otherwise be in force at ``now``."""
        require_aware(now, "now")
        with self._session() as s:
            return lockout_rows.lifted(s, now, account)

    def clear_lockout(
        self, lockout_id: int, *, now: datetime, by: str, why: str, admin: bool = True
    ) -> Lockout:
        """End a lockout early, recording who and why.

        With ``admin`` (an ``admin`` command did it) an admin action is written in the same
        transaction, so the audit trail cannot miss a clear. The engine ending a ``while:``
        lock whose condition turned false passes ``admin=False``.
        """
        (cleared,) = self.clear_lockouts([lockout_id], now=now, by=by, why=why, admin=admin)
        return cleared

    def clear_lockouts(
        self,
        lockout_ids: Sequence[int],
        *,
        now: datetime,
        by: str,
        why: str,
        admin: bool = True,
    ) -> list[Lockout]:
        """End the stored rows of one lock at once (a rule that fired again while locked set
        it twice), in one transaction with one audit row (see :meth:`clear_lockout`)."""
        require_aware(now, "now")
        if not by or not why:
            raise StoreError("clearing a lockout needs who (by) and why")
        with self._session(write=True) as s:
            return lockout_rows.clear(
                s, self.dialect, lockout_ids, now=now, by=by, why=why, admin=admin
            )

    # --- snapshots, contracts, admin -----------------------------------------------------

    def save_snapshot(
        self,
        account: int | None,
        at: datetime,
        state: Mapping[str, Any],
        journal_seq: int | None = None,
        *,
        lease_owner: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Keep the engine's ``snapshot()`` (plain JSON) covering the journal up to a seq.

        With ``lease_owner`` (a shared store) the account's lease is checked at ``now`` in the
        same transaction (:class:`LeaseLost` if another daemon holds it): the newest snapshot
        is what the holder's next restart restores, so only the holder may write it."""
        require_aware(at, "snapshot at")
        checked = snapshots.checked_state(state)
        with self._session(write=True) as s:
            if lease_owner is not None and account is not None:
                checked_at = now if now is not None else at
                require_aware(checked_at, "now")
                leases.require(s, self.dialect, account, lease_owner, checked_at)
            snapshots.save(s, account, at, checked, journal_seq)

    def latest_snapshot(self, account: int | None) -> Snapshot | None:
        """The newest snapshot for ``account`` (None: the global part), or None."""
        with self._session() as s:
            return snapshots.latest(s, account)

    def prune_snapshots(self, account: int | None, keep: int) -> int:
        """Delete all but the newest ``keep`` snapshots of ``account``; return how many went."""
        if keep < 1:
            raise StoreError("keep at least one snapshot")
        with self._session(write=True) as s:
            gone = snapshots.prune(s, account, keep)
        return gone

    def put_contract(self, contract: ContractInfo, now: datetime) -> None:
        """Cache contract metadata (replacing what was cached for that contract)."""
        require_aware(now, "now")
        payload = contract_to_json(contract)
        with self._session(write=True) as s:
            contract_cache.put(s, self.dialect, contract.contract_id, payload, now)

    def get_contract(self, contract_id: str) -> ContractInfo | None:
        """Cached metadata of one contract, or None."""
        with self._session() as s:
            return contract_cache.find(s, contract_id)

    def contracts(self) -> list[ContractInfo]:
        """Every cached contract, by contract id."""
        with self._session() as s:
            return contract_cache.every(s)

    def record_admin_action(
        self,
        *,
        at: datetime,
        who: str,
        action: str,
        why: str,
        result: str,
        account: int | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> int:
        """Audit one admin command (secrets must not be in ``args``); return its id."""
        require_aware(at, "admin action at")
        if not who or not action:
            raise StoreError("an admin action needs who and what (action)")
        with self._session(write=True) as s:
            return audit.record(
                s,
                at=at,
                who=who,
                action=action,
                why=why,
                result=result,
                account=account,
                args=args,
            )

    def record_alert(self, *, at: datetime, level: str, message: str, account: int | None) -> int:
        """Keep one alert the daemon raised (``account`` None: the daemon's own); its id."""
        require_aware(at, "alert at")
        with self._session(write=True) as s:
            # PostgreSQL's text cannot hold NUL (an exception's words may): shown escaped
            shown = message.replace("\x00", "\\0")
            row = AlertRow(at=at, level=level, account=account, message=shown)
            s.add(row)
            s.flush()
            return row.id

    def alerts_since(
        self, since: datetime, limit: int = 200
    ) -> list[tuple[datetime, str, str, int | None]]:
        """The newest ``limit`` alerts kept since ``since``, oldest first: (at, level,
        message, account)."""
        require_aware(since, "since")
        with self._session() as s:
            return timeline.recent_alerts(s, since, limit)

    def admin_actions(self, since: datetime | None = None) -> list[AdminAction]:
        """Admin commands (since a time), oldest first."""
        if since is not None:
            require_aware(since, "since")
        with self._session() as s:
            return audit.actions(s, since)

    # --- leases --------------------------------------------------------------------------

    def acquire_lease(self, account: int, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Take ``account``'s lease for ``ttl`` unless another owner holds an unexpired one.

        One conditional upsert: insert the lease, or take over the existing row only if it is
        ours or has expired. PostgreSQL's ``ON CONFLICT DO UPDATE ... WHERE`` locks the row
        and SQLite serialises writers, so two daemons can never both get True.
        """
        expires = leases.expiry(owner, ttl, now)
        with self._session(write=True) as s:
            got = leases.acquire(s, self.dialect, account, owner, now, expires)
        return got

    def renew_lease(self, account: int, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Extend our unexpired lease. False when it expired or someone else holds it.

        A lease that lapsed is not silently renewed: another daemon may have enforced the
        account meanwhile, so the owner must acquire again (and reconcile) before acting.
        """
        expires = leases.expiry(owner, ttl, now)
        with self._session(write=True) as s:
            renewed = leases.renew(s, account, owner, now, expires)
        return renewed

    def take_over_lease(
        self, account: int, previous: str, owner: str, ttl: timedelta, now: datetime
    ) -> bool:
        """Take ``account``'s lease from ``previous`` — expired or not — for ``ttl``: for a
        daemon that knows ``previous`` is itself under an earlier name. One conditional
        update: False when ``previous`` no longer holds the row."""
        expires = leases.expiry(owner, ttl, now)
        with self._session(write=True) as s:
            moved = leases.transfer(s, account, previous, owner, now, expires)
        return moved

    def release_lease(self, account: int, owner: str) -> bool:
        """Give the lease up (a clean shutdown), so another daemon need not wait for expiry."""
        with self._session(write=True) as s:
            released = leases.release(s, account, owner)
        return released

    def lease(self, account: int) -> Lease | None:
        """The lease row of ``account`` (possibly expired), or None."""
        with self._session() as s:
            return leases.find(s, account)

    def holds_lease(self, account: int, owner: str, now: datetime) -> bool:
        """Whether ``owner`` holds ``account``'s lease at ``now`` (check before enforcing)."""
        require_aware(now, "now")
        with self._session() as s:
            return leases.holds(s, account, owner, now)

    def server_clock(self) -> datetime | None:
        """The database server's own clock now (PostgreSQL's ``clock_timestamp()``), or None
        for SQLite, whose "server" is this machine. Daemons on several machines judge a lease's
        end each by its own clock: the lease thread compares them with this one."""
        if self.dialect != "postgresql":
            return None
        with self._session() as s:
            value = s.execute(text("SELECT clock_timestamp()")).scalar_one()
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise StoreError(f"store {self.url}: the server's clock read {value!r}")
        return value

    def missing_privileges(self) -> list[str]:
        """What the daemon's writes need and the database role lacks (PostgreSQL: a grant
        that left out a table or the sequences numbering the rows), as ``"INSERT on
        journal"``; always empty on SQLite, whose file permissions were checked at open."""
        if self.dialect != "postgresql":
            return []
        with self._session() as s:
            return missing_privileges(s.connection())

    # --- history -------------------------------------------------------------------------

    def history(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        rule: str | None = None,
        account: int | None = None,
        kinds: Sequence[HistoryKind] | None = None,
        limit: int | None = None,
    ) -> list[HistoryItem]:
        """What happened in ``[since, until)``, oldest first, for ``engine history``.

        Kinds: ``fill`` (a journaled fill, with its P&L; a fill journaled again with new
        content — a correction, a void — is shown once, as last seen), ``firing``,
        ``lockout`` (a lock began), ``lockout_cleared``, ``intent`` (at its outcome, or at its
        creation while still open) and ``admin``. With ``rule``, fills and admin actions
        (which belong to no rule) are left out. ``limit`` keeps the newest items.
        """
        if limit is not None and limit < 1:
            raise StoreError(f"a history limit must be at least 1, got {limit}")
        require_aware(since, "since")
        end = require_aware(until, "until") if until is not None else None
        wanted = timeline.wanted_kinds(kinds)
        with self._session() as s:
            items = timeline.collect(s, since, end, rule=rule, account=account, wanted=wanted)
        return timeline.newest(items, limit)


__all__ = ["Store"]
