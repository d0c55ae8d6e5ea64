"""Details of enforcement that no other test pinned down (issue #13 item 9): each test here
fails when its guard is removed.

* a trade-management stop move goes at stop-management priority, behind enforcement;
* a reconcile whose REST answers are older than a hub event is not applied as the truth;
* ... and an account whose hub events never stop (a platform moving a working order all the
  time) is still reconciled and enforced: what the hub did not touch meanwhile is taken from
  REST;
* a firing that changes the lock set is snapshotted at once, not at the next periodic
  snapshot;
* a close retried after a reload (a fresh engine) is still the close of its position.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.engine import Engine
from simple_risk.engine.events import OrderSide, PositionUpdate
from tests.e2e.harness import (
    ACCOUNT,
    FAST_OPTIONS,
    Start,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)
from tests.pinned import pinned_wall


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


def test_an_account_whose_hub_events_never_stop_is_still_reconciled_and_enforced(
    tmp_path: Path,
) -> None:
    """A platform that moves a working order all the time (a chased limit, a trailing stop):
    over a WAN every reconcile's REST answers race with one of its hub events. The daemon
    must still go live and close the blocked position it found at startup."""
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    trader = Trader(sim)
    config = guarding_config(sim, (ACCOUNT,), tmp_path)
    daemon = Daemon(
        config,
        {ACCOUNT: build_ruleset()},
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    try:
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol, held before the daemon starts
        below = trader.price("MNQ") - 200
        order_id = trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, below)
        prices = (below - Decimal("0.25") * (n % 8) for n in itertools.count(1))
        open_positions = daemon.client.open_positions

        def moved_meanwhile(account: int, *args: Any, **kwargs: Any) -> list[PositionUpdate]:
            """REST answers, and the platform moves the order before they reach the daemon."""
            answer = open_positions(account, *args, **kwargs)
            if not threading.current_thread().name.startswith("reconcile-"):
                return answer
            price = next(prices)
            body = {"accountId": ACCOUNT, "orderId": order_id, "limitPrice": price}
            trader.client.execute(RestRequest(Endpoint.ORDER_MODIFY, body))

            def seen() -> bool:
                state = daemon.on_engine(lambda: daemon.engines[ACCOUNT].account(ACCOUNT))
                order = state.orders.get(order_id) if state is not None else None
                return order is not None and order.update.limit_price == price

            assert wait_until(seen, 5.0), "the hub's order event"
            return answer

        daemon.client.open_positions = moved_meanwhile  # type: ignore[method-assign]
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the account never went live"
        assert wait_until(lambda: trader.size(ACCOUNT, "RTY") == 0, 5.0)
        assert trader.working(ACCOUNT) == 1  # the trader's order, untouched
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


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


def test_a_close_retried_after_a_reload_still_closes_the_position(start: Start) -> None:
    """An unprotected MNQ's close fails (the gateway answers 500 for a while) and an admin
    reloads the ruleset meanwhile: a fresh engine with the same facts. The retried close still
    closes the position — the same position its firing was about, not another."""
    h = start(build_ruleset(grace=1.0))
    daemon = h.daemon
    h.trader.buy(ACCOUNT, "MNQ")

    def held() -> bool:
        state = daemon.on_engine(lambda: daemon.engines[ACCOUNT].account(ACCOUNT))
        return state is not None and bool(state.positions)

    h.wait(held, "the daemon holding the position")
    h.sim.fail_next(200, 500)
    key = f"position-closed:{ACCOUNT}:{h.trader.contract('MNQ')}"
    h.wait(
        lambda: daemon.on_engine(
            lambda: daemon.enforcer.book[key].failures > 0 if key in daemon.enforcer.book else False
        ),
        "a failed close",
    )
    daemon.on_engine(lambda: daemon.swap_rulesets(dict(daemon.rulesets)))
    h.sim._call(h.sim.faults.pending.clear)  # the gateway answers again
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close after the reload", timeout=10.0)
