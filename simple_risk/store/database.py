"""Connecting to the store's database and making sure its schema is one this code can use.

:class:`~simple_risk.store.store.Store` calls :func:`connect` and then :func:`prepare_schema`
once when it opens. Everything that differs between SQLite and PostgreSQL is decided here:

* SQLite: foreign keys on, ``synchronous=NORMAL`` (a commit survives ``kill -9`` of the
  process; only a power cut can lose the last commits, which WAL keeps consistent), a busy
  timeout so concurrent writers queue instead of failing, and transactions begun by
  SQLAlchemy rather than by ``sqlite3`` so that a write transaction can start with
  ``BEGIN IMMEDIATE`` — a transaction that reads and then writes (the journal's next seq) can
  then never fail on upgrading its lock. WAL mode is switched on by :func:`prepare_schema`
  after the schema check, because it writes the file's header and a database that is about
  to be refused must not be touched.
* PostgreSQL: the schema is created or migrated under an advisory lock, so two daemons
  starting at once do not both try.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from simple_risk.store.migrations import OLDEST_MIGRATABLE, migrate
from simple_risk.store.models import SCHEMA_VERSION, Base, StoreMeta
from simple_risk.store.records import StoreError

#: Marks the value in ``store_meta`` that says "this database belongs to simple-risk".
APP_NAME = "simple-risk"

#: Connection execution option that makes the SQLite ``begin`` hook take the write lock.
WRITE_OPTION = "simple_risk_write"

# Key of the PostgreSQL advisory lock held while creating or migrating the schema.
_SCHEMA_LOCK_KEY = 0x53494D504C455249  # "SIMPLERI"

Dialect = Literal["sqlite", "postgresql"]


def connect(url: str, busy_timeout: timedelta) -> tuple[Engine, URL, Dialect]:
    """An engine for ``url`` with the store's settings; no connection is made yet."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store URL {url!r} is not a database URL ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout), parsed, "sqlite"
    if backend == "postgresql":
        # psycopg 3 is the driver simple-risk ships; a bare "postgresql://" would mean
        # psycopg2 to SQLAlchemy, which is not installed.
        parsed = parsed.set(drivername="postgresql+psycopg")
        # A server that does not answer must become a StoreError the daemon can report, not
        # a start-up that hangs on the TCP timeout; a URL may still set its own.
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        return engine, parsed, "postgresql"
    raise StoreError(
        f"store URL {parsed.render_as_string()!r}: unsupported database {backend!r} "
        "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
    )


def prepare_schema(engine: Engine, dialect: Dialect, shown_url: str) -> None:
    """Create the schema in an empty database or migrate an older one, in one transaction.

    Refuses (with :class:`StoreError`, changing nothing) a database that holds other tables,
    one whose ``store_meta`` is not simple-risk's, and one whose schema version is newer than
    :data:`SCHEMA_VERSION` or older than any migration can start from.
    """
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if dialect == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                    )
                _create_or_migrate(conn, shown_url)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open store {shown_url}: {reason(exc)}") from exc
    if dialect == "sqlite":
        _enable_wal(engine, shown_url)


#: What the daemon does to each table (PostgreSQL privileges): it reads them all, appends to
#: most, updates intents' states, cleared lockouts, the contract cache and leases, and deletes
#: old snapshots and released leases. ``store_meta`` is written only when the schema is
#: created or migrated, which the schema's owner may do.
DAEMON_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "store_meta": ("SELECT",),
    "journal": ("SELECT", "INSERT"),
    "firings": ("SELECT", "INSERT"),
    "intents": ("SELECT", "INSERT", "UPDATE"),
    "intent_attempts": ("SELECT", "INSERT"),
    "lockouts": ("SELECT", "INSERT", "UPDATE"),
    "engine_snapshots": ("SELECT", "INSERT", "DELETE"),
    "contract_cache": ("SELECT", "INSERT", "UPDATE"),
    "admin_actions": ("SELECT", "INSERT"),
    # a refused alert is held as an outage would be, and every write behind it (version 3:
    # a role granted ON ALL TABLES before the upgrade lacks it)
    "alerts": ("SELECT", "INSERT"),
    "leases": ("SELECT", "INSERT", "UPDATE", "DELETE"),
}


def missing_privileges(conn: Connection) -> list[str]:
    """PostgreSQL: what the connected role lacks of :data:`DAEMON_PRIVILEGES`, with the
    sequences that number the rows it inserts (``USAGE``), as ``"INSERT on journal"``."""
    missing: list[str] = []
    for table, privileges in DAEMON_PRIVILEGES.items():
        for privilege in privileges:
            allowed = conn.execute(
                text("SELECT has_table_privilege(:table, :privilege)"),
                {"table": table, "privilege": privilege},
            ).scalar_one()
            if not allowed:
                missing.append(f"{privilege} on {table}")
        if "INSERT" not in privileges:
            continue
        for column in Base.metadata.tables[table].primary_key.columns:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table, "column": column.name},
            ).scalar_one()
            if (
                sequence is not None
                and not conn.execute(
                    text("SELECT has_sequence_privilege(:sequence, 'USAGE')"),
                    {"sequence": sequence},
                ).scalar_one()
            ):
                missing.append(f"USAGE on sequence {sequence}")
    return missing


def reason(exc: SQLAlchemyError) -> str:
    """The database's own first line of an error, without SQLAlchemy's statement dump."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def _create_or_migrate(conn: Connection, shown_url: str) -> None:
    tables = set(inspect(conn).get_table_names())
    if not tables:
        Base.metadata.create_all(conn)
        conn.execute(
            insert(StoreMeta),
            [
                {"key": "app", "value": APP_NAME},
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            ],
        )
        return
    if StoreMeta.__tablename__ not in tables:
        found = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"{shown_url} is not a simple-risk store: it holds other tables ({found}) and no "
            f"{StoreMeta.__tablename__}; refusing to touch it. Point the store at an empty "
            "database or at one simple-risk created."
        )
    meta: dict[str, str] = {
        key: value for key, value in conn.execute(select(StoreMeta.key, StoreMeta.value))
    }
    raw_version = meta.get("schema_version", "")
    if meta.get("app") != APP_NAME or not raw_version.isdigit():
        raise StoreError(
            f"{shown_url} is not a simple-risk store (store_meta says app={meta.get('app')!r}, "
            f"schema_version={raw_version!r}); refusing to touch it."
        )
    version = int(raw_version)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {shown_url} has schema version {version}, newer than this simple-risk "
            f"understands ({SCHEMA_VERSION}): a newer simple-risk wrote it. Upgrade "
            "simple-risk or open another database; this one was not changed."
        )
    if version < OLDEST_MIGRATABLE:
        raise StoreError(
            f"store {shown_url} has schema version {version}, older than any this "
            f"simple-risk can migrate (oldest: {OLDEST_MIGRATABLE}); it was not changed."
        )
    if version < SCHEMA_VERSION:
        migrate(conn, version, SCHEMA_VERSION)
        conn.execute(
            update(StoreMeta)
            .where(StoreMeta.key == "schema_version")
            .values(value=str(SCHEMA_VERSION))
        )


def _enable_wal(engine: Engine, shown_url: str, attempts: int = 200) -> None:
    """Switch the database to WAL. The switch needs the database to itself, and SQLite does
    not wait on its busy timeout for it: daemons starting together retry it briefly."""
    for attempt in range(attempts):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            row = cursor.fetchone()
            cursor.close()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise StoreError(f"cannot open store {shown_url}: {exc}") from exc
        finally:
            raw.close()
        time.sleep(0.05)
    mode = str(row[0]).lower() if row else ""
    if mode != "wal":
        raise StoreError(
            f"store {shown_url}: SQLite refused WAL mode (journal_mode={mode!r}); a network "
            "filesystem cannot hold the store, put it on a local disk"
        )


def _sqlite_engine(url: URL, busy_timeout: timedelta) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise StoreError(
            "the SQLite store must be a file (sqlite:///PATH): an in-memory database forgets "
            "every lockout when the daemon stops"
        )
    timeout_ms = int(busy_timeout.total_seconds() * 1000)
    # The pool hands each connection to one thread at a time, so sqlite3's same-thread
    # check only gets in the way of a store shared by the daemon's threads.
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin hook emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = bool(conn.get_execution_options().get(WRITE_OPTION, False))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


__all__ = [
    "APP_NAME",
    "DAEMON_PRIVILEGES",
    "WRITE_OPTION",
    "Dialect",
    "connect",
    "missing_privileges",
    "prepare_schema",
    "reason",
]
