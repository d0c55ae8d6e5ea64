"""A restart's replay records only the firings the daemon missed (daemon/replay.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.replay import ReplayGuard
from simple_risk.engine import Firing
from simple_risk.store.records import Firing as Recorded

T0 = datetime(2027, 1, 13, 16, tzinfo=UTC)
GRACE = "no-stop-loss-grace"
ITEM = "position:CON.F.US.MNQ.H27"


def _derived(rule: str, item: str, at: datetime) -> Firing:
    return Firing(
        rule_id=rule,
        account=1,
        item=item,
        at=at,
        severity="warning",
        message="",
        values={},
        intents=(),
    )


def _held(rule: str, item: str, at: datetime) -> Recorded:
    return Recorded(
        id=1,
        rule=rule,
        account=1,
        item=item,
        at=at,
        severity="warning",
        message="",
        values={},
        intents=[],
        journal_seq=None,
    )


def test_a_firing_a_tick_set_off_between_two_journaled_events_is_held_already() -> None:
    guard = ReplayGuard([_held(GRACE, ITEM, T0 + timedelta(seconds=1))])
    guard.since = T0  # the position's event; the next journaled event comes 1.02 s later
    assert guard.already(_derived(GRACE, ITEM, T0 + timedelta(seconds=1.02))) is not None
    # another item, or the same item's firing before the tick: not that firing
    assert guard.already(_derived(GRACE, "position:X", T0 + timedelta(seconds=1.02))) is None
    guard.since = T0 + timedelta(seconds=1.01)
    assert guard.already(_derived(GRACE, ITEM, T0 + timedelta(seconds=1.02))) is None


def test_a_firing_missed_in_a_crash_is_recorded_when_nothing_later_is_held() -> None:
    assert ReplayGuard([]).already(_derived(GRACE, ITEM, T0)) is None
    guard = ReplayGuard([_held("max-contracts", "", T0)])
    guard.since = T0 - timedelta(seconds=1)
    assert guard.already(_derived(GRACE, ITEM, T0)) is None  # a sibling of the same event


@given(
    held=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8),
    derived=st.integers(min_value=0, max_value=10_000),
)
def test_nothing_is_recorded_behind_a_later_firing(held: list[int], derived: int) -> None:
    """Whatever the store holds, a replay never records a firing earlier than its newest."""
    guard = ReplayGuard([_held("r", "", T0 + timedelta(milliseconds=ms)) for ms in held])
    verdict = guard.already(_derived("other", "", T0 + timedelta(milliseconds=derived)))
    assert (verdict is not None) == (derived < max(held))


def test_a_firing_held_at_its_own_stamp_is_left_to_the_stores_own_check() -> None:
    guard = ReplayGuard([_held(GRACE, ITEM, T0), _held("other", "", T0 + timedelta(seconds=1))])
    guard.since = T0 - timedelta(seconds=1)
    assert guard.already(_derived(GRACE, ITEM, T0)) is None
