"""Who gets a status connection: per-user caps, the admin's reserve, one probation per user."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.config import StatusLimits
from simple_risk.daemon.control.admission import (
    ADMIN,
    BUSY,
    ORDINARY,
    PROBATION,
    Admission,
    Refused,
    Slot,
)
from simple_risk.daemon.control.auth import Peer

LIMITS = StatusLimits(
    max_connections=10, per_user_connections=3, admin_reserved_connections=2, idle_timeout=5
)


def user(uid: int) -> Peer:
    return Peer("unix", uid=uid, pid=100 + uid, user=f"u{uid}")


def test_a_user_holds_at_most_its_cap_then_one_reserved_slot_on_probation() -> None:
    admission = Admission(LIMITS)
    slots = [admission.admit(user(1)) for _ in range(3)]
    assert [slot.pool for slot in slots] == [ORDINARY] * 3
    assert admission.admit(user(1)).pool == PROBATION
    with pytest.raises(Refused, match="already holds 3, the most one user may") as refused:
        admission.admit(user(1))
    assert str(refused.value).startswith(BUSY)
    # another user is not held back by the first one's cap
    assert admission.admit(user(2)).pool == ORDINARY


def test_an_admin_connection_leaves_probation_and_frees_it_for_the_next_one() -> None:
    admission = Admission(LIMITS)
    for _ in range(3):
        admission.admit(user(1))
    first = admission.admit(user(1))
    admission.promote(first)
    assert first.pool == ADMIN
    second = admission.admit(user(1))  # the reserve's second slot, on probation
    assert second.pool == PROBATION
    assert admission.counts() == {ORDINARY: 3, PROBATION: 1, ADMIN: 1}
    with pytest.raises(Refused):
        admission.admit(user(1))  # its cap reached, and the reserve full


def test_when_every_ordinary_slot_is_taken_only_the_reserve_is_left() -> None:
    admission = Admission(LIMITS)
    for uid in range(1, 4):
        for _ in range(3):
            admission.admit(user(uid))  # 9 would be taken; 8 are ordinary
    assert admission.counts()[ORDINARY] == 8
    assert admission.counts()[PROBATION] == 1  # the 9th: user 3 went on probation
    assert admission.admit(user(4)).pool == PROBATION
    with pytest.raises(Refused, match="all 10 are taken"):
        admission.admit(user(5))


def test_releasing_gives_the_slot_back_once() -> None:
    admission = Admission(LIMITS)
    slot = admission.admit(user(1))
    admission.release(slot)
    admission.release(slot)
    assert admission.counts() == {ORDINARY: 0, PROBATION: 0, ADMIN: 0}


def test_every_tcp_client_counts_as_one_user_whatever_its_loopback_address() -> None:
    admission = Admission(LIMITS)
    for host in ("127.0.0.1", "127.0.0.2", "127.1.2.3"):
        admission.admit(Peer("tcp", address=f"{host}:5000"))
    assert admission.admit(Peer("tcp", address="127.9.9.9:6000")).pool == PROBATION
    with pytest.raises(Refused):
        admission.admit(Peer("tcp", address="127.8.8.8:6001"))
    assert admission.admit(user(1)).pool == ORDINARY


operations = st.lists(
    st.tuples(st.sampled_from(["admit", "release", "promote"]), st.integers(1, 4)),
    max_size=60,
)


@given(operations)
def test_no_sequence_of_connections_breaks_the_caps(steps: list[tuple[str, int]]) -> None:
    admission = Admission(LIMITS)
    held: list[Slot] = []
    for action, n in steps:
        if action == "admit":
            with contextlib.suppress(Refused):
                held.append(admission.admit(user(n)))
        elif held:
            slot = held[n % len(held)]
            if action == "release":
                admission.release(slot)
                held.remove(slot)
            else:
                admission.promote(slot)
        live = [slot for slot in held if not slot.released]
        ordinary = [slot for slot in live if slot.pool == ORDINARY]
        reserve = [slot for slot in live if slot.pool != ORDINARY]
        probation = [slot.key for slot in live if slot.pool == PROBATION]
        limits = LIMITS
        assert len(ordinary) <= limits.max_connections - limits.admin_reserved_connections
        assert len(reserve) <= limits.admin_reserved_connections
        assert len(probation) == len(set(probation))  # one per user
        for key in {slot.key for slot in ordinary}:
            assert sum(1 for slot in ordinary if slot.key == key) <= limits.per_user_connections
        assert admission.counts() == {
            ORDINARY: len(ordinary),
            PROBATION: len(probation),
            ADMIN: len(reserve) - len(probation),
        }
