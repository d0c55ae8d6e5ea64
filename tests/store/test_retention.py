"""The journal's retention: old entries go only behind a snapshot that covers them, oldest
first, in batches, and never the newest entry nor the record of an order of the daemon's
still working; ``engine history`` learns where the kept journal begins."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from simple_risk.engine.events import OwnOrder, TradeFill
from simple_risk.store import LeaseLost, Store, StoreError
from simple_risk.store.database import DAEMON_PRIVILEGES

from .samples import ACCOUNT, OTHER_ACCOUNT, T0, fills

DAY = timedelta(days=1)


def _days_of_fills(store: Store, days: int, account: int = ACCOUNT) -> None:
    """A round trip a day for ``days`` days from T0: four entries a day (seqs 1-4 on day 0,
    5-8 on day 1 …), each day's fill a trade of its own."""
    for day in range(days):
        store.append_events(account, _day(account, day))


def _day(account: int, day: int) -> list[Any]:
    return [
        dataclasses.replace(event, trade_id=event.trade_id + day)
        if isinstance(event, TradeFill)
        else event
        for event in fills(account, start=T0 + day * DAY)
    ]


def _snapshot(store: Store, seq: int, account: int = ACCOUNT) -> int:
    store.save_snapshot(account, T0, {"engine": {"seq": seq}}, seq)
    newest = store.latest_snapshot(account)
    assert newest is not None and newest.id is not None
    return newest.id


def _seqs(store: Store, account: int = ACCOUNT) -> list[int]:
    return [entry.seq for entry in store.events_since(account, 0)]


def _prune_all(store: Store, snapshot_id: int, **kwargs: Any) -> int:
    gone, more = store.prune_journal(ACCOUNT, snapshot_id=snapshot_id, **kwargs)
    while more:
        batch, more = store.prune_journal(ACCOUNT, snapshot_id=snapshot_id, **kwargs)
        gone += batch
    return gone


def test_entries_older_than_the_retention_and_covered_by_the_snapshot_go(store: Store) -> None:
    _days_of_fills(store, 3)
    snapshot = _snapshot(store, 12)
    assert store.prune_journal(ACCOUNT, before=T0 + 2 * DAY, snapshot_id=snapshot) == (8, False)
    assert _seqs(store) == [9, 10, 11, 12]
    assert store.last_seq(ACCOUNT) == 12


def test_nothing_after_the_newest_snapshot_goes_however_old(store: Store) -> None:
    _days_of_fills(store, 3)
    snapshot = _snapshot(store, 6)
    gone = _prune_all(store, snapshot, before=T0 + 30 * DAY)
    assert gone == 6
    assert _seqs(store) == [7, 8, 9, 10, 11, 12]  # a restart replays these after seq 6


def test_nothing_goes_without_a_snapshot(store: Store) -> None:
    _days_of_fills(store, 2)
    assert store.latest_snapshot(ACCOUNT) is None
    with pytest.raises(StoreError):
        store.prune_journal(ACCOUNT, before=T0 + 30 * DAY, snapshot_id=0, limit=0)
    assert store.prune_journal(ACCOUNT, before=T0 + 30 * DAY, snapshot_id=1) == (0, False)
    assert _seqs(store) == list(range(1, 9))


def test_a_snapshot_saved_after_the_checked_one_keeps_the_journal_whole(store: Store) -> None:
    """The daemon checked it can restore one snapshot; a newer one (another version's, say)
    is the one a restart would restore, and it was not checked: nothing goes."""
    _days_of_fills(store, 2)
    checked = _snapshot(store, 8)
    _snapshot(store, 8)
    assert store.prune_journal(ACCOUNT, before=T0 + 30 * DAY, snapshot_id=checked) == (0, False)
    assert _seqs(store) == list(range(1, 9))


def test_the_newest_entry_stays_so_numbering_goes_on(store: Store) -> None:
    _days_of_fills(store, 1)
    snapshot = _snapshot(store, 4)
    assert _prune_all(store, snapshot, before=T0 + 30 * DAY) == 3
    assert _seqs(store) == [4]
    assert store.append_events(ACCOUNT, fills(start=T0 + 40 * DAY)[:1]) == [5]


def test_batches_take_the_oldest_first_and_a_stop_between_them_leaves_a_whole_tail(
    open_store: Callable[[], Store],
) -> None:
    store = open_store()
    _days_of_fills(store, 5)
    snapshot = _snapshot(store, 20)
    assert store.prune_journal(ACCOUNT, before=T0 + 4 * DAY, snapshot_id=snapshot, limit=5) == (
        5,
        True,
    )
    store.close()  # the daemon is killed between two batches
    reopened = open_store()
    assert _seqs(reopened) == list(range(6, 21))  # no hole: what stays is a suffix
    assert reopened.prune_journal(ACCOUNT, before=T0 + 4 * DAY, snapshot_id=snapshot, limit=5) == (
        5,
        True,
    )
    assert reopened.prune_journal(ACCOUNT, before=T0 + 4 * DAY, snapshot_id=snapshot, limit=5) == (
        5,
        True,
    )
    assert reopened.prune_journal(ACCOUNT, before=T0 + 4 * DAY, snapshot_id=snapshot, limit=5) == (
        1,
        False,
    )
    assert _seqs(reopened) == [17, 18, 19, 20]


def test_other_accounts_are_untouched(store: Store) -> None:
    _days_of_fills(store, 2)
    _days_of_fills(store, 2, OTHER_ACCOUNT)
    snapshot = _snapshot(store, 8)
    _snapshot(store, 8, OTHER_ACCOUNT)
    _prune_all(store, snapshot, before=T0 + DAY)
    assert _seqs(store) == [5, 6, 7, 8]
    assert _seqs(store, OTHER_ACCOUNT) == list(range(1, 9))


def _own(tag: str, order_id: int | None, at_day: int) -> OwnOrder:
    return OwnOrder(
        at=T0 + at_day * DAY, account_id=ACCOUNT, custom_tag=tag, order_id=order_id, size=1
    )


def test_the_record_of_an_own_order_still_working_stays(store: Store) -> None:
    store.append_events(ACCOUNT, [_own("sr-working", 91, 0), _own("sr-ended", 92, 0)])
    _days_of_fills(store, 3)
    store.append_events(ACCOUNT, [_own("sr-pending", None, 2)])
    snapshot = _snapshot(store, store.last_seq(ACCOUNT))
    kept = frozenset({"sr-working", "sr-pending"})
    _prune_all(store, snapshot, before=T0 + 2 * DAY, keep_tags=kept, limit=3)
    left = store.events_since(ACCOUNT, 0)
    own = [entry.event.custom_tag for entry in left if isinstance(entry.event, OwnOrder)]
    assert own == ["sr-working", "sr-pending"]
    assert [entry.seq for entry in left] == [1, 11, 12, 13, 14, 15]


def test_pruning_checks_the_lease_in_the_same_transaction(store: Store) -> None:
    _days_of_fills(store, 2)
    snapshot = _snapshot(store, 8)
    assert store.acquire_lease(ACCOUNT, "other", timedelta(seconds=15), T0 + 30 * DAY)
    with pytest.raises(LeaseLost):
        store.prune_journal(
            ACCOUNT, before=T0 + DAY, snapshot_id=snapshot, lease_owner="me", now=T0 + 30 * DAY
        )
    assert _seqs(store) == list(range(1, 9))


def test_a_journal_pruned_down_to_an_own_order_record_still_says_it_was_pruned(
    store: Store,
) -> None:
    """The newest entry always stays; when it is the record of an order the daemon placed,
    no fill or other fact is left, and history must still learn that the days before it
    were pruned, not take the journal for one that never held a fill."""
    _days_of_fills(store, 2)
    store.append_events(ACCOUNT, [_own("sr-last", 93, 2)])
    snapshot = _snapshot(store, 9)
    _prune_all(store, snapshot, before=T0 + 30 * DAY)
    assert _seqs(store) == [9]
    assert store.journal_kept_since() == {ACCOUNT: T0 + 2 * DAY}


def test_a_role_that_may_not_delete_is_refused_and_the_journal_stays_whole(
    store_url: str, open_store: Callable[[], Store]
) -> None:
    """A desk that granted the daemon's role what it needed before retention existed (no
    DELETE on journal): the prune is refused, changing nothing, and the journal still takes
    appends."""
    if make_url(store_url).get_backend_name() != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    owner = open_store()
    _days_of_fills(owner, 2)
    snapshot = _snapshot(owner, 8)
    role = f"no_delete_{uuid.uuid4().hex[:12]}"
    parsed = make_url(store_url)
    options = str(parsed.query.get("options", ""))
    schema = options.split("search_path=", 1)[1].split()[0]
    admin = create_engine(parsed)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            for table, privileges in DAEMON_PRIVILEGES.items():
                granted = ", ".join(privileges)
                conn.execute(text(f'GRANT {granted} ON "{schema}"."{table}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
        as_daemon = parsed.update_query_dict({"options": f"{options} -crole={role}"})
        daemon = Store.open(as_daemon.render_as_string(hide_password=False))
        try:
            assert daemon.missing_privileges() == []  # it may start
            with pytest.raises(StoreError):
                daemon.prune_journal(ACCOUNT, before=T0 + 30 * DAY, snapshot_id=snapshot)
            assert _seqs(daemon) == list(range(1, 9))
            assert daemon.append_events(ACCOUNT, fills(start=T0 + 2 * DAY)[:1]) == [9]
        finally:
            daemon.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_history_learns_where_the_kept_journal_begins(store: Store) -> None:
    _days_of_fills(store, 3)
    store.append_events(OTHER_ACCOUNT, fills(OTHER_ACCOUNT))
    assert store.journal_kept_since() == {}
    before = store.history(T0 + 2 * DAY, kinds=["fill"])
    snapshot = _snapshot(store, 12)
    _prune_all(store, snapshot, before=T0 + 2 * DAY)
    kept = store.journal_kept_since()
    assert kept == {ACCOUNT: fills(start=T0 + 2 * DAY)[0].at}
    assert store.journal_kept_since(OTHER_ACCOUNT) == {}
    assert store.history(T0 + 2 * DAY, kinds=["fill"]) == before  # the retained days: as before


_accounts = itertools.count(1)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    days=st.integers(min_value=1, max_value=5),
    snapshot_day=st.integers(min_value=0, max_value=5),
    cutoff_day=st.integers(min_value=0, max_value=7),
    limit=st.integers(min_value=1, max_value=9),
)
def test_property_what_stays_is_every_entry_after_the_cut_and_the_snapshot(
    open_store: Callable[[], Store], days: int, snapshot_day: int, cutoff_day: int, limit: int
) -> None:
    store = open_store()
    account = next(_accounts)
    _days_of_fills(store, days, account)
    last = store.last_seq(account)
    covered = min(4 * snapshot_day, last)
    store.save_snapshot(account, T0, {"engine": {}}, covered)
    newest = store.latest_snapshot(account)
    assert newest is not None and newest.id is not None
    whole = store.events_since(account, 0)
    more = True
    while more:
        _, more = store.prune_journal(
            account, before=T0 + cutoff_day * DAY, snapshot_id=newest.id, limit=limit
        )
    left = store.events_since(account, 0)
    first = left[0].seq
    assert left == whole[first - 1 :]  # a suffix, unchanged
    assert left[-1].seq == last
    assert first - 1 <= covered  # nothing the snapshot does not cover went
    gone = whole[: first - 1]
    assert all(entry.at < T0 + cutoff_day * DAY for entry in gone)
    # and nothing more could go: the next entry is needed, recent, or the last one
    nxt = whole[first - 1]
    assert nxt.seq > covered or nxt.at >= T0 + cutoff_day * DAY or nxt.seq == last
