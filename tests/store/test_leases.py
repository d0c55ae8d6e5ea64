"""One daemon enforces an account at a time: the lease can never be held twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from simple_risk.store import LeaseLost, Store

from .samples import ACCOUNT, OTHER_ACCOUNT, T0, daily_loss_firing, flatten_intents

TTL = timedelta(seconds=15)


def test_a_second_daemon_cannot_take_a_live_lease(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    assert a.acquire_lease(ACCOUNT, "daemon-a", TTL, T0)
    assert not b.acquire_lease(ACCOUNT, "daemon-b", TTL, T0 + timedelta(seconds=1))
    assert not b.acquire_lease(
        ACCOUNT, "daemon-b", TTL, T0 + timedelta(seconds=14, microseconds=999_999)
    )
    assert b.acquire_lease(OTHER_ACCOUNT, "daemon-b", TTL, T0)
    lease = b.lease(ACCOUNT)
    assert lease is not None
    assert (lease.owner, lease.acquired_at, lease.expires_at) == ("daemon-a", T0, T0 + TTL)


def test_an_expired_lease_is_taken_over(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    assert a.acquire_lease(ACCOUNT, "daemon-a", TTL, T0)
    # daemon-a froze and did not renew: at expiry daemon-b takes over.
    assert b.acquire_lease(ACCOUNT, "daemon-b", TTL, T0 + TTL)
    lease = a.lease(ACCOUNT)
    assert lease is not None
    assert (lease.owner, lease.acquired_at) == ("daemon-b", T0 + TTL)
    # daemon-a wakes up: it can neither renew nor take the lease back.
    assert not a.renew_lease(ACCOUNT, "daemon-a", TTL, T0 + TTL + timedelta(seconds=1))
    assert not a.acquire_lease(ACCOUNT, "daemon-a", TTL, T0 + TTL + timedelta(seconds=1))


def test_a_lease_is_taken_over_from_a_named_owner_only_while_that_owner_holds_it(
    open_store: Callable[[], Store],
) -> None:
    """A daemon that knows a live lease is its own under an earlier name takes it at once —
    from that name only: once another daemon holds the row, nothing changes."""
    a, b = open_store(), open_store()
    assert a.acquire_lease(ACCOUNT, "host:/data", TTL, T0)
    later = T0 + timedelta(seconds=1)
    assert b.take_over_lease(ACCOUNT, "host:/data", "host:/data:install", TTL, later)
    lease = a.lease(ACCOUNT)
    assert lease is not None
    assert (lease.owner, lease.acquired_at, lease.expires_at) == (
        "host:/data:install",
        later,
        later + TTL,
    )
    assert not a.take_over_lease(ACCOUNT, "host:/data", "daemon-c", TTL, later)
    assert not a.take_over_lease(OTHER_ACCOUNT, "host:/data", "daemon-c", TTL, later)
    assert a.lease(OTHER_ACCOUNT) is None


def test_renewing_extends_only_a_live_lease_of_its_owner(store: Store) -> None:
    assert store.acquire_lease(ACCOUNT, "daemon-a", TTL, T0)
    assert store.renew_lease(ACCOUNT, "daemon-a", TTL, T0 + timedelta(seconds=10))
    lease = store.lease(ACCOUNT)
    assert lease is not None
    assert (lease.acquired_at, lease.expires_at) == (T0, T0 + timedelta(seconds=25))
    assert not store.renew_lease(ACCOUNT, "daemon-b", TTL, T0 + timedelta(seconds=11))
    # Lapsed: another daemon may have acted, so renewal is refused; acquiring works again.
    assert not store.renew_lease(ACCOUNT, "daemon-a", TTL, T0 + timedelta(seconds=25))
    assert store.acquire_lease(ACCOUNT, "daemon-a", TTL, T0 + timedelta(seconds=26))
    lease = store.lease(ACCOUNT)
    assert lease is not None
    assert lease.acquired_at == T0  # the same owner's tenure continues
    assert not store.renew_lease(OTHER_ACCOUNT, "daemon-a", TTL, T0)


def test_releasing_lets_the_next_daemon_in_at_once(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    assert a.acquire_lease(ACCOUNT, "daemon-a", TTL, T0)
    assert not b.release_lease(ACCOUNT, "daemon-b")
    assert a.release_lease(ACCOUNT, "daemon-a")
    assert a.lease(ACCOUNT) is None
    assert b.acquire_lease(ACCOUNT, "daemon-b", TTL, T0 + timedelta(seconds=1))


def test_racing_daemons_never_both_hold_the_lease(open_store: Callable[[], Store]) -> None:
    stores = [open_store() for _ in range(2)]
    rounds = 15
    winners: list[list[str]] = [[] for _ in range(rounds)]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def contend(store: Store, owner: str) -> None:
        try:
            for round_no in range(rounds):
                # Every round starts after the previous lease expired, so each is a fair race.
                now = T0 + round_no * 2 * TTL
                barrier.wait()
                if store.acquire_lease(ACCOUNT, owner, TTL, now):
                    winners[round_no].append(owner)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=contend, args=(stores[i % 2], f"daemon-{i}")) for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert [len(w) for w in winners] == [1] * rounds, winners
    final = stores[0].lease(ACCOUNT)
    assert final is not None
    assert final.owner == winners[-1][0]


def test_only_the_lease_holder_may_start_enforcing(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    a.record_firing(daily_loss_firing(), [], flatten_intents())
    key = flatten_intents()[1]["key"]
    assert a.acquire_lease(ACCOUNT, "daemon-a", TTL, T0)
    assert a.holds_lease(ACCOUNT, "daemon-a", T0 + timedelta(seconds=1))
    assert not b.holds_lease(ACCOUNT, "daemon-b", T0 + timedelta(seconds=1))
    with pytest.raises(LeaseLost, match=r"daemon-b does not hold the lease.*held by daemon-a"):
        b.intent_started(key, T0 + timedelta(seconds=1), lease_owner="daemon-b")
    intent = b.intent(key)
    assert intent is not None
    assert intent.state == "pending"
    started = a.intent_started(key, T0 + timedelta(seconds=2), lease_owner="daemon-a")
    assert started.state == "in_flight"
    # daemon-a's lease lapsed while it was stalled: it must not go on enforcing.
    assert not a.holds_lease(ACCOUNT, "daemon-a", T0 + TTL)
    with pytest.raises(LeaseLost, match="until"):
        a.intent_started(key, T0 + TTL, lease_owner="daemon-a")
