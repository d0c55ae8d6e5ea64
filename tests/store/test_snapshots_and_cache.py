"""Engine snapshots, the contract cache and the admin audit survive a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from simple_risk.engine.events import ContractInfo
from simple_risk.store import Store, StoreError

from .samples import ACCOUNT, OTHER_ACCOUNT, T0

MNQ = ContractInfo(
    contract_id="CON.F.US.MNQ.Z26",
    symbol_id="F.US.MNQ",
    root="MNQ",
    name="MNQZ6",
    tick_size=Decimal("0.25"),
    tick_value=Decimal("0.50"),
    units=1,
    description="Micro E-mini Nasdaq-100: December 2026",
)


def test_the_latest_snapshot_and_its_journal_seq_come_back(
    open_store: Callable[[], Store],
) -> None:
    store = open_store()
    assert store.latest_snapshot(ACCOUNT) is None
    store.save_snapshot(ACCOUNT, T0, {"day": {"realized_cents": -50174}}, journal_seq=3)
    store.save_snapshot(ACCOUNT, T0 + timedelta(minutes=1), {"day": {"realized_cents": -50200}}, 9)
    store.save_snapshot(OTHER_ACCOUNT, T0 + timedelta(minutes=2), {"day": {}}, 1)
    store.save_snapshot(None, T0, {"calendar": {"trading_day": "2026-11-24"}})
    store.close()
    again = open_store()
    latest = again.latest_snapshot(ACCOUNT)
    assert latest is not None
    assert (latest.at, latest.journal_seq, latest.state) == (
        T0 + timedelta(minutes=1),
        9,
        {"day": {"realized_cents": -50200}},
    )
    glob = again.latest_snapshot(None)
    assert glob is not None
    assert glob.state == {"calendar": {"trading_day": "2026-11-24"}}
    assert again.prune_snapshots(ACCOUNT, keep=1) == 1
    assert again.prune_snapshots(ACCOUNT, keep=1) == 0
    assert again.latest_snapshot(ACCOUNT) == latest


def test_the_snapshot_saved_last_is_the_latest_even_with_an_earlier_engine_time(
    store: Store,
) -> None:
    """A restart that cannot read the newest snapshot (another version's format) rebuilds the
    day from the journal and saves what it rebuilt: the journal has no clock ticks, so that
    state's engine time can be earlier than the unreadable snapshot's. Ordered by engine time,
    the unreadable one stayed the latest: every later restart rebuilt the whole journal again
    and alerted again. The snapshot saved last is the account's state now."""
    store.save_snapshot(ACCOUNT, T0 + timedelta(minutes=5), {"engine": {"version": 99}}, 9)
    store.save_snapshot(ACCOUNT, T0 + timedelta(minutes=3), {"engine": {"version": 1}}, 12)
    latest = store.latest_snapshot(ACCOUNT)
    assert latest is not None
    assert (latest.journal_seq, latest.state) == (12, {"engine": {"version": 1}})
    store.save_snapshot(ACCOUNT, T0 + timedelta(minutes=4), {"engine": {"version": 1}}, 13)
    assert store.prune_snapshots(ACCOUNT, keep=1) == 2
    kept = store.latest_snapshot(ACCOUNT)
    assert kept is not None and kept.journal_seq == 13


def test_a_snapshot_that_is_not_plain_json_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match=r"snapshot\.day\.pnl: Decimal is not plain JSON"):
        store.save_snapshot(ACCOUNT, T0, {"day": {"pnl": Decimal("-1.5")}})
    assert store.latest_snapshot(ACCOUNT) is None


def test_contract_metadata_is_cached_and_replaced(open_store: Callable[[], Store]) -> None:
    store = open_store()
    assert store.get_contract(MNQ.contract_id) is None
    store.put_contract(MNQ, T0)
    inactive = dataclasses.replace(MNQ, active=False)
    other = open_store()
    other.put_contract(inactive, T0 + timedelta(days=1))
    assert store.get_contract(MNQ.contract_id) == inactive
    assert store.contracts() == [inactive]
    assert store.get_contract(MNQ.contract_id) != MNQ


def test_admin_actions_are_kept_with_who_why_and_result(open_store: Callable[[], Store]) -> None:
    store = open_store()
    first = store.record_admin_action(
        at=T0,
        who="desk-lead",
        action="reload",
        why="new limits",
        result="refused: 2 lint errors",
        args={"ruleset": "rulesets/topstep.yaml"},
    )
    second = store.record_admin_action(
        at=T0 + timedelta(minutes=1),
        who="desk-lead",
        action="reload",
        why="new limits, fixed",
        result="ok: 12 rules",
        account=ACCOUNT,
    )
    assert second > first
    actions = open_store().admin_actions(since=T0)
    assert [(a.result, a.account, a.args) for a in actions] == [
        ("refused: 2 lint errors", None, {"ruleset": "rulesets/topstep.yaml"}),
        ("ok: 12 rules", ACCOUNT, {}),
    ]
    assert open_store().admin_actions(since=T0 + timedelta(seconds=1))[0].id == second
    with pytest.raises(StoreError, match="needs who and what"):
        store.record_admin_action(at=T0, who="", action="reload", why="", result="")
