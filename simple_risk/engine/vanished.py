"""What a complete REST snapshot says about what the facts hold: an order or a position it no
longer lists is gone.

The hubs drop routinely and have no replay (a gap of up to minutes is healed only by REST), so
the close of a position or the cancel of an order can be announced while no hub is connected.
A reconcile lists the account's working orders (``Order/searchOpen``) and open positions
(``Position/searchOpen``); whatever the facts still hold that the snapshot does not list ended
during the gap, and is ended in the facts by the events made here, before the snapshot's own.
The daemon's reconcile and a replay of a recording (``simple-risk replay``) both use this, so a
replay heals a hub gap as the daemon did.

The snapshot speaks for a kind only when every record of that kind was readable (the caller
checks), and not for an item the hub spoke of after the request went out (``newer``): the
hub's word for it is newer than the snapshot. It does speak for everything else — refusing
the whole answer instead would never reconcile an account whose platform moves an order all
the time, as every answer would race with one of its events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from simple_risk.engine.events import (
    Event,
    OrderStatus,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.positions import Position

E = TypeVar("E", bound=Event)
#: what the hub spoke of: ``("order", order id)`` or ``("position", contract id)``
HubItem = tuple[str, int | str]


def reconciled_orders(
    state: AccountState,
    snapshot: Sequence[OrderUpdate],
    at: datetime,
    newer: Collection[HubItem],
    complete: bool,
) -> list[OrderUpdate]:
    """What a snapshot of working orders makes of the facts: the orders it no longer lists
    ended (only when ``complete``: every record of it was readable), then its own records,
    less those of an order the hub spoke of later."""
    listed = {order.order_id for order in snapshot}
    gone = vanished_orders(state, listed, at, newer) if complete else []
    return [*gone, *still_current(snapshot, newer)]


def reconciled_positions(
    state: AccountState,
    snapshot: Sequence[PositionUpdate],
    at: datetime,
    newer: Collection[HubItem],
    complete: bool,
) -> list[PositionUpdate]:
    """As :func:`reconciled_orders`, for a snapshot of open positions; a position it lists
    under another id than the facts hold (:func:`replaced_positions`) ends the held one first."""
    held = {position.contract_id for position in snapshot}
    replaced = replaced_positions(state, snapshot, at, newer)
    gone = vanished_positions(state, held, at, newer) if complete else []
    return [*replaced, *gone, *still_current(snapshot, newer)]


def vanished_orders(
    state: AccountState,
    listed: Collection[int],
    at: datetime,
    newer: Collection[HubItem] = frozenset(),
) -> list[OrderUpdate]:
    """A cancelled copy, stamped ``at``, of each working order the facts hold that ``listed``
    (the ids of a complete ``Order/searchOpen`` answer) does not name — except one the hub
    spoke of after the request went out (``newer``), and a suspended bracket child of a listed
    entry, which that endpoint never lists (:func:`unlisted_by_design`)."""
    return [
        dataclasses.replace(order.update, at=at, status=OrderStatus.CANCELLED)
        for order in list(state.orders.values())
        if order.id not in listed
        and ("order", order.id) not in newer
        and not unlisted_by_design(order.update, listed)
    ]


def vanished_positions(
    state: AccountState,
    listed: Collection[str],
    at: datetime,
    newer: Collection[HubItem] = frozenset(),
) -> list[PositionUpdate]:
    """A flat update (size 0, as the hub announces a close) for each open position the facts
    hold in a contract that ``listed`` (the contracts of a complete ``Position/searchOpen``
    answer) does not name, except one the hub spoke of after the request went out."""
    return [
        _flat(state, position, at)
        for position in list(state.positions.values())
        if position.contract_id not in listed and ("position", position.contract_id) not in newer
    ]


def _flat(state: AccountState, position: Position, at: datetime) -> PositionUpdate:
    """A flat update of a held position (size 0, its side and price, as the hub announces a
    close)."""
    return PositionUpdate(
        at=at,
        account_id=state.id,
        contract_id=position.contract_id,
        type=PositionType.LONG if position.long else PositionType.SHORT,
        size=0,
        average_price=position.avg_price,
        position_id=position.position_id,
    )


def replaced_positions(
    state: AccountState,
    snapshot: Sequence[PositionUpdate],
    at: datetime,
    newer: Collection[HubItem] = frozenset(),
) -> list[PositionUpdate]:
    """A flat update of each position the facts hold where the snapshot lists one of another
    id (the gateway's ``id``) in its contract: the held one ended unseen (a restart's journal,
    a hub gap) and the trader opened another. Applied first, the new position is judged on its
    own — its own grace, its own breaches — and what was asked for the old one is not done to
    it. Not for a position the hub spoke of after the request went out, nor when either id is
    unknown."""
    flats = []
    for update in snapshot:
        old = state.positions.get(update.contract_id)
        if (
            old is None
            or ("position", update.contract_id) in newer
            or old.position_id is None
            or update.position_id is None
            or old.position_id == update.position_id
        ):
            continue
        flats.append(_flat(state, old, at))
    return flats


def still_current(snapshot: Iterable[E], newer: Collection[HubItem]) -> list[E]:
    """The snapshot's own records, without those of an order or position the hub spoke of
    after the request went out (the hub's word for it is newer)."""
    return [
        event
        for event in snapshot
        if not isinstance(event, OrderUpdate | PositionUpdate) or hub_item(event) not in newer
    ]


def hub_item(event: OrderUpdate | PositionUpdate | TradeFill) -> HubItem:
    """The item an order, position or fill event is about, as :data:`HubItem`. A fill's copy
    the hub sent after a snapshot's request went out (a bust, its commissions) is newer than
    that answer's copy."""
    if isinstance(event, OrderUpdate):
        return ("order", event.order_id)
    if isinstance(event, TradeFill):
        return ("trade", event.trade_id)
    return ("position", event.contract_id)


def reconciled_fills(snapshot: Sequence[TradeFill], newer: Collection[HubItem]) -> list[TradeFill]:
    """What a ``Trade/search`` answer adds to the facts: its fills, less those the hub spoke
    of after the request went out (a fill voided meanwhile stays voided)."""
    return [fill for fill in snapshot if hub_item(fill) not in newer]


def unlisted_by_design(update: OrderUpdate, listed: Collection[int]) -> bool:
    """An order ``Order/searchOpen`` never lists although it is still there: a bracket child
    suspended until its entry fills, while that entry still rests (listed). The gateway's
    REST answers show no suspended order at all (between the place and the fill the stream is
    the only place the children exist), so a reconcile that took them for gone would drop a
    resting bracket's stop-loss and take-profit from the facts. Once the entry is no longer
    listed (filled or cancelled), its children are either armed (listed) or ended, and an
    unlisted one is taken for gone like any other."""
    return (
        update.status is OrderStatus.SUSPENDED
        and update.parent_order_id is not None
        and update.parent_order_id in listed
    )


__all__ = [
    "HubItem",
    "hub_item",
    "reconciled_fills",
    "reconciled_orders",
    "reconciled_positions",
    "replaced_positions",
    "still_current",
    "unlisted_by_design",
    "vanished_orders",
    "vanished_positions",
]
