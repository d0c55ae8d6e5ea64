"""Order facts: one :class:`Order` per working order of an account (the ``order`` family).

The account keeps working orders only (status Open, Pending or Suspended); an update to a
terminal status removes the order, and the rule that the update woke sees a detached copy.
If-filled counts read the account's per-root aggregates, so they cost O(roots), not O(orders).
A bracket child (families.py) only reduces: it is never counted as exposure of its own.

The ``*_by_age`` counts leave out the working orders on the order's side that come after it
in keep order — simple-risk's own orders and bracket children first, then stops closing a
position, then the others oldest first (:func:`keep_order`) — so a rule that cancels every
order over a limit by them cancels the newest beyond it, never those that fit before them. They
cost O(orders).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from simple_risk.engine.events import (
    STOP_TYPES,
    WORKING_STATUSES,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from simple_risk.engine.facts import counts

if TYPE_CHECKING:
    from simple_risk.engine.facts.account import AccountState

#: ``order.type`` / ``order.status`` values, by enum member (``Enum.name`` is a slow property)
_TYPE_NAMES = {member: member.name.lower() for member in OrderType}
_STATUS_NAMES = {member: member.name.lower() for member in OrderStatus}

#: customTag prefix of the orders simple-risk places itself. Only readable: an order is the
#: daemon's own when the daemon recorded placing it (``AccountState.is_own``), never by prefix.
OWN_TAG_PREFIX = "sr-"


class Order:
    """The ``order`` family (namespace.py): attributes as declared there."""

    __slots__ = (
        "_account",
        "buy",
        "contract_id",
        "custom_tag",
        "id",
        "is_child",
        "is_stop",
        "is_working",
        "limit_price",
        "only_filled",
        "own",
        "parent_id",
        "remaining",
        "side",
        "size",
        "status",
        "stop_price",
        "symbol",
        "trail_distance",
        "type",
        "update",
    )

    def __init__(self, account: AccountState, update: OrderUpdate, root: str) -> None:
        self._account = account
        self.update = update
        self.id = update.order_id
        self.contract_id = update.contract_id
        self.symbol = root
        self.buy = update.side is OrderSide.BUY
        self.side = "buy" if self.buy else "sell"
        self.type = _TYPE_NAMES[update.type]
        self.status = _STATUS_NAMES[update.status]
        self.size = update.size
        self.remaining = max(update.size - update.fill_volume, 0)
        self.limit_price = update.limit_price
        self.stop_price = update.stop_price
        self.trail_distance = update.trail_distance
        self.custom_tag = update.custom_tag
        self.is_working = update.status in WORKING_STATUSES
        self.is_stop = update.type in STOP_TYPES
        self.own = account.is_own(update)
        #: the entry of the bracket family this order is a child of (set by the account,
        #: which knows the other orders: families.py)
        self.parent_id: int | None = None
        self.is_child = False
        #: this update only filled more of the working order it replaces (set by the account,
        #: which knows the copy before it: :func:`fills_only`)
        self.only_filled = False

    @property
    def reduces_only(self) -> bool:
        if self.is_child:
            return True  # a bracket child only ever closes what its entry opened
        position = self._account.positions.get(self.contract_id)
        return (
            position is not None and position.long != self.buy and self.remaining <= position.size
        )

    @property
    def opens_position(self) -> bool:
        return counts.position_effect(self, self._account) == "opens"

    @property
    def adds_to_position(self) -> bool:
        return counts.position_effect(self, self._account) == "adds"

    @property
    def reduces_position(self) -> bool:
        return counts.position_effect(self, self._account) == "reduces"

    def _side_net(self, net: int, working_buy: int, working_sell: int, extra: int) -> int:
        if self.buy:
            return net + working_buy + extra
        return -net + working_sell + extra

    @property
    def if_filled_symbol_size(self) -> int:
        extra = 0 if self.is_child or self._account.orders.get(self.id) is self else self.remaining
        sym = self._account.roots.get(self.symbol)
        if sym is None:
            return extra
        return max(self._side_net(sym.net, sym.working_buy, sym.working_sell, extra), 0)

    @property
    def if_filled_account_contracts(self) -> Decimal:
        return self._account_contracts({})

    @property
    def if_filled_symbol_size_by_age(self) -> int:
        extra = 0 if self.is_child or self._account.orders.get(self.id) is self else self.remaining
        sym = self._account.roots.get(self.symbol)
        if sym is None:
            return extra
        left_out = self._behind().get(self.symbol, 0)
        working_buy = sym.working_buy - left_out
        working_sell = sym.working_sell - left_out
        return max(self._side_net(sym.net, working_buy, working_sell, extra), 0)

    @property
    def if_filled_account_contracts_by_age(self) -> Decimal:
        return self._account_contracts(self._behind())

    def _account_contracts(self, behind: dict[str, int]) -> Decimal:
        """Weighted lots if every working order on this order's side fills, but those of
        ``behind`` (root → contracts left out)."""
        account = self._account
        extra = 0 if self.is_child or account.orders.get(self.id) is self else self.remaining
        units = 0
        seen_own_root = False
        for root, sym in account.roots.items():
            own = extra if root == self.symbol else 0
            seen_own_root = seen_own_root or root == self.symbol
            own -= behind.get(root, 0)
            side_net = (
                sym.net + sym.working_buy + own if self.buy else sym.net - sym.working_sell - own
            )
            units += abs(side_net) * sym.weight
        if not seen_own_root:
            units += extra * account.symbols.units(self.symbol)
        return Decimal(units) / Decimal(account.symbols.units_per_lot)

    def _behind(self) -> dict[str, int]:
        """Root → contracts of the working orders on this order's side that come after it in
        keep order (bracket children are counted once per family, never left out)."""
        account = self._account
        side = [self]
        for other in account.orders.values():
            if other.id != self.id and other.buy == self.buy and not other.is_child:
                side.append(other)
        side.sort(key=lambda order: keep_order(order, account))
        behind: dict[str, int] = {}
        for other in side[side.index(self) + 1 :]:
            behind[other.symbol] = behind.get(other.symbol, 0) + other.remaining
        return behind


def fills_only(before: OrderUpdate, after: OrderUpdate) -> bool:
    """Whether ``after`` only fills more of the working order ``before`` was: the same
    contract, side, type, size and prices, a larger fill volume — the market's doing, not a
    modify of the trader's."""
    return (
        after.fill_volume > before.fill_volume
        and after.contract_id == before.contract_id
        and after.side is before.side
        and after.type is before.type
        and after.size == before.size
        and after.limit_price == before.limit_price
        and after.stop_price == before.stop_price
        and after.trail_distance == before.trail_distance
    )


def keep_order(order: Order, account: AccountState) -> tuple[int, bool, datetime | None, int]:
    """Sort key of the order in which working orders are kept against a limit: simple-risk's
    own orders and bracket children first, then stops that close a position (its protection),
    then every other order oldest first (creation time, unknown counting as newest, then id)
    — the order in which the lockouts honour a position's closing orders."""
    if order.own or order.is_child:
        rank = 0
    elif order.is_stop and counts.position_effect(order, account) == "reduces":
        rank = 1
    else:
        rank = 2
    created = order.update.created_at
    return (rank, created is None, created, order.id)


__all__ = ["OWN_TAG_PREFIX", "Order", "fills_only", "keep_order"]
