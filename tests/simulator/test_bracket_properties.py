"""Properties of bracket families that must hold for every sequence of actions (§14.3):

- a child is suspended and priceless until its entry has filled and the family is armed; it
  is never Open or filled while its entry has not filled;
- an armed child's price is the entry's fill plus or minus its bracket ticks;
- the two children of a family never both fill (one cancels the other);
- every child has its entry's size and the opposite side, points at the entry, and the
  take-profit is linked to the stop-loss;
- a cancelled entry leaves no suspended child behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.adapters.simulator.contracts import catalogue
from simple_risk.adapters.simulator.records import (
    AccountSpec,
    Bracket,
    Order,
    PlaceRequest,
    VenueError,
)
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType

ACC = 101
MNQ = "CON.F.US.MNQ.Z26"
TICK = Decimal("0.25")

side = st.sampled_from([OrderSide.BUY, OrderSide.SELL])
bracket_ticks = st.integers(min_value=1, max_value=12)
action = st.one_of(
    st.tuples(st.just("market"), side, st.integers(1, 4), bracket_ticks, bracket_ticks),
    st.tuples(
        st.just("limit"),
        side,
        st.integers(1, 4),
        bracket_ticks,
        bracket_ticks,
        st.integers(-6, 6),
    ),
    st.tuples(st.just("move"), st.integers(-10, 10)),
    st.tuples(st.just("arm")),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("close")),
)


class Later:
    """Keeps the venue's delayed actions (the arming of children) until ``arm`` runs them."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, delay: float, action: Callable[[], None]) -> None:
        self.pending.append(action)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for action in pending:
            action()


def apply(venue: Venue, later: Later, step: tuple[object, ...]) -> None:
    kind = step[0]
    last = venue.market(MNQ).last
    try:
        if kind in ("market", "limit"):
            order_side, size, stop_ticks, target_ticks = step[1:5]
            assert isinstance(order_side, OrderSide) and isinstance(size, int)
            assert isinstance(stop_ticks, int) and isinstance(target_ticks, int)
            offset = step[5] if kind == "limit" else 0
            assert isinstance(offset, int)
            venue.place(
                PlaceRequest(
                    ACC,
                    MNQ,
                    OrderType.MARKET if kind == "market" else OrderType.LIMIT,
                    order_side,
                    size,
                    limit_price=last + offset * TICK if kind == "limit" else None,
                    stop_loss=Bracket(stop_ticks, OrderType.STOP),
                    take_profit=Bracket(target_ticks, OrderType.LIMIT),
                )
            )
        elif kind == "move":
            ticks = step[1]
            assert isinstance(ticks, int)
            venue.update_price(MNQ, max(last + ticks * TICK, TICK))
        elif kind == "arm":
            later.run()
        elif kind == "cancel":
            index = step[1]
            assert isinstance(index, int)
            orders = sorted(venue.orders(ACC), key=lambda o: o.id)
            if orders:
                venue.cancel(ACC, orders[index % len(orders)].id)
        elif kind == "close":
            venue.close_position(ACC, MNQ)
    except VenueError:
        pass  # refusals (a filled order, no position) change nothing


def check_families(venue: Venue, armed_pending: bool) -> None:
    for entry in venue.orders(ACC):
        if not entry.children:
            continue
        children = [venue.order(i) for i in entry.children]
        stop_loss, take_profit = children
        assert take_profit.linked_order_id == stop_loss.id
        for child in children:
            assert child.parent_order_id == entry.id
            assert (child.size, child.side) == (entry.size, entry.side.opposite)
            assert child.creation_timestamp == entry.creation_timestamp
            check_child(entry, child, armed_pending)
        assert [c.status for c in children].count(OrderStatus.FILLED) <= 1
        if entry.status == OrderStatus.CANCELLED:
            assert all(c.status == OrderStatus.CANCELLED for c in children)


def check_child(entry: Order, child: Order, armed_pending: bool) -> None:
    price = child.limit_price if child.type == OrderType.LIMIT else child.stop_price
    if child.status == OrderStatus.SUSPENDED:
        assert price is None and child.trail_price is None
        # suspended only while the entry works, or between its fill and the arming
        assert entry.status in (OrderStatus.OPEN, OrderStatus.PENDING) or (
            entry.status == OrderStatus.FILLED and armed_pending
        )
        return
    if child.status in (OrderStatus.OPEN, OrderStatus.FILLED):
        assert entry.status == OrderStatus.FILLED and entry.filled_price is not None
        assert child.trail_distance is not None
        assert (
            price
            == child.trail_price
            == max(entry.filled_price + child.trail_distance * TICK, TICK)
        )


@settings(max_examples=150, deadline=None)
@given(st.lists(action, max_size=25))
def test_bracket_families_keep_their_shape_in_every_sequence(
    steps: list[tuple[object, ...]],
) -> None:
    later = Later()
    venue = Venue(
        catalogue(date(2026, 11, 24)),
        [AccountSpec(ACC, "PROP", Decimal("50000"), auto_oco=True)],
        lambda: datetime(2026, 11, 24, tzinfo=UTC),
        schedule=later,
    )
    for step in steps:
        apply(venue, later, step)
        check_families(venue, armed_pending=bool(later.pending))
    later.run()
    check_families(venue, armed_pending=False)
