"""Bracket families at the simulated venue: the stop-loss and take-profit children of an entry.

Live (§14.3), an entry placed with brackets in Auto-OCO mode is born with its family: two
suspended, priceless children tagged ``-SL``/``-TP`` that go Open at prices computed from the
entry's fill (:func:`bracket_family`, :func:`arm`). The older shape placed the children only
after the fill, Open at once and untagged (:func:`placed_brackets`). Either way the two are
one-cancels-other. This module builds and prices those orders; the venue stores, announces and
matches them. It is separate because the family's shape is its own chapter of the reference
and the venue's order flow reads more plainly without it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.records import Clock, Order
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType

#: Message the live gateway returns when brackets meet an account in Position Brackets mode.
BRACKETS_NEED_AUTO_OCO = (
    "Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets."
)

#: hands out the next order id
OrderIds = Callable[[], int]


def bracket_family(entry: Order, new_order_id: OrderIds) -> list[Order]:
    """The entry's stop-loss and take-profit children as the live gateway makes them: born
    with the entry (same creation time), suspended, priceless, tagged ``<tag>-SL``/``-TP``
    (``<entry id>-…`` for an untagged entry — the simulator's choice), both pointing at the
    entry, the take-profit linked to the stop-loss, one-cancels-other (§14.3). The entry
    learns its children's ids."""
    exit_side = entry.side.opposite
    sign = 1 if entry.side == OrderSide.BUY else -1
    tag = entry.custom_tag if entry.custom_tag is not None else str(entry.id)
    children: list[Order] = []
    legs = (
        (entry.stop_loss, -sign, "SL", OrderType.STOP),
        (entry.take_profit, sign, "TP", OrderType.LIMIT),
    )
    for bracket, away, suffix, default_type in legs:
        if bracket is None:
            continue
        child_type = (
            bracket.type if bracket.type in (OrderType.LIMIT, OrderType.STOP) else default_type
        )
        child = Order(
            id=new_order_id(),
            account_id=entry.account_id,
            contract_id=entry.contract_id,
            symbol_id=entry.symbol_id,
            creation_timestamp=entry.creation_timestamp,
            update_timestamp=entry.creation_timestamp,
            status=OrderStatus.SUSPENDED,
            type=child_type,
            side=exit_side,
            size=entry.size,
            limit_price=None,
            stop_price=None,
            fill_volume=0,
            filled_price=None,
            custom_tag=f"{tag}-{suffix}",
            parent_order_id=entry.id,
            trail_distance=away * abs(bracket.ticks),
        )
        children.append(child)
    if len(children) == 2:
        stop_loss, take_profit = children
        take_profit.linked_order_id = stop_loss.id
        stop_loss.oco_sibling, take_profit.oco_sibling = take_profit.id, stop_loss.id
    entry.children = [child.id for child in children]
    return children


def arm(child: Order, fill_price: Decimal, contract: Contract) -> None:
    """A suspended child of a filled entry becomes Open at an absolute price: the fill plus or
    minus its bracket ticks, never below one tick."""
    assert child.trail_distance is not None
    level = fill_price + child.trail_distance * contract.tick_size
    if level <= 0:
        level = contract.tick_size
    if child.type == OrderType.LIMIT:
        child.limit_price = level
    else:
        child.stop_price = level
    child.trail_price = level
    child.status = OrderStatus.OPEN


def placed_brackets(
    order: Order, price: Decimal, contract: Contract, clock: Clock, new_order_id: OrderIds
) -> list[Order]:
    """The older shape: a filled entry's brackets placed as new Open orders at the fill plus
    or minus their ticks, untagged and unlinked but one-cancels-other."""
    exit_side = order.side.opposite
    sign = 1 if order.side == OrderSide.BUY else -1
    children: list[Order] = []
    for bracket, away in ((order.stop_loss, -sign), (order.take_profit, sign)):
        if bracket is None:
            continue
        level = price + away * abs(bracket.ticks) * contract.tick_size
        child_type = (
            bracket.type
            if bracket.type in (OrderType.LIMIT, OrderType.STOP)
            else (OrderType.STOP if away == -sign else OrderType.LIMIT)
        )
        now = clock()
        child = Order(
            id=new_order_id(),
            account_id=order.account_id,
            contract_id=order.contract_id,
            symbol_id=order.symbol_id,
            creation_timestamp=now,
            update_timestamp=now,
            status=OrderStatus.OPEN,
            type=child_type,
            side=exit_side,
            size=order.size,
            limit_price=level if child_type == OrderType.LIMIT else None,
            stop_price=level if child_type == OrderType.STOP else None,
            fill_volume=0,
            filled_price=None,
            custom_tag=None,
        )
        children.append(child)
    if len(children) == 2:
        children[0].oco_sibling, children[1].oco_sibling = children[1].id, children[0].id
    return children
