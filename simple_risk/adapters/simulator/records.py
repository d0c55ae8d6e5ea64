"""The simulated venue's records: accounts, orders, positions, trades, requests, events, errors.

These are the nouns every piece of the simulator shares — the venue that changes them, the
position ledger and bracket builders it delegates to, the REST and hub layers that turn them
into wire payloads (:mod:`.wire`), and the tests. They live apart from :mod:`.venue` so a
reader of the wire shapes or of the ledger does not have to import the matching engine, and so
the venue's modules can share them without importing one another. Plain data only: no
behaviour beyond a derived property.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType

#: how the venue and its parts read the time (injected; never the wall clock in tests)
Clock = Callable[[], datetime]


class Reason(enum.Enum):
    """Why the venue refused a request; the REST layer maps it to each endpoint's errorCode."""

    ACCOUNT_NOT_FOUND = "account_not_found"
    CONTRACT_NOT_FOUND = "contract_not_found"
    CONTRACT_NOT_ACTIVE = "contract_not_active"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_REJECTED = "order_rejected"
    ACCOUNT_VIOLATION = "account_violation"
    POSITION_NOT_FOUND = "position_not_found"
    INVALID_CLOSE_SIZE = "invalid_close_size"
    TRADE_NOT_FOUND = "trade_not_found"


class VenueError(Exception):
    """A refused request: ``reason`` picks the error code, ``message`` is the errorMessage.

    ``order_id`` is set when the refusal still created an order (a rejected bracket order gets
    an id on the live gateway, reference §3.2).
    """

    def __init__(self, reason: Reason, message: str | None = None, order_id: int | None = None):
        super().__init__(message or reason.value)
        self.reason = reason
        self.message = message
        self.order_id = order_id


@dataclass(frozen=True)
class AccountSpec:
    """How a simulated account starts. ``auto_oco`` selects the Auto-OCO bracket mode."""

    id: int
    name: str
    balance: Decimal
    can_trade: bool = True
    is_visible: bool = True
    simulated: bool = True
    active: bool = True
    auto_oco: bool = False


DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec(20_100_001, "50KTC-V2-SIM-20100001", Decimal("50000")),
    AccountSpec(20_100_002, "150KTC-V2-SIM-20100002", Decimal("150000")),
    AccountSpec(20_100_003, "PRAC-V2-SIM-20100003", Decimal("50000"), auto_oco=True),
)


@dataclass
class Account:
    """``TradingAccountModel`` plus the simulator-only settings."""

    id: int
    name: str
    balance: Decimal
    can_trade: bool
    is_visible: bool
    simulated: bool
    active: bool
    auto_oco: bool


@dataclass(frozen=True)
class Bracket:
    """A ``stopLossBracket``/``takeProfitBracket``: distance in ticks from the entry fill."""

    ticks: int
    type: OrderType


@dataclass
class Order:
    """``OrderModel`` plus the working state the matching engine needs."""

    id: int
    account_id: int
    contract_id: str
    symbol_id: str
    creation_timestamp: datetime
    update_timestamp: datetime | None
    status: OrderStatus
    type: OrderType
    side: OrderSide
    size: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    fill_volume: int
    filled_price: Decimal | None
    custom_tag: str | None
    trail_ticks: int | None = None
    triggered: bool = False
    stop_loss: Bracket | None = None
    take_profit: Bracket | None = None
    oco_sibling: int | None = None
    #: a bracket child: its entry, and (take-profit) the stop-loss child it is linked to
    parent_order_id: int | None = None
    linked_order_id: int | None = None
    #: a bracket child: signed ticks from the entry's fill, and the price they give
    trail_distance: int | None = None
    trail_price: Decimal | None = None
    #: an entry: the ids of its bracket children (live shapes)
    children: list[int] = field(default_factory=list)


@dataclass
class Lot:
    """An open slice of a position, kept first-in first-out for exact realized P&L."""

    size: int
    price: Decimal
    trade_id: int


@dataclass
class Position:
    """``PositionModel``; ``size`` is always positive and the direction lives in ``type``."""

    id: int
    account_id: int
    contract_id: str
    contract_display_name: str
    creation_timestamp: datetime
    type: PositionType
    size: int
    average_price: Decimal
    lots: list[Lot] = field(default_factory=list)


@dataclass
class Trade:
    """``HalfTradeModel``: one half-turn fill; ``profit_and_loss`` is None on opening fills."""

    id: int
    account_id: int
    contract_id: str
    creation_timestamp: datetime
    price: Decimal
    profit_and_loss: Decimal | None
    fees: Decimal
    commissions: Decimal
    side: OrderSide
    size: int
    voided: bool
    order_id: int


Entity = Account | Order | Position | Trade

USER_TARGETS: dict[type, str] = {
    Account: "GatewayUserAccount",
    Order: "GatewayUserOrder",
    Position: "GatewayUserPosition",
    Trade: "GatewayUserTrade",
}


@dataclass(frozen=True)
class UserEvent:
    """A user-hub event: a snapshot of one entity and the wrapper ``action`` (0 new fill, 1
    update, 2 removed — the values seen live, reference §14.1)."""

    account_id: int
    action: int
    entity: Entity

    @property
    def target(self) -> str:
        return USER_TARGETS[type(self.entity)]


@dataclass(frozen=True)
class MarketEvent:
    """A market-hub event: ``target`` is GatewayQuote/GatewayTrade/GatewayDepth; ``data`` is the
    wire payload (Decimal and datetime values are serialised by the hub)."""

    target: str
    contract_id: str
    data: object


VenueEvent = UserEvent | MarketEvent
Listener = Callable[[VenueEvent], None]


@dataclass(frozen=True)
class PlaceRequest:
    """The fields of an ``Order/place`` body, already type-checked by the REST layer."""

    account_id: int
    contract_id: str
    type: int
    side: int
    size: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    custom_tag: str | None = None
    stop_loss: Bracket | None = None
    take_profit: Bracket | None = None
