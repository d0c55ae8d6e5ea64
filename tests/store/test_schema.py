"""Creating, checking and migrating the schema; refusing databases the store does not own."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from simple_risk.store import SCHEMA_VERSION, Store, StoreError
from simple_risk.store.models import Base

from .samples import ACCOUNT, DAY_END, T0, fills


@pytest.fixture
def raw_engine(store_url: str) -> Iterator[Engine]:
    """A plain engine on the test database, for building and inspecting it by hand."""
    url = make_url(store_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def fingerprint(engine: Engine, store_url: str) -> Any:
    """Everything that could change if the store touched the database."""
    if make_url(store_url).get_backend_name() == "sqlite":
        path = Path(make_url(store_url).database or "")
        return hashlib.sha256(path.read_bytes()).hexdigest()
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        meta = conn.execute(text("SELECT key, value FROM store_meta ORDER BY key")).all()
    return tables, [tuple(row) for row in meta]


def schema_shape(engine: Engine) -> dict[str, Any]:
    """Tables, columns (with nullability), unique constraints and indexes, by name."""
    insp = inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        shape[table] = {
            "columns": sorted((c["name"], bool(c["nullable"])) for c in insp.get_columns(table)),
            "pk": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]))
                for i in insp.get_indexes(table)
                if not i.get("unique")
            ),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in insp.get_foreign_keys(table)
            ),
        }
    return shape


def test_a_new_database_gets_the_current_schema(store: Store, raw_engine: Engine) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert set(inspect(raw_engine).get_table_names()) == set(Base.metadata.tables)
    with raw_engine.connect() as conn:
        meta = {k: v for k, v in conn.execute(text("SELECT key, value FROM store_meta"))}
    assert meta == {"app": "simple-risk", "schema_version": str(SCHEMA_VERSION)}


def test_reopening_a_current_store_changes_nothing(
    open_store: Callable[[], Store], raw_engine: Engine, store_url: str
) -> None:
    first = open_store()
    first.append_events(ACCOUNT, fills())
    first.close()
    before = schema_shape(raw_engine)
    again = open_store()
    assert again.schema_version() == SCHEMA_VERSION
    assert schema_shape(raw_engine) == before
    assert [e.seq for e in again.events_since(ACCOUNT, 0)] == [1, 2, 3, 4]


def test_sqlite_runs_in_wal_with_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/store.db") as store:
        engine: Engine = store._engine
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_a_newer_schema_is_refused_and_left_untouched(
    open_store: Callable[[], Store], raw_engine: Engine, store_url: str
) -> None:
    open_store().close()
    with raw_engine.begin() as conn:
        conn.execute(
            text("UPDATE store_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(SCHEMA_VERSION + 1)},
        )
    raw_engine.dispose()
    before = fingerprint(raw_engine, store_url)
    with pytest.raises(StoreError) as refused:
        Store.open(store_url)
    message = str(refused.value)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this simple-risk" in message
    assert "was not changed" in message
    raw_engine.dispose()
    assert fingerprint(raw_engine, store_url) == before


def test_a_database_of_something_else_is_refused_and_left_untouched(
    raw_engine: Engine, store_url: str
) -> None:
    with raw_engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)"))
        conn.execute(text("INSERT INTO invoices (id, total) VALUES (1, '99.90')"))
    raw_engine.dispose()
    if make_url(store_url).get_backend_name() == "sqlite":
        before = fingerprint(raw_engine, store_url)
    with pytest.raises(StoreError, match=r"is not a simple-risk store.*\(invoices\).*refusing"):
        Store.open(store_url)
    with raw_engine.connect() as conn:
        assert inspect(conn).get_table_names() == ["invoices"]
        assert conn.execute(text("SELECT total FROM invoices")).scalar() == "99.90"
    raw_engine.dispose()
    if make_url(store_url).get_backend_name() == "sqlite":
        assert fingerprint(raw_engine, store_url) == before


def test_a_store_meta_without_a_version_is_refused(
    open_store: Callable[[], Store], raw_engine: Engine
) -> None:
    open_store().close()
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE store_meta SET value = 'two' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="schema_version='two'"):
        open_store()


# Version 1, written out by hand the way the first release created it: no leases table and no
# bindings column on lockouts. {pk} {ts} {json} differ between SQLite and PostgreSQL.
V1_DDL = """
CREATE TABLE store_meta (key VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (
    id {pk}, account BIGINT NOT NULL, seq BIGINT NOT NULL, at {ts} NOT NULL,
    kind VARCHAR(40) NOT NULL, payload {json} NOT NULL,
    CONSTRAINT uq_journal_account_seq UNIQUE (account, seq));
CREATE TABLE firings (
    id {pk}, rule_id VARCHAR(200) NOT NULL, account BIGINT NOT NULL,
    item_key VARCHAR(300) NOT NULL, fired_at {ts} NOT NULL, severity VARCHAR(20) NOT NULL,
    message TEXT NOT NULL, decisive {json} NOT NULL, intents {json} NOT NULL,
    journal_seq BIGINT,
    CONSTRAINT uq_firing_episode UNIQUE (rule_id, account, item_key, fired_at));
CREATE INDEX ix_firings_fired_at ON firings (fired_at);
CREATE TABLE intents (
    key VARCHAR(300) NOT NULL PRIMARY KEY, account BIGINT NOT NULL,
    firing_id BIGINT REFERENCES firings (id), rule_id VARCHAR(200) NOT NULL,
    kind VARCHAR(60) NOT NULL, body {json} NOT NULL, ordinal INTEGER NOT NULL,
    state VARCHAR(12) NOT NULL,
    attempts INTEGER NOT NULL, last_error TEXT, created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL, finished_at {ts});
CREATE INDEX ix_intents_state ON intents (state);
CREATE TABLE intent_attempts (
    id {pk}, intent_key VARCHAR(300) NOT NULL REFERENCES intents (key), at {ts} NOT NULL,
    outcome VARCHAR(20) NOT NULL, request {json}, response {json}, error TEXT);
CREATE INDEX ix_intent_attempts_key ON intent_attempts (intent_key);
CREATE TABLE lockouts (
    id {pk}, account BIGINT NOT NULL, scope VARCHAR(10) NOT NULL, symbol VARCHAR(40),
    rule_id VARCHAR(200) NOT NULL, reason TEXT NOT NULL,
    firing_id BIGINT REFERENCES firings (id), start_at {ts} NOT NULL, end_at {ts},
    while_expr TEXT, cleared_at {ts}, cleared_by VARCHAR(200), clear_reason TEXT);
CREATE INDEX ix_lockouts_account_cleared ON lockouts (account, cleared_at);
CREATE TABLE engine_snapshots (
    id {pk}, account BIGINT, at {ts} NOT NULL, journal_seq BIGINT, state {json} NOT NULL);
CREATE INDEX ix_engine_snapshots_account_at ON engine_snapshots (account, at);
CREATE TABLE contract_cache (
    contract_id VARCHAR(80) NOT NULL PRIMARY KEY, payload {json} NOT NULL,
    updated_at {ts} NOT NULL);
CREATE TABLE admin_actions (
    id {pk}, at {ts} NOT NULL, actor VARCHAR(200) NOT NULL, action VARCHAR(100) NOT NULL,
    account BIGINT, args {json} NOT NULL, why TEXT NOT NULL, result TEXT NOT NULL);
CREATE INDEX ix_admin_actions_at ON admin_actions (at);
INSERT INTO store_meta (key, value) VALUES ('app', 'simple-risk'), ('schema_version', '1');
INSERT INTO firings (rule_id, account, item_key, fired_at, severity, message, decisive,
    intents, journal_seq)
VALUES ('daily-realized-loss', {account}, '', '2026-11-24 15:00:00.000000', 'critical',
    'Daily realized P&L -501.74 reached the -500 limit', '{{"day.realized_pnl": "-501.74"}}',
    '[]', 3);
INSERT INTO lockouts (account, scope, rule_id, reason, firing_id, start_at, end_at)
VALUES ({account}, 'account', 'daily-realized-loss', 'daily loss limit', 1,
    '2026-11-24 15:00:00.000000', '2026-11-24 23:00:00.000000');
INSERT INTO lockouts (account, scope, symbol, rule_id, reason, start_at, while_expr)
VALUES ({account}, 'symbol', 'RTY', 'symbol-blocks', 'blocked root',
    '2026-11-24 15:00:00.000000', 'lock.symbol in lists.blocked_symbols');
"""


def build_v1(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        types = {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "json": "JSON"}
    else:
        types = {"pk": "BIGSERIAL PRIMARY KEY", "ts": "TIMESTAMP WITHOUT TIME ZONE", "json": "JSON"}
    script = V1_DDL.format(account=ACCOUNT, **types)
    with engine.begin() as conn:
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def test_a_version_1_store_is_migrated_with_its_lockouts_intact(
    raw_engine: Engine, store_url: str, tmp_path: Path
) -> None:
    build_v1(raw_engine)
    raw_engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        locks = store.active_lockouts(T0 + timedelta(hours=1), ACCOUNT)
        assert [(lock.scope, lock.symbol, lock.end, lock.while_expr) for lock in locks] == [
            ("account", None, DAY_END, None),
            ("symbol", "RTY", None, "lock.symbol in lists.blocked_symbols"),
        ]
        assert all(lock.bindings == {} for lock in locks)
        # What version 2 added works on the migrated database.
        assert store.acquire_lease(ACCOUNT, "daemon-a", timedelta(seconds=30), T0)
        history = store.history(T0 - timedelta(days=1), kinds=["firing"])
        assert [item.details["values"] for item in history] == [{"day.realized_pnl": "-501.74"}]
        # ... and what version 3 added: the daemon's alerts, in history
        store.record_alert(at=T0, level="critical", message="hub down", account=None)
        (alert,) = store.history(T0 - timedelta(days=1), kinds=["alert"])
        assert alert.summary == "critical: hub down"

    # The migrated schema is the one a fresh store gets.
    with fresh_database(store_url, tmp_path) as fresh_url:
        Store.open(fresh_url).close()
        fresh = create_engine(plain_url(fresh_url))
        try:
            assert schema_shape(raw_engine) == schema_shape(fresh)
        finally:
            fresh.dispose()


@contextmanager
def fresh_database(store_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as the test's."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    schema = f"sr_fresh_{uuid.uuid4().hex[:16]}"
    admin = create_engine(plain_url(store_url))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        options = {"options": f"-csearch_path={schema}"}
        yield url.update_query_dict(options).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def plain_url(store_url: str) -> Any:
    url = make_url(store_url)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def test_a_failed_migration_leaves_the_version_1_store_as_it_was(
    raw_engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_v1(raw_engine)
    raw_engine.dispose()
    from simple_risk.store import migrations

    def broken_step(conn: Any) -> None:
        conn.exec_driver_sql("CREATE TABLE leases (account BIGINT PRIMARY KEY)")
        raise RuntimeError("disk full halfway through the migration")

    monkeypatch.setitem(migrations.MIGRATIONS, 1, broken_step)
    with pytest.raises(RuntimeError, match="halfway"):
        Store.open(store_url)
    with raw_engine.connect() as conn:
        assert "leases" not in inspect(conn).get_table_names()
        version = conn.execute(
            text("SELECT value FROM store_meta WHERE key = 'schema_version'")
        ).scalar()
    assert version == "1"
    monkeypatch.undo()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_urls_the_store_cannot_use_are_explained(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="must be a file"):
        Store.open("sqlite://")
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        Store.open("mysql://root@localhost/risk")
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("store.db")
    with pytest.raises(StoreError, match="cannot open store"):
        Store.open(f"sqlite:///{tmp_path}/no/such/dir/store.db")


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open store") as refused:
        Store.open("postgresql://risk:hunter2@127.0.0.1:1/risk")
    assert "hunter2" not in str(refused.value)
    assert "risk:***@127.0.0.1:1" in str(refused.value)


def test_times_read_back_aware_in_utc(store: Store) -> None:
    chicago_evening = datetime(2026, 11, 24, 17, 0, tzinfo=UTC) - timedelta(hours=6)
    firing = {
        "rule": "r",
        "account": ACCOUNT,
        "at": chicago_evening.astimezone(),
        "severity": "info",
        "message": "m",
    }
    store.record_firing(firing)
    (item,) = store.history(chicago_evening - timedelta(seconds=1))
    assert item.at == chicago_evening
    assert item.at.tzinfo is UTC
