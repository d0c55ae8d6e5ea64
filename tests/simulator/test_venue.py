"""The simulated venue's matching, netting and cash rules, driven directly (no I/O, no clock).

Event order and the live quirks follow reference §7.3; the economics follow §6 (P&L per
contract = price move / tickSize * tickValue).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from simple_risk.adapters.simulator.brackets import BRACKETS_NEED_AUTO_OCO
from simple_risk.adapters.simulator.contracts import PRODUCTS, catalogue, front_month
from simple_risk.adapters.simulator.records import (
    AccountSpec,
    Bracket,
    MarketEvent,
    Order,
    PlaceRequest,
    Position,
    Reason,
    Trade,
    UserEvent,
    VenueError,
    VenueEvent,
)
from simple_risk.adapters.simulator.shapes import Shapes
from simple_risk.adapters.simulator.venue import Schedule, Venue
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType

ACC = 101
MNQ = "CON.F.US.MNQ.Z26"
MYM = "CON.F.US.MYM.Z26"
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def make_venue(
    *,
    auto_oco: bool = False,
    can_trade: bool = True,
    shapes: Shapes | None = None,
    schedule: Schedule | None = None,
) -> tuple[Venue, list[VenueEvent]]:
    """A venue on a fixed clock; delayed actions run at once unless ``schedule`` keeps them."""
    venue = Venue(
        catalogue(date(2026, 11, 24)),
        [AccountSpec(ACC, "TEST", Decimal("50000"), can_trade=can_trade, auto_oco=auto_oco)],
        lambda: NOW,
        shapes=shapes,
        schedule=schedule,
    )
    events: list[VenueEvent] = []
    venue.add_listener(events.append)
    return venue, events


def user_events(events: list[VenueEvent]) -> list[tuple[str, int, object]]:
    """(kind, action, status-or-size) for each user event: enough to read the order."""
    out: list[tuple[str, int, object]] = []
    for e in events:
        if not isinstance(e, UserEvent):
            continue
        entity = e.entity
        if isinstance(entity, Order):
            out.append(("order", e.action, entity.status))
        elif isinstance(entity, Trade):
            out.append(("trade", e.action, entity.profit_and_loss))
        elif isinstance(entity, Position):
            out.append(("position", e.action, entity.size))
        else:
            out.append(("account", e.action, entity.balance))
    return out


def market(venue: Venue, side: OrderSide, size: int, contract: str = MNQ) -> int:
    return venue.place(PlaceRequest(ACC, contract, OrderType.MARKET, side, size))


def test_catalogue_lists_the_51_live_contracts_with_projectx_ids_and_cme_names() -> None:
    contracts = catalogue(date(2026, 11, 24))
    active = {c.id: c for c in contracts if c.active}
    assert len(active) == 51
    for root in ("EP", "ENQ", "MNQ", "MES", "RTY", "M2K", "YM", "MYM", "EU6", "BP6", "TYA"):
        assert f"CON.F.US.{root}.Z26" in active
    assert active["CON.F.US.EP.Z26"].name == "ESZ6"
    assert active["CON.F.US.BP6.Z26"].name == "6BZ6"
    assert active["CON.F.US.M6A.Z26"].description.startswith("E-Micro")
    expired = [c for c in contracts if not c.active]
    # the contract before each front: the previous quarter for ES, the previous month for CL
    assert {c.id for c in expired} >= {"CON.F.US.EP.U26", "CON.F.US.CLE.Z26"}
    assert "CON.F.US.CLE.F27" in active


def test_each_product_rolls_by_its_own_month_cycle() -> None:
    # reference §14.5: in August 2026 the fronts were U26 for index/FX/rates, V26 for CL, MCL,
    # HO, RB, LE, HE, PL and QM, Z26 for GC, MGC, ZC, ZL, ZM and ZW, X26 for ZS, Q26 for MET and
    # MBT (monthly)
    names = {c.name for c in catalogue(date(2026, 8, 19)) if c.active}
    expected = {"ESU6", "6BU6", "ZNU6", "CLV6", "MCLV6", "HOV6", "RBV6", "LEV6", "HEV6"}
    expected |= {"PLV6", "QMV6", "GCZ6", "MGCZ6", "ZCZ6", "ZLZ6", "ZMZ6", "ZWZ6", "ZSX6"}
    expected |= {"METQ6", "MBTQ6"}
    assert expected <= names
    assert front_month(PRODUCTS[0], date(2026, 12, 20)) == (2027, 3)  # ES after the Dec roll


def test_market_buy_fills_at_the_ask_with_the_live_event_order() -> None:
    venue, events = make_venue()
    order_id = market(venue, OrderSide.BUY, 2)
    assert order_id > 2**31
    kinds = user_events(events)
    assert kinds == [
        ("order", 1, OrderStatus.PENDING),
        ("trade", 0, None),
        ("order", 1, OrderStatus.FILLED),
        ("position", 1, 2),
        ("account", 1, Decimal("50000") - Decimal("1.24")),
    ]
    trade = venue.trades(ACC)[0]
    assert trade.price == Decimal("21000.25")  # ask = last + 1 tick
    assert trade.id > 2**31
    (position,) = venue.open_positions(ACC)
    assert position.type == PositionType.LONG
    assert position.average_price == Decimal("21000.25")


def test_closing_resends_the_opening_half_turn_and_removes_the_position() -> None:
    venue, events = make_venue()
    market(venue, OrderSide.BUY, 15, MYM)
    venue.update_price(MYM, Decimal("44038"))
    events.clear()
    venue.close_position(ACC, MYM)
    kinds = user_events(events)
    # sell at the bid 44038 after buying at the ask 44001: 37 ticks * $0.50 * 15
    assert kinds[:5] == [
        ("order", 1, OrderStatus.PENDING),
        ("trade", 0, Decimal("277.5")),
        ("trade", 1, None),
        ("order", 1, OrderStatus.FILLED),
        ("position", 2, 0),
    ]
    assert kinds[5][0] == "account"
    assert venue.open_positions(ACC) == []
    fees = 2 * 15 * (Decimal("0.37") + Decimal("0.25"))
    assert venue.account(ACC).balance == Decimal("50000") + Decimal("277.5") - fees


def test_limit_order_rests_open_then_fills_at_the_quote_that_reaches_it() -> None:
    venue, _ = make_venue()
    order_id = venue.place(
        PlaceRequest(ACC, MNQ, OrderType.LIMIT, OrderSide.BUY, 1, limit_price=Decimal("20999"))
    )
    assert venue.order(order_id).status == OrderStatus.OPEN
    venue.update_price(MNQ, Decimal("20999.5"))
    assert venue.order(order_id).status == OrderStatus.OPEN
    venue.update_price(MNQ, Decimal("20990"))  # a gap: ask 20990.25 is better than the limit
    order = venue.order(order_id)
    assert order.status == OrderStatus.FILLED
    assert order.filled_price == Decimal("20990.25")


def test_sell_stop_triggers_when_the_bid_reaches_it() -> None:
    venue, _ = make_venue()
    market(venue, OrderSide.BUY, 1)
    stop_id = venue.place(
        PlaceRequest(ACC, MNQ, OrderType.STOP, OrderSide.SELL, 1, stop_price=Decimal("20995"))
    )
    venue.update_price(MNQ, Decimal("20995.25"))
    assert venue.order(stop_id).status == OrderStatus.OPEN
    venue.update_price(MNQ, Decimal("20995"))
    assert venue.order(stop_id).status == OrderStatus.FILLED
    assert venue.open_positions(ACC) == []


def test_stop_on_the_wrong_side_of_the_market_is_rejected() -> None:
    venue, _ = make_venue()
    with pytest.raises(VenueError) as info:
        venue.place(
            PlaceRequest(ACC, MNQ, OrderType.STOP, OrderSide.SELL, 1, stop_price=Decimal("21001"))
        )
    assert info.value.reason is Reason.ORDER_REJECTED


def test_stop_limit_rests_as_a_limit_after_triggering() -> None:
    venue, _ = make_venue()
    order_id = venue.place(
        PlaceRequest(
            ACC,
            MNQ,
            OrderType.STOP_LIMIT,
            OrderSide.BUY,
            1,
            stop_price=Decimal("21005"),
            limit_price=Decimal("21004"),
        )
    )
    venue.update_price(MNQ, Decimal("21006"))  # ask 21006.25 >= stop: triggered, above limit
    order = venue.order(order_id)
    assert order.triggered and order.status == OrderStatus.OPEN
    venue.update_price(MNQ, Decimal("21003"))
    assert venue.order(order_id).filled_price == Decimal("21003.25")


def test_trailing_stop_follows_the_market_up_and_fills_on_the_way_down() -> None:
    venue, _ = make_venue()
    market(venue, OrderSide.BUY, 1)
    order_id = venue.place(
        PlaceRequest(
            ACC, MNQ, OrderType.TRAILING_STOP, OrderSide.SELL, 1, trail_price=Decimal("20990")
        )
    )
    assert venue.order(order_id).stop_price == Decimal("20990")  # 40 ticks below the bid
    venue.update_price(MNQ, Decimal("21020"))
    assert venue.order(order_id).stop_price == Decimal("21010")
    venue.update_price(MNQ, Decimal("21015"))
    assert venue.order(order_id).stop_price == Decimal("21010")  # never moves back
    venue.update_price(MNQ, Decimal("21010"))
    assert venue.order(order_id).status == OrderStatus.FILLED


def test_brackets_are_rejected_in_position_bracket_mode_but_the_order_gets_an_id() -> None:
    venue, events = make_venue(auto_oco=False)
    request = PlaceRequest(
        ACC,
        MNQ,
        OrderType.MARKET,
        OrderSide.BUY,
        1,
        stop_loss=Bracket(10, OrderType.STOP),
        take_profit=Bracket(20, OrderType.LIMIT),
    )
    with pytest.raises(VenueError) as info:
        venue.place(request)
    assert info.value.message == BRACKETS_NEED_AUTO_OCO
    assert info.value.order_id is not None
    assert [k for k in user_events(events)] == [
        ("order", 1, OrderStatus.PENDING),
        ("order", 1, OrderStatus.REJECTED),
    ]


def test_auto_oco_brackets_place_linked_exits_and_one_cancels_the_other() -> None:
    venue, _ = make_venue(auto_oco=True)
    venue.place(
        PlaceRequest(
            ACC,
            MNQ,
            OrderType.MARKET,
            OrderSide.BUY,
            1,
            stop_loss=Bracket(8, OrderType.STOP),
            take_profit=Bracket(12, OrderType.LIMIT),
        )
    )
    stop, target = sorted(venue.open_orders(ACC), key=lambda o: o.type, reverse=True)
    assert stop.type == OrderType.STOP and stop.stop_price == Decimal("20998.25")
    assert target.type == OrderType.LIMIT and target.limit_price == Decimal("21003.25")
    venue.update_price(MNQ, Decimal("21003.25"))
    assert venue.order(target.id).status == OrderStatus.FILLED
    assert venue.order(stop.id).status == OrderStatus.CANCELLED
    assert venue.open_positions(ACC) == []


def test_an_account_that_cannot_trade_is_refused() -> None:
    venue, _ = make_venue(can_trade=False)
    with pytest.raises(VenueError) as info:
        market(venue, OrderSide.BUY, 1)
    assert info.value.reason is Reason.ACCOUNT_VIOLATION


def test_a_reused_custom_tag_is_rejected() -> None:
    venue, _ = make_venue()
    venue.place(PlaceRequest(ACC, MNQ, OrderType.MARKET, OrderSide.BUY, 1, custom_tag="a"))
    with pytest.raises(VenueError) as info:
        venue.place(PlaceRequest(ACC, MNQ, OrderType.MARKET, OrderSide.BUY, 1, custom_tag="a"))
    assert info.value.reason is Reason.ORDER_REJECTED


def test_a_price_off_the_tick_grid_is_rejected() -> None:
    venue, _ = make_venue()
    with pytest.raises(VenueError):
        venue.place(
            PlaceRequest(ACC, MNQ, OrderType.LIMIT, OrderSide.BUY, 1, limit_price=Decimal("1.1"))
        )


def test_partial_close_reduces_and_too_large_a_close_is_refused() -> None:
    venue, _ = make_venue()
    market(venue, OrderSide.SELL, 3)
    venue.close_position(ACC, MNQ, 2)
    (position,) = venue.open_positions(ACC)
    assert (position.type, position.size) == (PositionType.SHORT, 1)
    with pytest.raises(VenueError) as info:
        venue.close_position(ACC, MNQ, 2)
    assert info.value.reason is Reason.INVALID_CLOSE_SIZE
    with pytest.raises(VenueError) as missing:
        venue.close_position(ACC, MYM)
    assert missing.value.reason is Reason.POSITION_NOT_FOUND


def test_a_reversing_fill_closes_then_opens_the_other_way() -> None:
    venue, _ = make_venue()
    market(venue, OrderSide.BUY, 2)
    market(venue, OrderSide.SELL, 3)
    (position,) = venue.open_positions(ACC)
    assert (position.type, position.size) == (PositionType.SHORT, 1)
    closing, opening = venue.trades(ACC)[1:]
    assert closing.size == 2 and closing.profit_and_loss == Decimal("-1.00")
    assert opening.size == 1 and opening.profit_and_loss is None


def test_cancel_and_modify_a_resting_order() -> None:
    venue, _ = make_venue()
    order_id = venue.place(
        PlaceRequest(ACC, MNQ, OrderType.LIMIT, OrderSide.BUY, 1, limit_price=Decimal("20900"))
    )
    venue.modify(ACC, order_id, size=3, limit_price=Decimal("20950"))
    order = venue.order(order_id)
    assert (order.size, order.limit_price) == (3, Decimal("20950"))
    venue.cancel(ACC, order_id)
    assert venue.order(order_id).status == OrderStatus.CANCELLED
    with pytest.raises(VenueError) as info:
        venue.cancel(ACC, order_id)
    assert info.value.reason is Reason.ORDER_REJECTED


def test_voiding_a_fill_reverses_its_cash_and_its_position() -> None:
    venue, events = make_venue()
    market(venue, OrderSide.BUY, 2)
    trade = venue.trades(ACC)[0]
    venue.void_trade(trade.id)
    assert venue.trades(ACC)[0].voided
    assert venue.open_positions(ACC) == []
    assert venue.account(ACC).balance == Decimal("50000")
    assert ("position", 2, 0) in user_events(events)


def test_live_quotes_carry_the_book_and_the_changed_fields_but_never_the_last_price() -> None:
    venue, events = make_venue()
    venue.update_price(MNQ, Decimal("21000.25"))
    venue.update_price(MNQ, Decimal("21000.25"))
    quotes = [e.data for e in events if isinstance(e, MarketEvent) and e.target == "GatewayQuote"]
    assert isinstance(quotes[0], dict) and isinstance(quotes[1], dict)
    assert all("lastPrice" not in quote for quote in quotes)
    assert set(quotes[1]) == {
        "symbol",
        "contract",
        "bestBid",
        "bestAsk",
        "volume",
        "lastUpdated",
        "timestamp",
    }
    assert (quotes[1]["symbol"], quotes[1]["contract"]) == ("F.US.MNQ", MNQ)
    assert quotes[1]["volume"] == 2
    assert "high" in quotes[0] and "high" not in quotes[1]  # only changed fields besides


def test_older_quotes_after_the_first_carry_only_changed_fields() -> None:
    venue, events = make_venue(shapes=Shapes.legacy(["quotes"]))
    venue.update_price(MNQ, Decimal("21000.25"))
    venue.update_price(MNQ, Decimal("21000.25"))
    quotes = [e.data for e in events if isinstance(e, MarketEvent) and e.target == "GatewayQuote"]
    assert isinstance(quotes[0], dict) and isinstance(quotes[1], dict)
    assert quotes[0]["lastPrice"] == Decimal("21000.25")
    assert "lastPrice" not in quotes[1] and "bestBid" not in quotes[1]
    assert quotes[1]["volume"] == 2
    assert {"symbol", "timestamp"} <= set(quotes[1])


def test_the_average_price_of_several_lots_is_kept_to_nine_decimals() -> None:
    venue, _ = make_venue()
    market(venue, OrderSide.BUY, 1)
    venue.update_price(MNQ, Decimal("21000.25"))
    market(venue, OrderSide.BUY, 2)
    (position,) = venue.open_positions(ACC)
    assert position.size == 3
    assert position.average_price == Decimal("21000.416666667")
