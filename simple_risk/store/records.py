"""What the store hands back: frozen records, free of SQLAlchemy, safe to pass between threads.

The daemon, the status server and ``engine history`` read these; what the store accepts is
checked in :mod:`simple_risk.store.inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from simple_risk.engine.events import Event

IntentState = Literal["pending", "in_flight", "done", "gave_up"]
#: States the executor still has to work on (after a crash, too).
OPEN_INTENT_STATES: tuple[IntentState, ...] = ("pending", "in_flight")
FINAL_INTENT_STATES: tuple[IntentState, ...] = ("done", "gave_up")

HistoryKind = Literal["fill", "firing", "lockout", "lockout_cleared", "intent", "admin", "alert"]
HISTORY_KINDS: tuple[HistoryKind, ...] = (
    "fill",
    "firing",
    "lockout",
    "lockout_cleared",
    "intent",
    "admin",
    "alert",
)


class StoreError(Exception):
    """The store cannot do what was asked; the message says why and what to do about it."""


class StoreUnavailable(StoreError):
    """The database did not answer (locked past its busy timeout, unreachable, a dropped
    connection, a full disk): the same write may succeed later, so the daemon holds it and
    tries again instead of dropping it.

    ``for_everyone``: the database refuses the write to every writer, not to this daemon
    alone — a full disk, a write the disk fails (SQLite), a full disk on the server
    (PostgreSQL) — so no other daemon can take a lease meanwhile either (a lock another
    session holds, an unreachable server, a file or connection read-only to this daemon, a
    revoked privilege or a read-only standby are not: another daemon may write where this one
    cannot)."""

    def __init__(self, message: str, *, for_everyone: bool = False) -> None:
        super().__init__(message)
        self.for_everyone = for_everyone


class LeaseLost(StoreError):
    """This daemon does not hold the account's lease: another daemon enforces it now."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    account: int
    seq: int
    at: datetime
    event: Event


@dataclass(frozen=True, slots=True)
class FiringRecorded:
    """What :meth:`Store.record_firing` did: ``created`` is False for a replayed firing."""

    firing_id: int
    created: bool
    lockout_ids: tuple[int, ...]
    intent_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Firing:
    id: int
    rule: str
    account: int
    item: str | None
    at: datetime
    severity: str
    message: str
    values: dict[str, Any]
    intents: list[Any]
    journal_seq: int | None


@dataclass(frozen=True, slots=True)
class Intent:
    key: str
    account: int
    rule: str
    kind: str
    body: dict[str, Any]
    state: IntentState
    attempts: int
    last_error: str | None
    firing_id: int | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class IntentAttempt:
    intent_key: str
    at: datetime
    outcome: str
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Lockout:
    id: int
    account: int
    scope: Literal["account", "symbol"]
    symbol: str | None
    rule: str
    reason: str
    firing_id: int | None
    start: datetime
    end: datetime | None
    while_expr: str | None
    bindings: dict[str, Any]
    cleared_at: datetime | None
    cleared_by: str | None
    clear_reason: str | None

    def active(self, now: datetime) -> bool:
        """In force at ``now``: not cleared, and a ``while:`` lock or one not yet ended."""
        return self.cleared_at is None and (self.end is None or self.end > now)


@dataclass(frozen=True, slots=True)
class Snapshot:
    account: int | None
    at: datetime
    journal_seq: int | None
    state: dict[str, Any]
    #: the row's id: the journal's retention prunes only behind the snapshot it checked
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AdminAction:
    id: int
    at: datetime
    who: str
    action: str
    account: int | None
    args: dict[str, Any]
    why: str
    result: str


@dataclass(frozen=True, slots=True)
class Lease:
    account: int
    owner: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of ``engine history``: what happened, when, to which account, by which rule."""

    at: datetime
    kind: HistoryKind
    account: int | None
    rule: str | None
    summary: str
    details: dict[str, Any]


__all__ = [
    "FINAL_INTENT_STATES",
    "HISTORY_KINDS",
    "OPEN_INTENT_STATES",
    "AdminAction",
    "Firing",
    "FiringRecorded",
    "HistoryItem",
    "HistoryKind",
    "Intent",
    "IntentAttempt",
    "IntentState",
    "JournalEntry",
    "Lease",
    "LeaseLost",
    "Lockout",
    "Snapshot",
    "StoreError",
]
