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
        with pytest.raises(StoreUnavailable):
            read_only.append_events(ACCOUNT, fills()[1:])
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
