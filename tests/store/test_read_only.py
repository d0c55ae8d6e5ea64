"""A database that cannot take writes for now — a read-only SQLite file, a PostgreSQL standby
after a failover, a session forced read-only — is *unavailable*, not broken: the daemon holds
the writes and tries them again (docs/daemon.md "the store unavailable"), instead of dropping
each one as a write that can never succeed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from simple_risk.store import Store, StoreUnavailable

from .samples import ACCOUNT, daily_loss_firing, day_lockout, fills, flatten_intents


def _read_only(url: str) -> str:
    """The same database, opened so that every write is refused."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = parsed.query.get("options", "")
    assert isinstance(options, str)
    both = f"{options} -cdefault_transaction_read_only=on".strip()
    return parsed.update_query_dict({"options": both}).render_as_string(hide_password=False)


def test_a_database_that_refuses_writes_is_unavailable_not_broken(
    store_url: str, open_store: Callable[[], Store]
) -> None:
    writable = open_store()
    assert writable.append_events(ACCOUNT, fills()[:1]) == [1]
    read_only = Store.open(_read_only(store_url))
    try:
        assert [e.seq for e in read_only.events_since(ACCOUNT, 0)] == [1]  # it reads
        with pytest.raises(StoreUnavailable) as refused:
            read_only.append_events(ACCOUNT, fills()[1:])
        # read-only to this connection alone: another daemon may write (and take a lease)
        assert not refused.value.for_everyone
        with pytest.raises(StoreUnavailable):
            read_only.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    finally:
        read_only.close()
    assert [e.seq for e in writable.events_since(ACCOUNT, 0)] == [1]


def test_a_role_whose_write_privilege_was_revoked_is_unavailable_until_granted_again(
    store_url: str, open_store: Callable[[], Store]
) -> None:
    """An administrator's REVOKE (or a role set up without INSERT) refuses every write with
    SQLSTATE 42501. A GRANT puts it right, after which the same writes succeed: the daemon
    must hold them and say the store is unavailable, not drop them one by one."""
    if make_url(store_url).get_backend_name() != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    writable = open_store()
    assert writable.append_events(ACCOUNT, fills()[:1]) == [1]
    role = f"reader_{uuid.uuid4().hex[:12]}"
    parsed = make_url(store_url)
    options = parsed.query.get("options", "")
    assert isinstance(options, str)
    schema = options.split("search_path=", 1)[1].split()[0]
    admin = create_engine(parsed)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
        as_reader = parsed.update_query_dict({"options": f"{options} -crole={role}"})
        reader = Store.open(as_reader.render_as_string(hide_password=False))
        try:
            assert [e.seq for e in reader.events_since(ACCOUNT, 0)] == [1]  # it reads
            with pytest.raises(StoreUnavailable):
                reader.append_events(ACCOUNT, fills()[1:])
        finally:
            reader.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_a_role_granted_before_the_alerts_table_existed_is_named_at_start(
    store_url: str, open_store: Callable[[], Store]
) -> None:
    """The daemon's role was granted its tables (GRANT … ON ALL TABLES) under version 2;
    the upgrade was migrated by the schema's owner, and the alerts table it created is not
    the daemon's to write. Nothing said so at start, and the first alert kept was refused
    (SQLSTATE 42501, the store unavailable): the writer held it at the head of its queue,
    and every journal write, firing, lockout and snapshot behind it, for as long as the
    daemon ran. The start check names the grant, as for every table the daemon writes."""
    if make_url(store_url).get_backend_name() != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    open_store()
    role = f"daemon_{uuid.uuid4().hex[:12]}"
    parsed = make_url(store_url)
    options = parsed.query.get("options", "")
    assert isinstance(options, str)
    schema = options.split("search_path=", 1)[1].split()[0]
    admin = create_engine(parsed)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            conn.execute(
                text(
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA"
                    f' "{schema}" TO "{role}"'
                )
            )
            conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
            # the version-3 table, created after that grant
            conn.execute(text(f'REVOKE ALL ON "{schema}".alerts FROM "{role}"'))
            conn.execute(text(f'REVOKE ALL ON "{schema}".alerts_id_seq FROM "{role}"'))
        as_daemon = parsed.update_query_dict({"options": f"{options} -crole={role}"})
        daemon = Store.open(as_daemon.render_as_string(hide_password=False))
        try:
            missing = daemon.missing_privileges()
            assert "INSERT on alerts" in missing, missing
            assert f"USAGE on sequence {schema}.alerts_id_seq" in missing, missing
            with pytest.raises(StoreUnavailable):  # what the writer would have held for ever
                daemon.record_alert(at=fills()[0].at, level="warning", message="x", account=None)
        finally:
            daemon.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()
