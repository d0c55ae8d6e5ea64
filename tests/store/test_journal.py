"""The journal gives back, in order and per account, exactly the events that were appended."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_risk.engine.codec import EVENT_TYPES
from simple_risk.engine.events import ClockTick, Event, Quote
from simple_risk.store import Store, StoreError

from .samples import ACCOUNT, OTHER_ACCOUNT, T0, fills
from .test_codec import OFFSETS, dataclass_strategy


def test_events_come_back_in_order_with_gapless_seqs(store: Store) -> None:
    assert store.append_events(ACCOUNT, fills()[:2]) == [1, 2]
    assert store.append_events(OTHER_ACCOUNT, fills(OTHER_ACCOUNT)) == [1, 2, 3, 4]
    assert store.append_events(ACCOUNT, fills()[2:]) == [3, 4]
    assert store.append_events(ACCOUNT, []) == []
    entries = store.events_since(ACCOUNT, 0)
    assert [e.event for e in entries] == fills()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.at for e in entries] == [event.at for event in fills()]
    assert store.last_seq(ACCOUNT) == 4
    assert store.last_seq(123) == 0


def test_replay_starts_after_the_snapshot_seq(store: Store) -> None:
    store.append_events(ACCOUNT, fills())
    assert [e.seq for e in store.events_since(ACCOUNT, 2)] == [3, 4]
    assert [e.seq for e in store.events_since(ACCOUNT, 1, limit=2)] == [2, 3]
    assert store.events_since(ACCOUNT, 4) == []


def test_events_without_an_account_are_journaled_under_the_account_they_drive(
    store: Store,
) -> None:
    tick = ClockTick(at=T0)
    quote = Quote(at=T0 + timedelta(milliseconds=5), contract_id="CON.F.US.MNQ.Z26")
    store.append_events(ACCOUNT, [tick, quote])
    assert [e.event for e in store.events_since(ACCOUNT, 0)] == [tick, quote]


def test_an_event_of_another_account_is_refused_and_nothing_is_appended(store: Store) -> None:
    mixed = [*fills(), fills(OTHER_ACCOUNT)[0]]
    with pytest.raises(StoreError, match=f"belongs to account {OTHER_ACCOUNT}, not {ACCOUNT}"):
        store.append_events(ACCOUNT, mixed)
    assert store.last_seq(ACCOUNT) == 0


def test_a_naive_event_time_is_refused(store: Store) -> None:
    naive = dataclasses.replace(fills()[0], at=T0.replace(tzinfo=None))
    with pytest.raises(StoreError, match="timezone-aware"):
        store.append_events(ACCOUNT, [naive])


def test_the_journal_survives_reopening(open_store: Callable[[], Store]) -> None:
    first = open_store()
    first.append_events(ACCOUNT, fills())
    first.close()
    assert [e.event for e in open_store().events_since(ACCOUNT, 0)] == fills()


_accounts = itertools.count(1)

# Engine times of real events: the database stores them in UTC, which a datetime near year 1
# or 9999 with an offset cannot be converted to.
_REALISTIC_TIMES = {
    datetime: st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=OFFSETS
    )
}


def with_account(event: Event, account: int) -> Event:
    changes: dict[str, Any] = {"account_id": account}
    return dataclasses.replace(event, **changes)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch=st.lists(
        st.sampled_from(list(EVENT_TYPES.values())).flatmap(
            lambda cls: dataclass_strategy(cls, _REALISTIC_TIMES)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_events_round_trip_through_the_database(store: Store, batch: list[Event]) -> None:
    # Each example writes to an account of its own, so the shared store needs no reset.
    account = next(_accounts)
    batch = [with_account(e, account) if hasattr(e, "account_id") else e for e in batch]
    seqs = store.append_events(account, batch)
    assert [e.event for e in store.events_since(account, 0)] == batch
    assert seqs == list(range(1, len(batch) + 1))
