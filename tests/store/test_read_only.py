"""A database that cannot take writes for now — a read-only SQLite file, a PostgreSQL standby
after a failover, a session forced read-only — is *unavailable*, not broken: the daemon holds
the writes and tries them again (docs/daemon.md "the store unavailable"), instead of dropping
each one as a write that can never succeed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
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
