"""Red team (issue #12 item 1): nobody but the daemon can make an order "the daemon's own".

Lockouts and the order-side contract rules let the daemon's own orders pass. An order is
the daemon's only when the daemon placed it: a customTag that merely looks like the
daemon's ("sr-" and anything, or the exact shape of its tags) grants nothing, before and
after a restart.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest

from simple_risk.engine.events import OrderSide, OrderStatus, OrderType
from tests.e2e.harness import ACCOUNT, Harness, Restart, Start, build_ruleset

ISOLATED_LIMITS = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
SPOOFED_TAGS = [
    "sr-x",
    "sr-" + "0" * 24,  # the shape of the daemon's tags: a nonce and a MAC
    "sr-" + secrets.token_hex(12),
]


def _place(h: Harness, root: str, side: OrderSide, size: int, price: Decimal, tag: str) -> int:
    """The trader's ``Order/place`` of a limit order with a customTag of their choosing."""
    return h.trader.client.place_order(
        ACCOUNT,
        h.trader.contract(root),
        order_type=OrderType.LIMIT,
        side=side,
        size=size,
        limit_price=price,
        custom_tag=tag,
    )


def _cancelled(h: Harness, order_id: int) -> bool:
    return h.sim.venue.order(order_id).status == OrderStatus.CANCELLED


def _oversized_order_is_cancelled(h: Harness, tag: str) -> None:
    """12 ES against a limit of 5: the contract rules cancel it, whatever its tag says."""
    order = _place(h, "EP", OrderSide.BUY, 12, h.trader.price("EP") - 50, tag)
    h.wait(lambda: _cancelled(h, order), f"the cancel of the 12-lot tagged {tag!r}")


@pytest.mark.parametrize("tag", SPOOFED_TAGS)
def test_an_oversized_order_with_a_daemon_like_tag_is_cancelled(start: Start, tag: str) -> None:
    h = start()
    _oversized_order_is_cancelled(h, tag)


def _lose_the_day(h: Harness) -> None:
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by("daily-realized-loss"), "the daily loss lock")


def test_under_the_daily_lock_an_order_with_a_daemon_like_tag_is_cancelled(
    start: Start, restart: Restart
) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    for tag in SPOOFED_TAGS[:2]:
        order = _place(h, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 300, tag)
        h.wait(lambda order=order: _cancelled(h, order), f"the cancel of {tag!r} under the lock")
    h = restart(h)
    assert h.locked_by("daily-realized-loss")
    order = _place(h, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 300, SPOOFED_TAGS[2])
    h.wait(lambda: _cancelled(h, order), "the cancel after the restart")


def _daemon_stop(h: Harness) -> int:
    """The protective stop the daemon placed (breakeven on a position with none)."""
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("2.75"))
    h.wait(lambda: len(h.sent("Order/place")) >= 2, "the daemon's stop")
    tag = h.sent("Order/place")[-1]["customTag"]
    order = next(o for o in h.sim.venue.open_orders(ACCOUNT) if o.custom_tag == tag)
    return order.id


def _own(h: Harness, order_id: int) -> bool:
    state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
    assert state is not None
    order = state.orders.get(order_id)
    return order is not None and order.own


def test_the_daemons_own_stop_passes_a_lock_that_cancels_a_spoofed_order(
    start: Start, restart: Restart
) -> None:
    h = start(build_ruleset(enable=("trade-management-breakeven",)))
    stop = _daemon_stop(h)
    h.wait(lambda: _own(h, stop), "the engine to know the stop as the daemon's")
    # the spoofed 12-lot sets the account's cooldown; the daemon's stop stays working
    _oversized_order_is_cancelled(h, "sr-x")
    h.wait(lambda: h.locked_by("max-contracts-order"), "the cooldown")
    assert h.sim.venue.order(stop).status == OrderStatus.OPEN

    h = restart(h)
    assert _own(h, stop)  # the journal and snapshot say the daemon placed it
    _oversized_order_is_cancelled(h, SPOOFED_TAGS[1])
    assert h.sim.venue.order(stop).status == OrderStatus.OPEN
    state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
    assert state is not None
    assert not any(order.own for order in state.orders.values() if order.id != stop)


def test_the_daemons_stop_resized_by_the_trader_is_no_longer_its_own(start: Start) -> None:
    h = start(build_ruleset(enable=("trade-management-breakeven",)))
    stop = _daemon_stop(h)
    h.wait(lambda: _own(h, stop), "the engine to know the stop as the daemon's")
    price = h.sim.venue.order(stop).stop_price
    assert price is not None
    h.trader.client.modify_stop(ACCOUNT, stop, stop_price=price, size=12)  # 12 ES: limit 5
    h.wait(lambda: _cancelled(h, stop), "the cancel of the borrowed stop")
