"""What a complete REST snapshot says about what the facts hold: an order or a position it no
longer lists is gone.

The hubs drop routinely and have no replay (a gap of up to minutes is healed only by REST), so
the close of a position or the cancel of an order can be announced while no hub is connected.
A reconcile lists the account's working orders (``Order/searchOpen``) and open positions
(``Position/searchOpen``); whatever the facts still hold that the snapshot does not list ended
during the gap, and is ended in the facts by the events made here, before the snapshot's own.
The daemon's reconcile and a replay of a recording (``simple-risk replay``) both use this, so a
replay heals a hub gap as the daemon did.

The caller decides whether the snapshot can speak for the whole kind: only when every record
of that kind was readable, and only when no hub fact of the account arrived after the request
was sent (the facts may then be newer than the snapshot: the daemon reconciles again, a
replay leaves the facts as they are).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime

from simple_risk.engine.events import OrderStatus, OrderUpdate, PositionType, PositionUpdate
from simple_risk.engine.facts.account import AccountState


def vanished_orders(
    state: AccountState, listed: Collection[int], at: datetime
) -> list[OrderUpdate]:
    """A cancelled copy, stamped ``at``, of each working order the facts hold that ``listed``
    (the ids of a complete ``Order/searchOpen`` answer) does not name — except a suspended
    bracket child of a listed entry, which that endpoint never lists
    (:func:`unlisted_by_design`)."""
    return [
        dataclasses.replace(order.update, at=at, status=OrderStatus.CANCELLED)
        for order in list(state.orders.values())
        if order.id not in listed and not unlisted_by_design(order.update, listed)
    ]


def vanished_positions(
    state: AccountState, listed: Collection[str], at: datetime
) -> list[PositionUpdate]:
    """A flat update (size 0, as the hub announces a close) for each open position the facts
    hold in a contract that ``listed`` (the contracts of a complete ``Position/searchOpen``
    answer) does not name."""
    return [
        PositionUpdate(
            at=at,
            account_id=state.id,
            contract_id=position.contract_id,
            type=PositionType.LONG if position.long else PositionType.SHORT,
            size=0,
            average_price=position.avg_price,
        )
        for position in list(state.positions.values())
        if position.contract_id not in listed
    ]


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


__all__ = ["unlisted_by_design", "vanished_orders", "vanished_positions"]
