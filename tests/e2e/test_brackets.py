"""Brackets as the TopstepX UI places them, against the simulator's live defaults.

An Auto-OCO account (20100003 in the simulator) enters with one ``Order/place`` that carries
``stopLossBracket`` and ``takeProfitBracket``: the gateway makes the entry and its stop-loss and
take-profit children together, the children suspended (status 8, no price) until the entry
fills. The shipped ruleset's limits are 5 ES and 5 lots in all: a 3-lot bracket is within them
(its two children only ever close the position, and count once) and must not lose any of its
orders, and its stop protects the fill. A 6-lot bracketed entry breaches, and is cancelled with
its whole family — no orphaned child is left behind.
"""

from __future__ import annotations

import time
import uuid

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType

from .harness import Harness, Start, build_ruleset

AUTO_OCO = 20100003
#: the no-stop-loss grace of this test's ruleset, in seconds
GRACE = 1.0


def _bracket(
    h: Harness, size: int, order_type: OrderType, limit_price: object = None
) -> tuple[int, str]:
    """One ``Order/place`` with both brackets, as the TopstepX UI sends it; (entry id, tag)."""
    tag = f"ui-{uuid.uuid4().hex[:10]}"
    body: dict[str, object] = {
        "accountId": AUTO_OCO,
        "contractId": h.trader.contract("EP"),
        "type": int(order_type),
        "side": int(OrderSide.BUY),
        "size": size,
        "customTag": tag,
        "stopLossBracket": {"ticks": 40, "type": int(OrderType.STOP)},
        "takeProfitBracket": {"ticks": 80, "type": int(OrderType.LIMIT)},
    }
    if limit_price is not None:
        body["limitPrice"] = float(str(limit_price))  # a JSON number, as the UI sends it
    answer = h.trader.client.execute(RestRequest(Endpoint.ORDER_PLACE, body))
    entry = answer["orderId"]
    assert isinstance(entry, int)
    return entry, tag


def _family(h: Harness, entry: int) -> list[int]:
    """The entry and the children the simulator made for it."""
    children = [o.id for o in h.sim.venue.orders(AUTO_OCO) if o.parent_order_id == entry]
    assert len(children) == 2, f"the entry {entry} has children {children}"
    return [entry, *sorted(children)]


def _held_orders(h: Harness) -> list[int]:
    state = h.daemon.engines[AUTO_OCO].account(AUTO_OCO)
    return sorted(state.orders) if state is not None else []


def _protected(h: Harness) -> bool:
    state = h.daemon.engines[AUTO_OCO].account(AUTO_OCO)
    return state is not None and any(p.protected for p in state.positions.values())


def test_a_three_lot_es_bracket_within_the_limit_keeps_every_order_and_is_protected(
    start: Start,
) -> None:
    h = start(build_ruleset(grace=GRACE), accounts=(AUTO_OCO,))
    entry, _ = _bracket(h, 3, OrderType.MARKET)
    family = _family(h, entry)
    h.wait(lambda: h.trader.size(AUTO_OCO, "EP") == 3, "the 3-lot fill")
    stop_loss, take_profit = (h.sim.venue.order(child) for child in family[1:])
    h.wait(
        lambda: all(h.sim.venue.order(c).status == OrderStatus.OPEN for c in family[1:]),
        "the children armed after the fill",
    )
    h.wait(lambda: _protected(h), "the engine to see the stop-loss protect the position")
    assert {stop_loss.type, take_profit.type} == {OrderType.STOP, OrderType.LIMIT}
    time.sleep(GRACE * 2)  # past the no-stop-loss grace: nothing may fire or be cancelled
    h.daemon.request_reconcile(AUTO_OCO, "test")
    reconciles = h.daemon.reconciles
    h.wait(lambda: h.daemon.reconciles > reconciles, "a reconcile after the grace")
    assert not h.fired("no-stop-loss-grace", AUTO_OCO)
    assert [b for b in h.sent("Order/cancel") if b["orderId"] in family] == []
    assert h.sent("Position/closeContract") == []
    assert h.sent("Position/partialCloseContract") == []
    assert all(h.sim.venue.order(c).status == OrderStatus.OPEN for c in family[1:])
    assert h.trader.size(AUTO_OCO, "EP") == 3


def test_a_breaching_bracketed_entry_is_cancelled_with_its_children(start: Start) -> None:
    h = start(build_ruleset(grace=GRACE), accounts=(AUTO_OCO,))
    below = h.trader.price("EP") - 50
    entry, _ = _bracket(h, 6, OrderType.LIMIT, below)  # rests: 6 ES against a limit of 5
    family = _family(h, entry)
    h.wait(
        lambda: all(h.sim.venue.order(order).status == OrderStatus.CANCELLED for order in family),
        "the entry and both children cancelled",
    )
    assert entry in [b["orderId"] for b in h.sent("Order/cancel")]
    assert h.fired("max-contracts-per-instrument-order", AUTO_OCO) or h.fired(
        "max-contracts-order", AUTO_OCO
    )
    assert h.trader.working(AUTO_OCO) == 0
    assert h.trader.size(AUTO_OCO) == 0


def test_a_resting_brackets_suspended_children_survive_a_reconcile_and_protect_the_fill(
    start: Start,
) -> None:
    """``Order/searchOpen`` never lists a suspended child (reference §14.3): a reconcile while
    the entry rests must not take the children for gone, or the filled position would look
    unprotected and the no-stop-loss rule would close it."""
    h = start(build_ruleset(grace=GRACE), accounts=(AUTO_OCO,))
    contract = h.trader.contract("EP")
    price = h.trader.price("EP")
    entry, _ = _bracket(h, 2, OrderType.LIMIT, price - 5)  # rests below the market
    family = _family(h, entry)
    h.wait(lambda: _held_orders(h) == family, "the engine to hold the entry and its children")
    reconciles = h.daemon.reconciles
    h.daemon.request_reconcile(AUTO_OCO, "test")
    h.wait(lambda: h.daemon.reconciles > reconciles, "a reconcile while the entry rests")
    assert _held_orders(h) == family  # the suspended children were not taken for gone
    h.sim.set_price(contract, price - 6)  # the entry fills; its children arm
    h.wait(lambda: h.trader.size(AUTO_OCO, "EP") == 2, "the 2-lot fill")
    h.wait(
        lambda: all(h.sim.venue.order(c).status == OrderStatus.OPEN for c in family[1:]),
        "the children armed after the fill",
    )
    h.wait(lambda: _protected(h), "the engine to see the stop-loss protect the position")
    time.sleep(GRACE * 2)  # past the no-stop-loss grace
    assert not h.fired("no-stop-loss-grace", AUTO_OCO)
    assert h.sent("Position/closeContract") == []
    assert [b for b in h.sent("Order/cancel") if b["orderId"] in family] == []
    assert h.trader.size(AUTO_OCO, "EP") == 2
