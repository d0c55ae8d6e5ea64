"""Typed domain events: the one seam between the adapters and the engine.

Adapters turn ProjectX wire messages (REST and hub forms) into these frozen dataclasses; the
engine consumes nothing else. They mirror the ProjectX payloads faithfully (reference §4–§8):
numeric enums keep their wire values, money and prices are exact ``Decimal``, ids are Python
ints (order and trade ids exceed 2^31), and every timestamp is timezone-aware.

Every event carries ``at``: the engine time the adapter stamped on receipt (monotonic, never
earlier than the previous event's). Exchange timestamps (``created_at`` of a fill, a quote's
``timestamp``) are facts only; timers and windows of the engine run on ``at`` (architecture.md §3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

_ZERO = Decimal(0)


class OrderSide(enum.IntEnum):
    """ProjectX OrderSide: 0 Bid (buy), 1 Ask (sell)."""

    BUY = 0
    SELL = 1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(enum.IntEnum):
    """ProjectX OrderType 0–7."""

    UNKNOWN = 0
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class OrderStatus(enum.IntEnum):
    """ProjectX OrderStatus 0–8 (7 and 8 exist beyond the docs' list)."""

    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    PENDING_CANCELLATION = 7
    SUSPENDED = 8


#: Statuses of an order that can still fill (a protective stop must be one of these).
WORKING_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.SUSPENDED})

#: Order types that protect a position when they sit on the loss side of the market.
STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


class PositionType(enum.IntEnum):
    """ProjectX PositionType: size is always positive, the direction lives here."""

    UNDEFINED = 0
    LONG = 1
    SHORT = 2


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """Contract metadata: everything P&L and weighting need.

    ``name`` is the CME code (``ESU6``); ``root`` is the ticker a trader writes (ProjectX
    ``EP`` becomes ``ES``) and ``description`` says whether it is a micro; ``units`` is the
    contract's weight in integer units (a mini is 10, a micro 1 — docs/architecture.md §4).
    """

    contract_id: str
    symbol_id: str
    root: str
    name: str
    tick_size: Decimal
    tick_value: Decimal
    units: int
    active: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every domain event: ``at`` is engine time, stamped on receipt."""

    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate(Event):
    account_id: int
    name: str
    balance: Decimal
    can_trade: bool
    is_visible: bool = True
    simulated: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Event):
    account_id: int
    order_id: int
    contract_id: str
    status: OrderStatus
    type: OrderType
    side: OrderSide
    size: int
    fill_volume: int = 0
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    filled_price: Decimal | None = None
    trail_distance: int | None = None
    custom_tag: str | None = None
    symbol_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: bracket (Auto-OCO) links, reference §14.3: a child's ``parentOrderId`` is its entry's
    #: id; a take-profit's ``linkedOrderId`` is its stop-loss sibling's id
    parent_order_id: int | None = None
    linked_order_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate(Event):
    """An open position, or a flat one when ``size == 0`` (ProjectX announces flat that way)."""

    account_id: int
    contract_id: str
    type: PositionType
    size: int
    average_price: Decimal
    position_id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeFill(Event):
    """A half-turn fill. ``pnl`` is None on a fill that opens or adds to a position.

    Fills have identity: the same ``trade_id`` seen again replaces its earlier contribution,
    and ``voided`` removes it (architecture.md §3 "Fills have identity"). ``commissions`` is None
    when the copy did not carry the field (the REST copy of a fill, reference §14.2): unknown,
    not zero — the ledger keeps the commissions an earlier copy had.
    """

    account_id: int
    trade_id: int
    order_id: int
    contract_id: str
    side: OrderSide
    size: int
    price: Decimal
    pnl: Decimal | None
    fees: Decimal = Decimal(0)
    commissions: Decimal | None = Decimal(0)
    voided: bool = False
    created_at: datetime | None = None

    @property
    def cost(self) -> Decimal:
        """Fees plus the commissions this copy carries (none known counts as none)."""
        return self.fees + (self.commissions or _ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnOrder(Event):
    """simple-risk itself places an order with this customTag (``order_id`` None: the call is
    on its way) or placed it (the id the gateway gave it).

    Only such orders are ``order.own`` — the ones lockouts and the order-side contract rules
    let pass — so a tag that merely looks like the daemon's grants nothing. Journaled like
    the facts: a restart knows which orders the daemon placed.
    """

    account_id: int
    custom_tag: str
    order_id: int | None = None
    #: the size it was placed with: a larger order with its id is no longer the daemon's own
    size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote(Event):
    """A quote for one contract; any price may be None when the update did not carry it.

    Adapters merge ProjectX's partial updates into the last full quote before emitting, so a
    None here means "never seen", not "unchanged".
    """

    contract_id: str
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockTick(Event):
    """Time passes: drives ``for:`` timers, lockout expiries, sessions and the daily reset."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled(Event):
    """The adapter has rebuilt the account's state from REST; every rule is evaluated."""

    account_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractLoaded(Event):
    """Contract metadata became known (startup load or a lazy ``searchById``)."""

    contract: ContractInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionChanged(Event):
    """A hub connection changed state; the daemon reconciles after a gap."""

    hub: str
    state: str
    detail: str = ""
    #: True when events may have been missed (drop, stale or rebuilt connection): the daemon
    #: must reconcile from REST before trusting its state again.
    gap: bool = False


DomainEvent = (
    AccountUpdate
    | OrderUpdate
    | PositionUpdate
    | TradeFill
    | OwnOrder
    | Quote
    | ClockTick
    | Reconciled
    | ContractLoaded
    | ConnectionChanged
)

#: Which rule trigger each event kind wakes (docs/architecture.md §3 "Triggers").
TRIGGER_OF: dict[type[Event], str] = {
    AccountUpdate: "account",
    OrderUpdate: "order",
    PositionUpdate: "position",
    TradeFill: "trade",
    Quote: "quote",
    ClockTick: "clock",
    Reconciled: "reconcile",
}

__all__ = [
    "STOP_TYPES",
    "TRIGGER_OF",
    "WORKING_STATUSES",
    "AccountUpdate",
    "ClockTick",
    "ConnectionChanged",
    "ContractInfo",
    "ContractLoaded",
    "DomainEvent",
    "Event",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "OwnOrder",
    "PositionType",
    "PositionUpdate",
    "Quote",
    "Reconciled",
    "TradeFill",
]
