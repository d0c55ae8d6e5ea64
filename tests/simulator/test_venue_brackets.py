"""Bracket families (Auto-OCO) and removed positions in the venue, as the live gateway shows
them (reference §14.1, §14.3), and the older shapes behind ``Shapes.legacy``.

A bracket family is one entry and two children born with it: suspended (status 8), priceless,
tagged ``<entry tag>-SL``/``-TP``, pointing at the entry, the take-profit linked to the
stop-loss. After the entry fills they go Open at prices computed from the fill — a scheduled
action, ~20 ms later on the live gateway — and one cancels the other.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from simple_risk.adapters.simulator.records import (
    Bracket,
    Order,
    PlaceRequest,
    Position,
    UserEvent,
    VenueEvent,
)
from simple_risk.adapters.simulator.shapes import BRACKET_DELAY, Shapes
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType
from tests.simulator.test_venue import ACC, MNQ, NOW, make_venue, user_events


class Later:
    """A scheduler that keeps delayed actions until the test runs them."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, action: Callable[[], None]) -> None:
        self.pending.append((delay, action))

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for _, action in pending:
            action()


def bracketed(
    order_type: OrderType = OrderType.MARKET,
    side: OrderSide = OrderSide.BUY,
    size: int = 3,
    limit: Decimal | None = None,
    tag: str | None = "entry-1",
) -> PlaceRequest:
    return PlaceRequest(
        ACC,
        MNQ,
        order_type,
        side,
        size,
        limit_price=limit,
        custom_tag=tag,
        stop_loss=Bracket(8, OrderType.STOP),
        take_profit=Bracket(12, OrderType.LIMIT),
    )


def orders_in(events: list[VenueEvent]) -> list[Order]:
    return [e.entity for e in events if isinstance(e, UserEvent) and isinstance(e.entity, Order)]


def family(venue: Venue, entry_id: int) -> tuple[Order, Order]:
    entry = venue.order(entry_id)
    stop_loss, take_profit = (venue.order(i) for i in entry.children)
    return stop_loss, take_profit


def test_a_bracketed_market_entry_is_announced_with_its_suspended_children_before_the_fill() -> (
    None
):
    later = Later()
    venue, events = make_venue(auto_oco=True, schedule=later)
    entry_id = venue.place(bracketed())
    assert user_events(events) == [
        ("order", 1, OrderStatus.PENDING),
        ("order", 1, OrderStatus.SUSPENDED),
        ("order", 1, OrderStatus.SUSPENDED),
        ("trade", 0, None),
        ("order", 1, OrderStatus.FILLED),
        ("position", 1, 3),
        ("account", 1, venue.account(ACC).balance),
    ]
    entry, stop_loss, take_profit = orders_in(events)[:3]
    assert entry.id == entry_id
    for child in (stop_loss, take_profit):
        assert child.creation_timestamp == entry.creation_timestamp == NOW
        assert (child.limit_price, child.stop_price) == (None, None)
        assert (child.side, child.size, child.parent_order_id) == (OrderSide.SELL, 3, entry_id)
    assert (stop_loss.type, stop_loss.custom_tag) == (OrderType.STOP, "entry-1-SL")
    assert (take_profit.type, take_profit.custom_tag) == (OrderType.LIMIT, "entry-1-TP")
    assert stop_loss.linked_order_id is None and take_profit.linked_order_id == stop_loss.id
    assert (stop_loss.trail_distance, take_profit.trail_distance) == (-8, 12)
    assert [delay for delay, _ in later.pending] == [BRACKET_DELAY]


def test_after_the_fill_the_children_open_at_prices_from_the_fill() -> None:
    later = Later()
    venue, events = make_venue(auto_oco=True, schedule=later)
    entry_id = venue.place(bracketed())  # buys at the ask 21000.25
    events.clear()
    later.run()
    stop_loss, take_profit = family(venue, entry_id)
    assert user_events(events) == [("order", 1, OrderStatus.OPEN)] * 2
    assert stop_loss.stop_price == stop_loss.trail_price == Decimal("20998.25")
    assert take_profit.limit_price == take_profit.trail_price == Decimal("21003.25")
    assert [o.id for o in venue.open_orders(ACC)] == [stop_loss.id, take_profit.id]


def test_the_children_are_one_cancels_other() -> None:
    venue, _ = make_venue(auto_oco=True)
    entry_id = venue.place(bracketed(side=OrderSide.SELL))  # sells at the bid 21000
    stop_loss, take_profit = family(venue, entry_id)
    assert (stop_loss.stop_price, take_profit.limit_price) == (Decimal(21002), Decimal(20997))
    venue.update_price(MNQ, Decimal("21002"))  # the ask 21002.25 reaches the stop
    assert venue.order(stop_loss.id).status == OrderStatus.FILLED
    assert venue.order(take_profit.id).status == OrderStatus.CANCELLED
    assert venue.open_positions(ACC) == []


def test_a_resting_limit_entry_keeps_its_children_suspended_until_it_fills() -> None:
    later = Later()
    venue, _ = make_venue(auto_oco=True, schedule=later)
    entry_id = venue.place(bracketed(OrderType.LIMIT, limit=Decimal("20990")))
    venue.update_price(MNQ, Decimal("20995"))
    stop_loss, take_profit = family(venue, entry_id)
    assert venue.order(entry_id).status == OrderStatus.OPEN
    assert {stop_loss.status, take_profit.status} == {OrderStatus.SUSPENDED}
    assert later.pending == []
    assert [o.id for o in venue.open_orders(ACC)] == [entry_id]
    venue.update_price(MNQ, Decimal("20989.75"))  # the ask 20990 reaches the limit
    assert venue.order(entry_id).status == OrderStatus.FILLED
    later.run()
    assert venue.order(stop_loss.id).stop_price == Decimal("20988")
    assert venue.order(take_profit.id).limit_price == Decimal("20993")


def test_cancelling_a_resting_entry_cancels_its_suspended_children() -> None:
    venue, events = make_venue(auto_oco=True)
    entry_id = venue.place(bracketed(OrderType.LIMIT, limit=Decimal("20990")))
    events.clear()
    venue.cancel(ACC, entry_id)
    assert user_events(events) == [("order", 1, OrderStatus.CANCELLED)] * 3
    assert {o.status for o in family(venue, entry_id)} == {OrderStatus.CANCELLED}


def test_an_untagged_entry_names_its_children_after_its_id() -> None:
    venue, _ = make_venue(auto_oco=True)
    entry_id = venue.place(bracketed(tag=None))
    assert [o.custom_tag for o in family(venue, entry_id)] == [f"{entry_id}-SL", f"{entry_id}-TP"]


def test_older_brackets_are_placed_only_after_the_fill_open_untagged_and_unlinked() -> None:
    venue, events = make_venue(auto_oco=True, shapes=Shapes.legacy(["brackets"]))
    venue.place(bracketed())
    kinds = user_events(events)
    assert kinds[:2] == [("order", 1, OrderStatus.PENDING), ("trade", 0, None)]
    assert kinds[-2:] == [("order", 1, OrderStatus.OPEN)] * 2
    children = orders_in(events)[-2:]
    assert all(c.custom_tag is None and c.parent_order_id is None for c in children)
    assert all(c.linked_order_id is None and c.creation_timestamp == NOW for c in children)


def test_a_closed_position_is_removed_with_type_zero_and_its_old_average_price() -> None:
    venue, events = make_venue()
    venue.place(PlaceRequest(ACC, MNQ, OrderType.MARKET, OrderSide.BUY, 2))
    venue.close_position(ACC, MNQ)
    removed = [e for e in events if isinstance(e, UserEvent) and isinstance(e.entity, Position)][-1]
    assert isinstance(removed.entity, Position)
    assert removed.action == 2
    assert (removed.entity.type, removed.entity.size) == (PositionType.UNDEFINED, 0)
    assert removed.entity.average_price == Decimal("21000.25")
    assert removed.entity.contract_display_name == "MNQZ6"


def test_the_older_flat_position_keeps_action_1_and_its_direction() -> None:
    venue, events = make_venue(shapes=Shapes.legacy(["flat-position"]))
    venue.place(PlaceRequest(ACC, MNQ, OrderType.MARKET, OrderSide.SELL, 2))
    venue.close_position(ACC, MNQ)
    flat = [e for e in events if isinstance(e, UserEvent) and isinstance(e.entity, Position)][-1]
    assert isinstance(flat.entity, Position)
    assert (flat.action, flat.entity.type, flat.entity.size) == (1, PositionType.SHORT, 0)
