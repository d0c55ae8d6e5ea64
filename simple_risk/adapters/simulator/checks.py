"""The checks an order must pass at the simulated venue before it rests or changes.

``Order/place`` and ``Order/modify`` refuse a bad type, side, size or price with the live
gateway's messages (reference §4.8); each refusal is a :class:`~.records.VenueError` the REST
layer maps to an errorCode. The checks read the order, its contract and the market but change
nothing, so they live apart from :mod:`.venue`, whose methods are left with the flow: check,
then act.
"""

from __future__ import annotations

from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.market import MarketState
from simple_risk.adapters.simulator.records import Order, PlaceRequest, Reason, VenueError
from simple_risk.engine.events import OrderSide, OrderType

MAX_TRAIL_TICKS = 1000

OFF_GRID = "Invalid price. Price is not aligned to tick size."


def order_kind(req: PlaceRequest) -> tuple[OrderType, OrderSide]:
    """The order's type and side; refuses an unknown type or side and a size below one."""
    try:
        otype = OrderType(req.type)
    except ValueError:
        raise VenueError(Reason.ORDER_REJECTED, "Invalid order type.") from None
    try:
        side = OrderSide(req.side)
    except ValueError:
        raise VenueError(Reason.ORDER_REJECTED, "Invalid order side.") from None
    if req.size <= 0:
        raise VenueError(Reason.ORDER_REJECTED, "Invalid order size.")
    return otype, side


def validate_prices(
    otype: OrderType,
    side: OrderSide,
    req: PlaceRequest,
    contract: Contract,
    market: MarketState,
) -> tuple[Decimal | None, Decimal | None, int | None]:
    """Check the prices an order type needs; return (limit, stop, trail ticks)."""
    limit = stop = None
    trail_ticks = None
    if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if req.limit_price is None:
            raise VenueError(Reason.ORDER_REJECTED, "Limit price is required.")
        limit = req.limit_price
    if otype in (OrderType.STOP, OrderType.STOP_LIMIT):
        if req.stop_price is None:
            raise VenueError(Reason.ORDER_REJECTED, "Stop price is required.")
        stop = req.stop_price
        wrong_side = stop <= market.ask if side == OrderSide.BUY else stop >= market.bid
        if wrong_side:
            raise VenueError(Reason.ORDER_REJECTED, "Invalid stop price.")
    if otype == OrderType.JOIN_BID:
        limit = market.bid
    if otype == OrderType.JOIN_ASK:
        limit = market.ask
    if otype == OrderType.TRAILING_STOP:
        if req.trail_price is None:
            raise VenueError(Reason.ORDER_REJECTED, "Trail Distance not set.")
        if not contract.on_grid(req.trail_price):
            raise VenueError(
                Reason.ORDER_REJECTED,
                "Invalid trail price. Price is not aligned to tick size.",
            )
        trail_ticks = int(abs(market.last - req.trail_price) / contract.tick_size)
        if trail_ticks <= 0:
            raise VenueError(Reason.ORDER_REJECTED, "Trail Distance not set.")
        if trail_ticks > MAX_TRAIL_TICKS:
            raise VenueError(Reason.ORDER_REJECTED, "Trail Distance exceeds maximum (1000)")
        offset = trail_ticks * contract.tick_size
        stop = market.bid - offset if side == OrderSide.SELL else market.ask + offset
    for price in (limit, stop):
        if price is not None and (price <= 0 or not contract.on_grid(price)):
            raise VenueError(Reason.ORDER_REJECTED, OFF_GRID)
    return limit, stop, trail_ticks


def check_modify(
    order: Order,
    contract: Contract,
    size: int | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    trail_price: Decimal | None,
) -> None:
    """Refuse a modification the order cannot take: a size below one, a price off the grid,
    or a price the order does not have."""
    if size is not None and size <= 0:
        raise VenueError(Reason.ORDER_REJECTED, "Invalid order size.")
    for price in (limit_price, stop_price, trail_price):
        if price is not None and (price <= 0 or not contract.on_grid(price)):
            raise VenueError(Reason.ORDER_REJECTED, OFF_GRID)
    if limit_price is not None and order.limit_price is None:
        raise VenueError(Reason.ORDER_REJECTED, "Order has no limit price.")
    if stop_price is not None and order.stop_price is None:
        raise VenueError(Reason.ORDER_REJECTED, "Order has no stop price.")
    if trail_price is not None and order.type != OrderType.TRAILING_STOP:
        raise VenueError(Reason.ORDER_REJECTED, "Order is not a trailing stop.")
