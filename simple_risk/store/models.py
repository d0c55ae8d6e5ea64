"""The store's tables (schema version :data:`SCHEMA_VERSION`), as SQLAlchemy 2 typed models.

Only the store's query modules (:mod:`simple_risk.store.journal`, ``firings``, ``intents``,
``leases`` … called by :mod:`simple_risk.store.store`) read and write these; the daemon sees
the plain records of :mod:`simple_risk.store.records`. The same models serve SQLite and
PostgreSQL, so the column types are the portable ones, with two decisions made here once:

* Every timestamp goes through :class:`UTCDateTime`: callers pass timezone-aware datetimes,
  the database holds naive UTC (SQLite has no zone type, and a PostgreSQL ``timestamptz``
  would read back in the session's zone), and reads come back aware in UTC. Comparisons in
  SQL (``end_at > now``) are then the same on both databases.
* Ids that come from ProjectX (accounts, orders) are 64-bit; surrogate keys are ``INTEGER``
  on SQLite so that it autoincrements them (it only does for ``INTEGER PRIMARY KEY``).

Changing a table means bumping :data:`SCHEMA_VERSION` and adding a migration in
:mod:`simple_risk.store.migrations`; a test checks that a migrated database and a fresh one
have the same tables and columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The schema this code writes. Version 1 was the single-daemon store; version 2 added leases
#: (one daemon per account on a shared PostgreSQL store) and the bindings of a ``while:`` lock;
#: version 3 keeps the daemon's alerts, so ``engine history`` shows them after they leave
#: ``status``.
SCHEMA_VERSION = 3

#: Surrogate primary keys: 64-bit on PostgreSQL, ``INTEGER`` (the rowid) on SQLite.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetime in, aware UTC datetime out; stored as naive UTC on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value.isoformat()} has no timezone; pass aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        str: Text(),
    }


class StoreMeta(Base):
    """Key/value facts about the database itself; ``schema_version`` lives here."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str]


class JournalEntryRow(Base):
    """One domain event that changed an account's facts, in the order the engine consumed it.

    ``seq`` counts per account from 1 with no gaps; snapshots name the seq they include, so a
    restart loads the latest snapshot and replays ``events_since(account, seq)``.
    """

    __tablename__ = "journal"
    __table_args__ = (UniqueConstraint("account", "seq", name="uq_journal_account_seq"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    account: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]


class FiringRow(Base):
    """A rule firing with the values that decided it, the message and the intents it made.

    One firing per breach episode: (rule, account, item, time) is unique, so replaying the
    journal after a crash and firing again records nothing twice.
    """

    __tablename__ = "firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "account", "item_key", "fired_at", name="uq_firing_episode"),
        Index("ix_firings_fired_at", "fired_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(200))
    account: Mapped[int] = mapped_column(BigInteger)
    # "" when the rule is not per item: NULLs never collide in a unique constraint.
    item_key: Mapped[str] = mapped_column(String(300))
    fired_at: Mapped[datetime]
    severity: Mapped[str] = mapped_column(String(20))
    message: Mapped[str]
    decisive: Mapped[dict[str, Any]]
    intents: Mapped[list[Any]]
    journal_seq: Mapped[int | None] = mapped_column(BigInteger)


class IntentRow(Base):
    """An enforcement target and how far the executor got with it.

    ``state`` goes pending → in_flight → done | gave_up. After a crash every pending or
    in_flight intent is retried; intents are target states, so retrying a half-done one
    never acts twice (docs/architecture.md §3). ``created_at`` is when the intent was last opened: a
    finished intent that a later firing wants again is reopened under that firing.
    """

    __tablename__ = "intents"
    __table_args__ = (Index("ix_intents_state", "state"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    account: Mapped[int] = mapped_column(BigInteger)
    firing_id: Mapped[int | None] = mapped_column(ForeignKey("firings.id"))
    rule_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    body: Mapped[dict[str, Any]]
    # Position among its firing's intents: the executor keeps the declared order (cancel
    # before close), which neither the key nor the shared creation time can give.
    ordinal: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class IntentAttemptRow(Base):
    """One REST call made for an intent and what came back."""

    __tablename__ = "intent_attempts"
    __table_args__ = (Index("ix_intent_attempts_key", "intent_key"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    intent_key: Mapped[str] = mapped_column(String(300), ForeignKey("intents.key"))
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    request: Mapped[dict[str, Any] | None]
    response: Mapped[dict[str, Any] | None]
    error: Mapped[str | None]


class LockoutRow(Base):
    """A lockout of an account or of one symbol, with its end or its ``while:`` condition.

    Lockouts are never deleted: expiry is ``end_at`` passing, an early end is ``cleared_at``
    with who cleared it and why.
    """

    __tablename__ = "lockouts"
    __table_args__ = (Index("ix_lockouts_account_cleared", "account", "cleared_at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    account: Mapped[int] = mapped_column(BigInteger)
    scope: Mapped[str] = mapped_column(String(10))
    symbol: Mapped[str | None] = mapped_column(String(40))
    rule_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str]
    firing_id: Mapped[int | None] = mapped_column(ForeignKey("firings.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    while_expr: Mapped[str | None]
    bindings: Mapped[dict[str, Any]]
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(200))
    clear_reason: Mapped[str | None]


class EngineSnapshotRow(Base):
    """The engine's ``snapshot()`` for one account (or the global part when account is NULL).

    ``journal_seq`` is the last journaled event the snapshot includes.
    """

    __tablename__ = "engine_snapshots"
    __table_args__ = (Index("ix_engine_snapshots_account_at", "account", "at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    account: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime]
    journal_seq: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[dict[str, Any]]


class ContractCacheRow(Base):
    """Contract metadata by ProjectX contract id, so a restart knows tick sizes at once."""

    __tablename__ = "contract_cache"

    contract_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    payload: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class AdminActionRow(Base):
    """Every admin command: who, when, what, why, and what came of it."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_at", "at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    account: Mapped[int | None] = mapped_column(BigInteger)
    args: Mapped[dict[str, Any]]
    why: Mapped[str]
    result: Mapped[str]


class AlertRow(Base):
    """One loud alert the daemon raised (version 3): ``status`` shows the trading day's, and
    ``engine history`` every one kept here."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_at", "at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(20))
    #: the guarded account it is about; None: the daemon's own (every account's)
    account: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str]


class LeaseRow(Base):
    """Which daemon enforces an account until when (version 2)."""

    __tablename__ = "leases"

    account: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


__all__ = [
    "SCHEMA_VERSION",
    "AdminActionRow",
    "Base",
    "ContractCacheRow",
    "EngineSnapshotRow",
    "FiringRow",
    "IntentAttemptRow",
    "IntentRow",
    "JournalEntryRow",
    "LeaseRow",
    "LockoutRow",
    "StoreMeta",
    "UTCDateTime",
]
