"""Schema migrations: one function per version step, run in order inside one transaction.

``MIGRATIONS[v]`` turns a version-``v`` database into version ``v + 1``. :meth:`Store.open
<simple_risk.store.store.Store.open>` runs every step from the database's version to
:data:`~simple_risk.store.models.SCHEMA_VERSION` in the same transaction that updates the
recorded version, so a failed step leaves the database exactly at its old version (both
SQLite and PostgreSQL roll DDL back).

A migration never imports the current models: it writes the DDL of its own version, frozen
here, so that later model changes cannot change what an old step does.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)


def _v1_to_v2(conn: Connection) -> None:
    """Version 2: leases for shared stores, and the names a ``while:`` lock was bound with."""
    frozen = MetaData()
    Table(
        "leases",
        frozen,
        Column("account", BigInteger, primary_key=True, autoincrement=False),
        Column("owner", String(200), nullable=False),
        Column("acquired_at", DateTime(timezone=False), nullable=False),
        Column("expires_at", DateTime(timezone=False), nullable=False),
    )
    frozen.create_all(conn)
    # Locks written before version 2 bound no names; '{}' is what version 2 writes for those.
    conn.execute(text("ALTER TABLE lockouts ADD COLUMN bindings JSON NOT NULL DEFAULT '{}'"))


def _v2_to_v3(conn: Connection) -> None:
    """Version 3: the daemon's alerts, for ``engine history``."""
    frozen = MetaData()
    Table(
        "alerts",
        frozen,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("at", DateTime(timezone=False), nullable=False),
        Column("level", String(20), nullable=False),
        Column("account", BigInteger, nullable=True),
        Column("message", Text, nullable=False),
        Index("ix_alerts_at", "at"),
    )
    frozen.create_all(conn)


#: version → the step that upgrades a database of that version by one.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
}

#: The oldest version this code can migrate from.
OLDEST_MIGRATABLE = min(MIGRATIONS)


def migrate(conn: Connection, from_version: int, to_version: int) -> list[int]:
    """Run the steps from ``from_version`` up to ``to_version``; return the versions passed."""
    passed: list[int] = []
    for version in range(from_version, to_version):
        MIGRATIONS[version](conn)
        passed.append(version + 1)
    return passed


__all__ = ["MIGRATIONS", "OLDEST_MIGRATABLE", "migrate"]
