"""Enforcement racing the trader: what the trader does in the same moment the daemon acts.

* a position re-opened while the close of the last one is still waiting for its answer is
  closed as soon as that answer comes, not at the next reconcile;
* a hub that is late shows the trader's fill after REST already confirmed the daemon's
  reduction of it: the position is not reduced a second time;
* an order the trader places while the flatten's cancels await their answers is cancelled
  within the answer's wait, under the lock the flatten set;
* the daemon's own stop, answered late, is its own from the tag its hub event carries;
* a reconcile whose REST answer hangs holds no enforcement up, and its old answer does not
  bring back a position the hub said was closed meanwhile;
* a position the trader grows during a cooldown, twice in a row, is cut back to what it held
  when the cooldown began, never closed;
* two rules asking for one cancel on one event send it once (only a newer event asks again).
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from pathlib import Path

from simple_risk.adapters.simulator.wan import WanDelay
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.engine.events import OrderSide, OrderStatus
from tests.pinned import pinned_wall

from .harness import (
    ACCOUNT,
    FAST_OPTIONS,
    Start,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)

LATE = 2.0  # seconds the gateway holds the close's answer after it closed the position
ISOLATED_LIMITS = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
HUB_LATE = 2.0  # seconds every hub frame takes to arrive (the watchdog's stale_after is 3)


def test_a_position_reopened_while_its_close_awaits_the_answer_is_closed_at_the_answer(
    start: Start,
) -> None:
    h = start()
    h.sim.answer_late("Position/closeContract", LATE)
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed and locked
    assert h.trader.size(ACCOUNT, "RTY") == 1
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the venue closed it")
    assert not h.sent("Position/closeContract")  # logged once answered: not yet
    reopened = time.monotonic()
    h.trader.buy(ACCOUNT, "RTY")  # the close's answer is still on its way
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the re-opened position closed")
    took = time.monotonic() - reopened
    assert took < LATE + 1.0, f"the re-opened position stood {took:.1f}s"
    assert len(h.sent("Position/closeContract")) == 2


def test_a_late_hub_does_not_make_a_reduction_happen_twice(tmp_path: Path) -> None:
    """REST sees the trader's 4 lots first (a periodic reconcile), the daemon reduces to 3 and
    a reconcile confirms it; only then does the late hub say "4 lots", then "3"."""
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    trader = Trader(sim)
    config = guarding_config(sim, (ACCOUNT,), tmp_path)
    quick = dataclasses.replace(config.timing, reconcile_after_enforcement=0.2)
    daemon = Daemon(
        dataclasses.replace(config, timing=quick),
        {ACCOUNT: build_ruleset(params={"max_contracts": 100})},
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall, reconcile_gap=0.2),
    )
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the account never went live"
        for connection in sim.hubs.connections:  # every frame from now on arrives late
            connection.wan = WanDelay(HUB_LATE, 0.0)
        trader.buy(ACCOUNT, "CLE", 4)  # over the 3 lots of the per-instrument limit
        daemon.request_reconcile(ACCOUNT, "periodic")  # REST sees it before the hub says so
        assert wait_until(lambda: trader.size(ACCOUNT, "CLE") == 3, 5.0), "the reduction"
        reduced = time.monotonic()
        assert wait_until(lambda: not daemon.book, 5.0), "the reduction confirmed"
        assert time.monotonic() - reduced < HUB_LATE, "confirmed by REST, not the late hub"
        time.sleep(HUB_LATE + 0.5)  # the hub's late word of the 4 lots, then of the 3
        assert trader.size(ACCOUNT, "CLE") == 3
        partial = [
            r.body
            for r in sim.requests_log()
            if r.path.lower() == "/api/position/partialclosecontract"
        ]
        assert len(partial) == 1, partial
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def test_an_order_placed_while_the_flatten_awaits_its_answers_is_cancelled_at_once(
    start: Start,
) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    h.sim.answer_late("Order/cancel", LATE)
    h.sim.answer_late("Position/closeContract", LATE)
    below = h.trader.price("MNQ") - 500
    resting = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, below)
    h.trader.buy(ACCOUNT, "EP")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")  # the day's loss limit: flatten and lock
    h.wait(lambda: h.sim.venue.order(resting).status == OrderStatus.CANCELLED, "the flatten")
    placed = time.monotonic()
    again = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, below)  # answers still on the way
    h.wait(
        lambda: h.sim.venue.order(again).status == OrderStatus.CANCELLED, "the new order's cancel"
    )
    took = time.monotonic() - placed
    assert took < LATE + 1.0, f"the new order worked {took:.1f}s"
    assert h.locked_by("daily-realized-loss")


def test_the_daemons_own_stop_answered_late_is_its_own_and_left_working(start: Start) -> None:
    """Its hub event comes before the answer that names its id: the tag says whose it is."""
    h = start(build_ruleset(enable=("trade-management-breakeven",)))
    h.sim.answer_late("Order/place", LATE)
    h.trader.buy(ACCOUNT, "EP")  # no stop: the breakeven rule places one
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("2.75"))
    h.wait(lambda: h.trader.working(ACCOUNT) == 1, "the daemon's stop at the venue")
    (stop,) = [o for o in h.sim.venue.open_orders(ACCOUNT)]

    def own() -> bool:
        state = h.daemon.on_engine(lambda: h.daemon.engines[ACCOUNT].account(ACCOUNT))
        return state is not None and stop.id in state.own_ids

    h.wait(own, "the stop recorded as the daemon's")
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: a lock, a close, never the stop's cancel
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the blocked position closed")
    time.sleep(LATE)
    assert h.sim.venue.order(stop.id).status == OrderStatus.OPEN
    assert stop.id not in [b["orderId"] for b in h.sent("Order/cancel")]


def test_a_reconcile_whose_answer_hangs_does_not_hold_enforcement_up(start: Start) -> None:
    h = start()
    h.sim.answer_late("Position/searchOpen", 2 * LATE)
    h.daemon.request_reconcile(ACCOUNT, "test")  # its first call hangs
    time.sleep(0.2)
    bought = time.monotonic()
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the close")
    took = time.monotonic() - bought
    assert took < 1.0, f"the blocked position stood {took:.1f}s behind the hung reconcile"
    reconciles = h.daemon.reconciles
    h.wait(lambda: h.daemon.reconciles > reconciles, "the slow reconcile applied", timeout=10)
    # its answer, older than the hub's word of the close, does not bring the position back
    state = h.daemon.on_engine(lambda: h.daemon.engines[ACCOUNT].account(ACCOUNT))
    assert state is not None and h.trader.contract("RTY") not in state.positions


def test_a_position_grown_during_a_cooldown_is_cut_back_to_what_it_held_not_closed(
    start: Start,
) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    h.trader.buy(ACCOUNT, "EP")  # held when the cooldown begins: left alone
    for _ in range(2):  # two round trips in a minute: the trade-frequency cooldown
        h.trader.buy(ACCOUNT, "MNQ")
        h.trader.sell(ACCOUNT, "MNQ")
    h.wait(lambda: h.locked_by("trade-frequency-minute"), "the cooldown")
    h.trader.buy(ACCOUNT, "EP", 2)  # adds to it in the cooldown
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "cut back to what it held")
    h.trader.buy(ACCOUNT, "EP")  # and again, at once
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "cut back again")
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(lambda: not h.daemon.book, "the intents to finish")
    assert h.trader.size(ACCOUNT, "EP") == 1
    assert not h.sent("Position/closeContract")


def test_two_rules_asking_for_one_cancel_on_one_event_send_it_once(start: Start) -> None:
    """The order breaks the account's and the instrument's limits: both rules ask for its
    cancel. The hub's word of the cancel comes after the answer (a late hub): the second
    asking is not a newer event, and is not sent again."""
    h = start()
    for connection in h.sim.hubs.connections:
        connection.wan = WanDelay(0.5, 0.0)
    price = h.trader.price("MES")
    order = h.trader.limit(ACCOUNT, "MES", OrderSide.BUY, 60, price - 100)
    h.wait(lambda: h.sim.venue.order(order).status == OrderStatus.CANCELLED, "the cancel")
    h.wait(lambda: not h.daemon.book, "the cancel confirmed")
    assert h.fired("max-contracts-order") and h.fired("max-contracts-per-instrument-order")
    assert [b["orderId"] for b in h.sent("Order/cancel")] == [order]


def test_a_fill_the_hub_voided_during_a_reconcile_stays_voided(start: Start) -> None:
    """A bust the hub told after the reconcile's Trade/search went out is newer than its
    answer: the old answer does not count the busted fill again."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 1, "the fill")
    (fill,) = h.sim.venue.trades(ACCOUNT)

    def voided() -> bool | None:
        def read() -> bool | None:
            state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
            record = state.ledger.fills.get(fill.id) if state is not None else None
            return None if record is None else record.fill.voided

        return h.daemon.on_engine(read)

    h.wait(lambda: voided() is False, "the fill in the facts")
    h.sim.answer_late("Trade/search", LATE)
    reconciles = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "test")  # a full one: it reads the fills
    h.wait(lambda: not h.sim.faults.late.get("trade/search"), "the fills asked for")
    time.sleep(0.1)  # the venue has answered; the answer waits
    h.sim.void_fill(fill.id)  # busted while the answer, still unvoided, is on its way
    h.wait(lambda: voided() is True, "the hub's word of the bust")
    h.wait(lambda: h.daemon.reconciles > reconciles, "the slow reconcile applied", timeout=10)
    assert voided() is True
