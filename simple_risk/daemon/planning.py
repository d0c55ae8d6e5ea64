"""Planning: the REST calls that take an account from its facts of this moment to an intent's
target.

Pure and on the engine thread (it reads the engine's facts, which only that thread may): an
intent is a target state, never a list of calls, so it is planned anew each time it is worked —
after a crash, a retry or a re-firing — and a position already closed yields no close, one
already reduced a smaller (or no) partial close. Apart from the :mod:`executor
<simple_risk.daemon.executor>`, which only sends what this planned, so the rules of "what would
reach the target now" can be read, and tested, without threads or a gateway.
"""

from __future__ import annotations

import math

from simple_risk.adapters.topstepx.outgoing import (
    RestRequest,
    cancel_order_request,
    close_position_request,
    modify_size_request,
    modify_stop_request,
    partial_close_request,
    place_stop_request,
)
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.engine.events import STOP_TYPES, OrderSide, OrderStatus, OrderType
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    StopAt,
    orphans,
)


def plan(intent: Intent, state: AccountState | None) -> list[RestRequest]:
    """The REST calls that take the account from its current facts to the intent's target.

    An empty list means the target is met (or there is nothing the gateway could do).
    """
    if state is None or isinstance(intent, Alert):
        return []
    account = state.id
    if isinstance(intent, NoWorkingOrders):
        return [
            cancel_order_request(account, order.id)
            for order in sorted(state.orders.values(), key=lambda o: o.id)
            if (intent.symbol is None or order.symbol == intent.symbol)
            and (intent.side is None or order.side == intent.side)
            and (intent.contract_id is None or order.contract_id == intent.contract_id)
        ]
    if isinstance(intent, CancelOrder):
        # A bracket entry's children go with it, but only once the entry is known to have
        # ended unfilled: cancelling them alongside an entry that fills meanwhile would leave
        # its position without its stop. (The gateway's one-cancels-other usually takes them.)
        calls = [cancel_order_request(account, child) for child in orphans(state, intent.order_id)]
        if intent.order_id in state.orders:
            calls.insert(0, cancel_order_request(account, intent.order_id))
        return calls
    if isinstance(intent, ResizeOrder):
        order = state.orders.get(intent.order_id)
        if order is None or order.remaining <= intent.size or intent.size <= 0:
            return []
        filled = order.size - order.remaining
        return [modify_size_request(account, order.id, size=intent.size + filled)]
    if isinstance(intent, PositionClosed):
        if intent.contract_id in state.positions:
            return [close_position_request(account, intent.contract_id)]
        return []
    if isinstance(intent, ReduceTo):
        return _plan_reduce(intent, state)
    if isinstance(intent, StopAt):
        return _plan_stop(intent, state)
    return []


def priority_of(intent: Intent) -> Priority:
    """Who goes first when the REST budget is short: what removes exposure (cancels, closes,
    reductions, resizes) is enforcement; moving or placing a stop for trade management
    (:class:`StopAt`) is stop management, behind enforcement and reconciliation."""
    if isinstance(intent, StopAt):
        return Priority.STOP_MANAGEMENT
    return Priority.ENFORCEMENT


def _cut(account: int, contract_id: str, size: int, by: int) -> RestRequest:
    """Close ``by`` of a ``size`` position: a full close when that is all of it."""
    if by >= size:
        return close_position_request(account, contract_id)
    return partial_close_request(account, contract_id, by)


def _plan_reduce(intent: ReduceTo, state: AccountState) -> list[RestRequest]:
    positions = list(state.positions.values())
    if intent.scope == "contract":
        positions = [p for p in positions if p.contract_id == intent.contract_id]
    elif intent.scope == "root":
        positions = [p for p in positions if p.symbol == intent.symbol]
    if intent.order == "largest_first":
        positions.sort(key=lambda p: (-p.size, p.contract_id))
    else:
        positions.sort(key=lambda p: (p.opened_at, p.contract_id), reverse=True)
    calls: list[RestRequest] = []
    if intent.scope == "account":
        if intent.max_units is None:
            return []
        excess = sum(p.units for p in positions) - intent.max_units
        for position in positions:
            if excess <= 0:
                break
            per_contract = position.units // position.size if position.size else 0
            if per_contract <= 0:
                continue
            by = min(position.size, math.ceil(excess / per_contract))
            calls.extend(_cut_and_resize(state, position, by))
            excess -= by * per_contract
        return calls
    if intent.max_contracts is None:
        return []
    excess = sum(p.size for p in positions) - intent.max_contracts
    for position in positions:
        if excess <= 0:
            break
        by = min(position.size, excess)
        calls.extend(_cut_and_resize(state, position, by))
        excess -= by
    return calls


def _cut_and_resize(state: AccountState, position: Position, by: int) -> list[RestRequest]:
    """Close ``by`` contracts of a position, then shrink its closing orders to what is left.

    A stop that covered the whole position would otherwise be larger than the position once
    it is reduced: as such it could reverse the position, and a lock would cancel it and
    leave the rest unprotected. Resized (never cancelled), it keeps protecting what stays.
    """
    calls = [_cut(state.id, position.contract_id, position.size, by)]
    left = position.size - by
    if left <= 0:
        return calls  # a full close: the position's orders are the closing rule's to cancel
    for order, size in _resized_closing_orders(state, position, left):
        filled = order.size - order.remaining
        calls.append(modify_size_request(state.id, order.id, size=size + filled))
    return calls


def _resized_closing_orders(
    state: AccountState, position: Position, left: int
) -> list[tuple[Order, int]]:
    """The stops and limits closing ``position`` that together would close more than
    ``left`` contracts on their side of the market, each with the size it keeps.

    Per side (stops fill on a move against the position, limits on a move for it), orders
    are honoured in precedence — simple-risk's own, bracket children, then the others, oldest
    (lowest id) first — and the first that no longer fits takes the room left; one with no
    room is left alone (the side is already covered: other enforcement decides about it).
    A suspended bracket child cannot be modified and closes nothing until it opens: skipped.
    """
    closing = [
        order
        for order in state.orders_by_contract.get(position.contract_id, {}).values()
        if order.buy != position.long
        and order.update.type in _RESIZABLE
        and order.update.status is not OrderStatus.SUSPENDED
    ]
    closing.sort(key=lambda o: (not o.own, not o.is_child, o.id))
    out: list[tuple[Order, int]] = []
    for stops in (True, False):
        room = left
        for order in closing:
            if order.is_stop != stops:
                continue
            if order.remaining > room > 0:
                out.append((order, room))
            room -= min(order.remaining, max(room, 0))
    return out


def _plan_stop(intent: StopAt, state: AccountState) -> list[RestRequest]:
    """Stops at the price (or tighter, when never loosening) covering the whole position.

    A stop already there that covers less than the position (the trader scaled in) is
    resized; a looser one is moved (and resized if needed); with none, one is placed. The
    target is the position's size now, so a position that shrank since the firing is not
    over-covered.
    """
    position = state.positions.get(intent.contract_id)
    if position is None:
        return []
    stops = [
        order
        for order in state.orders_by_contract.get(intent.contract_id, {}).values()
        if order.is_stop and order.buy != position.long and order.stop_price is not None
    ]

    def good(order: Order) -> bool:
        price = order.stop_price
        assert price is not None
        tighter = price > intent.price if position.long else price < intent.price
        return price == intent.price or (intent.never_loosen and tighter)

    covering = [order for order in stops if good(order)]
    need = position.size
    if covering and sum(order.remaining for order in covering) >= need:
        return []
    if stops:
        first = covering[0] if covering else stops[0]
        others = sum(order.remaining for order in covering if order is not first)
        price = first.stop_price if good(first) else intent.price
        assert price is not None
        size = max(need - others, 1)
        return [
            modify_stop_request(
                state.id,
                first.id,
                stop_price=price,
                size=size if size != first.remaining else None,
            )
        ]
    side = OrderSide.SELL if position.long else OrderSide.BUY
    return [
        place_stop_request(
            state.id, intent.contract_id, side=side, size=position.size, stop_price=intent.price
        )
    ]


#: closing orders a reduction resizes: stops (of every kind) and limits
_RESIZABLE = STOP_TYPES | {OrderType.LIMIT}


__all__ = ["plan", "priority_of"]
