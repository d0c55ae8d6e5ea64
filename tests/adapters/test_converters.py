"""Converters against payloads in the exact shapes of reference §4 and §7–§8."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.converters import (
    DEFAULT_SYMBOLS,
    contract_from_wire,
    contracts_from_rest,
    order_from_wire,
    orders_from_rest,
    positions_from_rest,
    trades_from_rest,
)
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.exactjson import dumps_exact, loads_exact
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.adapters.topstepx.outgoing import (
    cancel_order_request,
    close_position_request,
    modify_stop_request,
    partial_close_request,
    place_stop_request,
)
from simple_risk.adapters.topstepx.wirefields import WireFormatError, parse_timestamp, to_decimal
from simple_risk.engine.events import (
    AccountUpdate,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    TradeFill,
)

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def fixed_clock() -> ReceiveClock:
    return ReceiveClock(lambda: AT)


# The wrapped user-hub order exactly as in reference §9.5 (null fields omitted, 7-digit time).
WRAPPED_ORDER = json.loads(
    '[{"action":1,"data":{"id":4000000001,"accountId":123,"contractId":"CON.F.US.MNQ.Z25",'
    '"symbolId":"F.US.MNQ","status":1,"type":1,"side":0,"size":1,"limitPrice":21000.25,'
    '"fillVolume":0,"creationTimestamp":"2025-11-24T15:00:00.1234567+00:00",'
    '"updateTimestamp":"2025-11-24T15:00:00.1234567+00:00"}}]',
    parse_float=Decimal,
)


def test_wrapped_user_order_converts_with_int64_id_exact_price_and_7_digit_time() -> None:
    events = Converter(fixed_clock()).user("GatewayUserOrder", WRAPPED_ORDER)
    assert len(events) == 1
    order = events[0]
    assert isinstance(order, OrderUpdate)
    assert order.order_id == 4000000001 > 2**31
    assert order.status is OrderStatus.OPEN
    assert order.type is OrderType.LIMIT
    assert order.side is OrderSide.BUY
    assert order.limit_price == Decimal("21000.25")
    assert order.stop_price is None and order.filled_price is None and order.custom_tag is None
    assert order.created_at == datetime(2025, 11, 24, 15, 0, 0, 123456, tzinfo=UTC)
    assert order.at == AT


def test_bare_user_entity_is_accepted_like_a_wrapped_one() -> None:
    bare = [WRAPPED_ORDER[0]["data"]]
    converter = Converter(fixed_clock())
    assert converter.user("GatewayUserOrder", bare) == converter.user(
        "GatewayUserOrder", WRAPPED_ORDER
    )


def test_opening_trade_without_profit_and_loss_has_pnl_none_and_commissions() -> None:
    # LOG shape (reference §7.3): action 0, fees and commissions, no profitAndLoss.
    payload = [
        {
            "action": 0,
            "data": {
                "id": 2934939764,
                "accountId": 20123456,
                "contractId": "CON.F.US.MYM.M26",
                "creationTimestamp": "2026-05-06T13:36:03.4962794+00:00",
                "price": 49909,
                "fees": 5.55,
                "commissions": 3.75,
                "side": 0,
                "size": 15,
                "voided": False,
                "orderId": 2934939700,
            },
        }
    ]
    (fill,) = Converter(fixed_clock()).user("GatewayUserTrade", payload)
    assert isinstance(fill, TradeFill)
    assert fill.pnl is None
    assert fill.price == Decimal(49909)
    assert fill.fees == Decimal("5.55") and fill.commissions == Decimal("3.75")
    assert fill.trade_id == 2934939764 and fill.order_id == 2934939700


def test_hub_floats_become_the_exact_decimal_of_their_wire_text() -> None:
    # signalrcore's stock protocol parses floats; 5.55 must still be exactly 5.55.
    assert to_decimal(5.55) == Decimal("5.55")
    assert to_decimal(0.1) + to_decimal(0.2) == Decimal("0.3")


def test_flat_position_event_size_zero_without_average_price() -> None:
    payload = [
        {"action": 1, "data": {"id": 7, "accountId": 1, "contractId": "CON.F.US.EP.Z25", "size": 0}}
    ]
    (position,) = Converter(fixed_clock()).user("GatewayUserPosition", payload)
    assert isinstance(position, PositionUpdate)
    assert position.size == 0 and position.average_price == 0


def test_a_live_removed_position_is_flat() -> None:
    # §14.1: action 2, type 0, size 0, the old average price and contractDisplayName
    payload = loads_exact(
        '[{"action":2,"data":{"id":825245547,"accountId":536,"contractId":"CON.F.US.MNQ.U26",'
        '"contractDisplayName":"MNQU26","creationTimestamp":"2026-08-19T14:15:48.611387+00:00",'
        '"type":0,"size":0,"averagePrice":29398.5}}]'
    )
    (position,) = Converter(fixed_clock()).user("GatewayUserPosition", payload)
    assert isinstance(position, PositionUpdate)
    assert (position.size, position.type) == (0, PositionType.UNDEFINED)
    assert position.average_price == Decimal("29398.5")
    assert position.position_id == 825245547


@pytest.mark.parametrize("action", [2, "2", 2.0, " 2 "])
def test_a_removed_position_is_flat_whatever_size_it_still_shows(action: object) -> None:
    # whatever way its action number is written: every number of a payload may come as a
    # string or a float (sizes, types, ids are read so), the action too; else the position
    # stayed open at its old size after it went flat
    payload = [
        {
            "action": action,
            "data": {
                "id": 7,
                "accountId": 1,
                "contractId": "CON.F.US.EP.Z25",
                "type": 1,
                "size": 3,
                "averagePrice": 6000,
            },
        }
    ]
    (position,) = Converter(fixed_clock()).user("GatewayUserPosition", payload)
    assert isinstance(position, PositionUpdate) and position.size == 0


def test_account_event_converts() -> None:
    payload = [
        {
            "action": 1,
            "data": {
                "id": 20123456,
                "name": "150KTC-V2-1",
                "balance": 150000.5,
                "canTrade": True,
                "isVisible": True,
                "simulated": True,
            },
        }
    ]
    (account,) = Converter(fixed_clock()).user("GatewayUserAccount", payload)
    assert account == AccountUpdate(
        at=AT,
        account_id=20123456,
        name="150KTC-V2-1",
        balance=Decimal("150000.5"),
        can_trade=True,
    )


REST_ORDERS = """{"orders":[{"id":36598,"accountId":704,"contractId":"CON.F.US.EP.U25",
"symbolId":"F.US.EP","creationTimestamp":"2025-07-18T21:00:01.268009+00:00",
"updateTimestamp":"2025-07-18T21:00:01.268009+00:00","status":1,"type":4,"side":1,"size":1,
"limitPrice":null,"stopPrice":6065.250000000,"fillVolume":0,"filledPrice":null,
"customTag":null}],"success":true,"errorCode":0,"errorMessage":null}"""


def test_rest_orders_with_explicit_nulls_and_9_digit_decimals() -> None:
    (order,) = orders_from_rest(loads_exact(REST_ORDERS), AT)
    assert order.stop_price == Decimal("6065.25")
    assert order.limit_price is None
    assert order.type is OrderType.STOP and order.side is OrderSide.SELL


def test_rest_positions_and_trades() -> None:
    positions = loads_exact(
        '{"positions":[{"id":6124,"accountId":536,"contractId":"CON.F.US.GMET.J25",'
        '"creationTimestamp":"2025-04-21T19:52:32.175721+00:00","type":1,"size":2,'
        '"averagePrice":1575.750000000}],"success":true,"errorCode":0,"errorMessage":null}'
    )
    (position,) = positions_from_rest(positions, AT)
    assert position.type is PositionType.LONG and position.average_price == Decimal("1575.75")
    trades = loads_exact(
        '{"trades":[{"id":8604,"accountId":203,"contractId":"CON.F.US.EP.H25",'
        '"creationTimestamp":"2025-01-21T16:13:52.523293+00:00","price":6065.250000000,'
        '"profitAndLoss":50.000000000,"fees":1.4000,"side":1,"size":1,"voided":false,'
        '"orderId":14328},{"id":8603,"accountId":203,"contractId":"CON.F.US.EP.H25",'
        '"creationTimestamp":"2025-01-21T16:13:04.142302+00:00","price":6064.250000000,'
        '"profitAndLoss":null,"fees":1.4000,"side":0,"size":1,"voided":false,"orderId":14326}],'
        '"success":true,"errorCode":0,"errorMessage":null}'
    )
    closing, opening = trades_from_rest(trades, AT)
    assert closing.pnl == Decimal(50) and opening.pnl is None
    assert closing.fees == Decimal("1.4")


def test_contract_root_is_aliased_and_weighted() -> None:
    es = contract_from_wire(
        {
            "id": "CON.F.US.EP.Z25",
            "name": "ESZ5",
            "description": "E-mini S&P 500",
            "tickSize": Decimal("0.250000000"),
            "tickValue": Decimal("12.500000000"),
            "activeContract": True,
            "symbolId": "F.US.EP",
        }
    )
    assert (es.root, es.units, es.tick_size, es.tick_value) == ("ES", 10, Decimal("0.25"), 12.5)
    by_id = contracts_from_rest(
        {
            "contract": {
                "id": "CON.F.US.MNQ.Z25",
                "name": "MNQZ5",
                "tickSize": 0.25,
                "tickValue": 0.5,
                "activeContract": False,
                "symbolId": "F.US.MNQ",
            },
            "success": True,
        },
        DEFAULT_SYMBOLS,
    )
    assert by_id[0].root == "MNQ" and by_id[0].units == 1 and not by_id[0].active
    mcl = contract_from_wire(
        {"id": "CON.F.US.MCLE.F26", "tickSize": 0.01, "tickValue": 1, "symbolId": "F.US.MCLE"}
    )
    assert (mcl.root, mcl.units) == ("MCL", 1)


@pytest.mark.parametrize("tick_value", [0, "0.000000000", -5, "-12.5"])
def test_a_contract_whose_tick_is_worth_nothing_or_less_is_unreadable(tick_value: object) -> None:
    # a position's P&L is its move in ticks times the tick's value: at 0 every loss reads $0
    # (no loss limit ever fires), below 0 a loss reads as a gain. Such a contract is not
    # loaded (its P&L stays unknown, as for any contract not loaded); the others are
    es = {"id": "CON.F.US.EP.Z26", "name": "ESZ6", "tickSize": 0.25, "tickValue": tick_value}
    with pytest.raises(WireFormatError, match="tickValue"):
        contract_from_wire(es)
    mnq = {"id": "CON.F.US.MNQ.Z26", "name": "MNQZ6", "tickSize": 0.25, "tickValue": 0.5}
    (kept,) = contracts_from_rest({"contracts": [es, mnq], "success": True}, DEFAULT_SYMBOLS)
    assert kept.contract_id == "CON.F.US.MNQ.Z26"


def test_partial_quotes_merge_into_the_last_full_quote() -> None:
    converter = Converter(fixed_clock())
    first = converter.market(
        "GatewayQuote",
        [
            "CON.F.US.MNQ.Z25",
            {
                "symbol": "F.US.MNQ",
                "lastPrice": 21000.25,
                "bestBid": 21000,
                "bestAsk": 21000.5,
                "timestamp": "2025-11-24T15:00:00.1234567+00:00",
            },
        ],
    )
    second = converter.market("GatewayQuote", ["CON.F.US.MNQ.Z25", {"bestBid": 21000.25}])
    assert isinstance(first[0], Quote) and isinstance(second[0], Quote)
    assert second[0].bid == Decimal("21000.25")
    assert second[0].ask == Decimal("21000.5") and second[0].last == Decimal("21000.25")
    other = converter.market("GatewayQuote", ["CON.F.US.EP.Z25", {"lastPrice": 6000}])
    assert isinstance(other[0], Quote) and other[0].bid is None


# A live quote delta (§14.4): symbol, contract, book and times, no lastPrice.
LIVE_QUOTE = loads_exact(
    '["CON.F.US.MNQ.U26",{"symbol":"F.US.MNQ","contract":"CON.F.US.MNQ.U26",'
    '"bestBid":29398.25,"bestAsk":29398.5,"lastUpdated":"2026-08-19T14:15:48.6113871+00:00",'
    '"timestamp":"2026-08-19T14:15:48.6113871+00:00"}]'
)
# A live GatewayTrade (§14.4): an array of market trades.
LIVE_MARKET_TRADES = loads_exact(
    '["CON.F.US.MNQ.U26",[{"symbolId":"F.US.MNQ","price":29398.25,'
    '"timestamp":"2026-08-19T14:15:48.5000000+00:00","type":1,"volume":2,'
    '"contractId":"CON.F.US.MNQ.U26"},{"symbolId":"F.US.MNQ","price":29398.5,'
    '"timestamp":"2026-08-19T14:15:48.6000000+00:00","type":0,"volume":1,'
    '"contractId":"CON.F.US.MNQ.U26"}]]'
)


def test_a_live_quote_without_last_price_keeps_the_last_trade_price() -> None:
    converter = Converter(fixed_clock())
    (first,) = converter.market("GatewayQuote", LIVE_QUOTE)
    assert isinstance(first, Quote) and first.last is None  # no snapshot: never seen yet
    assert (first.bid, first.ask) == (Decimal("29398.25"), Decimal("29398.5"))
    (traded,) = converter.market("GatewayTrade", LIVE_MARKET_TRADES)
    assert isinstance(traded, Quote) and traded.last == Decimal("29398.5")  # the latest trade
    assert (traded.bid, traded.ask) == (Decimal("29398.25"), Decimal("29398.5"))
    (again,) = converter.market("GatewayQuote", LIVE_QUOTE)
    assert isinstance(again, Quote) and again.last == Decimal("29398.5")


def test_a_market_trade_outside_the_bid_and_ask_held_leaves_the_quote_without_them() -> None:
    """After a market-hub gap (a bars spell) the book still holds the bid and ask heard before
    it; live deltas and market trades come on two subscriptions. A trade printed outside that
    bid and ask says they are gone: the quote it makes has the trade's price and neither, so a
    long is marked at the trade — not at the bid of before the gap, 7 points up, which hid a
    $350 open loss past the $300 limit until the next delta (for good while only the quote
    subscription is lost). A trade inside them keeps them."""
    converter = Converter(fixed_clock())
    converter.market("GatewayQuote", LIVE_QUOTE)  # bid 29398.25, ask 29398.5
    contract = "CON.F.US.MNQ.U26"
    inside = {"price": 29398.5, "type": 0, "volume": 1, "contractId": contract}
    (kept,) = converter.market("GatewayTrade", [contract, [inside]])
    assert isinstance(kept, Quote)
    assert (kept.last, kept.bid, kept.ask) == (
        Decimal("29398.5"),
        Decimal("29398.25"),
        Decimal("29398.5"),
    )
    fallen = {"price": 29391.25, "type": 1, "volume": 1, "contractId": contract}
    (traded,) = converter.market("GatewayTrade", [contract, [fallen]])
    assert isinstance(traded, Quote)
    assert (traded.last, traded.bid, traded.ask) == (Decimal("29391.25"), None, None)
    (back,) = converter.market("GatewayQuote", LIVE_QUOTE)  # the next delta brings both
    assert isinstance(back, Quote) and (back.bid, back.ask) == (
        Decimal("29398.25"),
        Decimal("29398.5"),
    )


def test_the_newest_market_trade_sets_the_last_price_whatever_its_place_in_the_array() -> None:
    """Nothing documents the order of a GatewayTrade array: newest first would otherwise mark
    positions at the oldest trade's price. A late message with an older trade is no news."""
    contract, trades = LIVE_MARKET_TRADES
    newest_first = Converter(fixed_clock())
    (quote,) = newest_first.market("GatewayTrade", [contract, list(reversed(trades))])
    assert isinstance(quote, Quote) and quote.last == Decimal("29398.5")
    (late,) = newest_first.market("GatewayTrade", [contract, trades[:1]])
    assert isinstance(late, Quote) and late.last == Decimal("29398.5")
    assert late.timestamp == quote.timestamp


def test_a_single_market_trade_object_is_accepted_and_an_empty_array_gives_nothing() -> None:
    converter = Converter(fixed_clock())
    (quote,) = converter.market("GatewayTrade", ["CON.F.US.MNQ.Z25", {"price": 1, "type": 0}])
    assert isinstance(quote, Quote) and quote.last == Decimal(1)
    assert converter.market("GatewayTrade", ["CON.F.US.MNQ.Z25", []]) == []
    assert converter.market("GatewayTrade", ["CON.F.US.MNQ.Z25", [{"type": 0}]]) == []
    assert converter.rejected["GatewayTrade"] == 1  # a trade without a price


def test_market_depth_carries_no_domain_event() -> None:
    converter = Converter(fixed_clock())
    depth = ["CON.F.US.MNQ.Z25", [{"price": 1, "type": 3, "volume": 1, "currentVolume": 1}]]
    assert converter.market("GatewayDepth", depth) == []
    assert converter.ignored["GatewayDepth"] == 1


@pytest.mark.parametrize(
    "payload",
    [
        [{"action": 1, "data": {"id": 1}}],  # required fields missing
        [{"action": 1, "data": {**WRAPPED_ORDER[0]["data"], "side": 3}}],  # unknown side
        [{"action": 1, "data": {**WRAPPED_ORDER[0]["data"], "limitPrice": "abc"}}],
        [{"action": 1, "data": {**WRAPPED_ORDER[0]["data"], "id": True}}],
        [{"action": 1, "data": "not an object"}],
        "not a list",
        [None],
    ],
)
def test_malformed_user_payloads_are_counted_and_skipped(payload: object) -> None:
    converter = Converter(fixed_clock())
    assert converter.user("GatewayUserOrder", payload) == []
    assert converter.rejected["GatewayUserOrder"] >= 1


LIVE_FILL = {  # §14.2: an MNQ half-turn as the live user hub sends it
    "id": 8604, "accountId": 704, "contractId": "CON.F.US.MNQ.U26", "orderId": 36598,
    "creationTimestamp": "2026-08-19T14:15:25.3938333+00:00", "price": 29398.5,
    "profitAndLoss": -49, "fees": 0.36, "commissions": 0.25, "side": 1, "size": 1,
    "voided": False,
}  # fmt: skip
LIVE_POSITION = {  # §14.1
    "id": 825245547, "accountId": 704, "contractId": "CON.F.US.MNQ.U26",
    "contractDisplayName": "MNQU26", "creationTimestamp": "2026-08-19T14:15:48.611387+00:00",
    "type": 1, "size": 2, "averagePrice": 29398.5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("target", "entity", "field", "garbage"),
    [
        ("GatewayUserTrade", LIVE_FILL, "creationTimestamp", 1755613525),  # epoch seconds
        ("GatewayUserTrade", LIVE_FILL, "creationTimestamp", "yesterday"),
        ("GatewayUserPosition", LIVE_POSITION, "creationTimestamp", "n/a"),
        ("GatewayUserPosition", LIVE_POSITION, "id", "pos-1"),
        ("GatewayUserOrder", WRAPPED_ORDER[0]["data"], "updateTimestamp", ""),
        ("GatewayUserOrder", WRAPPED_ORDER[0]["data"], "trailDistance", 2.5),
        ("GatewayUserOrder", WRAPPED_ORDER[0]["data"], "customTag", 123),
    ],
)
def test_an_unreadable_descriptive_field_is_logged_and_the_entity_kept(
    target: str,
    entity: dict[str, object],
    field: str,
    garbage: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fill or a position is never dropped for a field that does not change its size, price
    or P&L: the engine goes on without it (a fill's trading day by its receive time)."""
    converter = Converter(fixed_clock())
    (event,) = converter.user(target, [{"action": 0, "data": {**entity, field: garbage}}])
    assert converter.rejected[target] == 0
    if isinstance(event, TradeFill):
        assert (event.pnl, event.fees, event.created_at) == (Decimal(-49), Decimal("0.36"), None)
    shown = garbage if field == "id" else entity["id"]
    assert f"unreadable optional field of id {shown!r} ({field}:" in caplog.text


def test_a_recorded_rest_answer_loses_only_its_unreadable_record() -> None:
    """Replay converts recorded REST answers as the daemon reads them live: record by record,
    so one unreadable trade never drops the day's other fills from a what-if."""
    converter = Converter(fixed_clock())
    body = {"trades": [LIVE_FILL, {**LIVE_FILL, "id": 8605, "side": 7}, {**LIVE_FILL, "id": 8606}]}
    events = converter.rest(Endpoint.TRADE_SEARCH, body)
    assert [e.trade_id for e in events if isinstance(e, TradeFill)] == [8604, 8606]
    assert converter.rejected[Endpoint.TRADE_SEARCH] == 1


def test_one_bad_entity_does_not_hide_the_good_ones() -> None:
    good = WRAPPED_ORDER[0]
    events = Converter(fixed_clock()).user("GatewayUserOrder", [{"action": 1, "data": {}}, good])
    assert len(events) == 1


def test_no_time_and_naive_timestamps() -> None:
    assert parse_timestamp("0001-01-01T00:00:00+00:00") is None
    assert parse_timestamp("2025-01-01T00:00:00") == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(WireFormatError):
        parse_timestamp("yesterday")


def test_request_builders_produce_the_documented_bodies() -> None:
    assert cancel_order_request(1, 4000000001).body == {"accountId": 1, "orderId": 4000000001}
    assert close_position_request(1, "CON.F.US.EP.Z25").endpoint is Endpoint.POSITION_CLOSE
    partial = partial_close_request(1, "CON.F.US.EP.Z25", 2)
    assert partial.endpoint is Endpoint.POSITION_PARTIAL_CLOSE and partial.body["size"] == 2
    stop = place_stop_request(
        1, "CON.F.US.EP.Z25", side=OrderSide.SELL, size=2, stop_price=Decimal("6000.25")
    )
    assert stop.body["type"] == 4 and stop.body["side"] == 1
    assert dumps_exact(stop.body).count('"stopPrice":6000.25') == 1
    modify = modify_stop_request(1, 9, stop_price=Decimal("6001.00"))
    assert modify.endpoint is Endpoint.ORDER_MODIFY and "size" not in modify.body
    with pytest.raises(ValueError):
        partial_close_request(1, "CON.F.US.EP.Z25", 0)


def test_exact_json_round_trip_keeps_every_digit() -> None:
    value = {"a": Decimal("6065.250000000"), "b": [1, None, True, "x"], "c": Decimal("1E-9")}
    assert loads_exact(dumps_exact(value)) == value
    order = order_from_wire(WRAPPED_ORDER[0]["data"], AT)
    assert order.limit_price == loads_exact(dumps_exact(WRAPPED_ORDER))[0]["data"]["limitPrice"]
