"""Details of enforcement that no other test pinned down (issue #13 item 9): each test here
fails when its guard is removed.

* a trade-management stop move goes at stop-management priority, behind enforcement;
* a reconcile whose REST answers are older than a hub event is not applied as the truth;
* a firing that changes the lock set is snapshotted at once, not at the next periodic
  snapshot.
"""

from __future__ import annotations

import dataclasses
import threading
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import wait_until
from simple_risk.engine import Engine
from simple_risk.engine.events import OrderSide
from tests.e2e.harness import ACCOUNT, Start, build_ruleset


def test_a_trade_management_stop_move_waits_behind_enforcement(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start(build_ruleset(enable=("trade-management-breakeven",)))
    client = h.daemon.client
    execute = client.execute
    sent: list[tuple[str, Priority]] = []

    def recording(
        request: RestRequest, priority: Priority = Priority.ENFORCEMENT, **kwargs: Any
    ) -> Any:
        sent.append((request.endpoint.value, priority))
        return execute(request, priority, **kwargs)

    monkeypatch.setattr(client, "execute", recording)
    entry = h.trader.price("EP") + Decimal("0.25")  # a market buy fills at the ask
    h.trader.stop(ACCOUNT, "EP", OrderSide.SELL, 1, entry - 5)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("2.75"))
    h.wait(lambda: ("Order/modify", Priority.STOP_MANAGEMENT) in sent, "the stop move")
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closing it is enforcement
    h.wait(lambda: ("Position/closeContract", Priority.ENFORCEMENT) in sent, "the close")
    assert ("Order/modify", Priority.ENFORCEMENT) not in sent


def test_a_reconcile_older_than_a_hub_event_does_not_undo_it(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start()
    daemon = h.daemon
    open_orders = daemon.client.open_orders
    fetched, release = threading.Event(), threading.Event()

    def slow(account: int, *args: Any, **kwargs: Any) -> Any:
        answer = open_orders(account, *args, **kwargs)  # the gateway's state now…
        fetched.set()
        release.wait(10.0)  # …reaching the daemon only after a hub event
        return answer

    monkeypatch.setattr(daemon.client, "open_orders", slow)
    before = daemon.reconciles
    daemon.request_reconcile(ACCOUNT, "test")
    assert fetched.wait(10.0)
    order_id = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 500)

    def working() -> bool:
        state = daemon.on_engine(lambda: daemon.engines[ACCOUNT].account(ACCOUNT))
        return state is not None and order_id in state.orders

    h.wait(working, "the hub's order event")
    release.set()
    h.wait(lambda: daemon.reconciles > before, "the stale reconcile")
    assert working(), "the reconcile's older answer cancelled an order the hub had announced"
    assert h.trader.working(ACCOUNT) == 1


def test_a_new_lockout_is_snapshotted_at_once(start: Start) -> None:
    first = start()
    first.daemon.stop()
    config = first.daemon.config
    # no periodic snapshot during the test: only the lock change can write one
    config = dataclasses.replace(
        config, timing=dataclasses.replace(config.timing, snapshot_interval=300.0)
    )
    ruleset = first.daemon.rulesets[ACCOUNT]
    options = first.daemon.options  # the same pinned wall
    daemon = Daemon(config, {ACCOUNT: ruleset}, store=open_store(config), options=options)
    daemon.start()
    try:
        assert wait_until(daemon.ready.is_set, 10.0)
        store = daemon.store

        def snapshotted_locks() -> set[str]:
            snapshot = store.latest_snapshot(ACCOUNT)
            if snapshot is None:
                return set()
            engine = Engine.restore(ruleset, snapshot.state["engine"], accounts=[ACCOUNT])
            return {lock.rule for lock in engine.locks(ACCOUNT)}

        assert "symbol-blocks" not in snapshotted_locks()
        first.trader.buy(ACCOUNT, "RTY")  # symbol-blocks: close and lock the symbol
        assert wait_until(lambda: "symbol-blocks" in snapshotted_locks(), 5.0)
    finally:
        daemon.stop()
