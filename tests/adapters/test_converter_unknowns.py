"""Records nobody scripted: enum values outside the known set, and lists with one bad element.

The rule book: a record that still means something reaches the engine, read on the safe side
(an order of unknown type is a working, non-protective order; an order of unknown status is
working until REST says otherwise); a record that cannot be read (an unknown side, an unknown
position type) is skipped, counted, and doubted — the daemon alerts and reconciles its account.
One bad element of a list never drops the good ones beside it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.converters import contracts_from_rest, order_from_wire
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.exactjson import loads_exact
from simple_risk.adapters.topstepx.hubconverter import Converter, Doubt
from simple_risk.adapters.topstepx.quotes import QuoteBook, market_trades_from_wire
from simple_risk.adapters.topstepx.wirefields import UNKNOWN_VALUES, WireFormatError
from simple_risk.engine.events import (
    STOP_TYPES,
    WORKING_STATUSES,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Quote,
)

AT = datetime(2026, 8, 19, 14, 15, 48, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.U26"

# A live user-hub order (§14.3's stop-loss child once its entry filled: 4 Stop, 1 Open).
LIVE_ORDER: dict[str, Any] = {
    "id": 36599, "accountId": 704, "contractId": MNQ, "symbolId": "F.US.MNQ",
    "creationTimestamp": "2026-08-19T14:15:25.3938333+00:00",
    "updateTimestamp": "2026-08-19T14:15:25.4138333+00:00",
    "status": 1, "type": 4, "side": 1, "size": 2, "stopPrice": 29380.5, "fillVolume": 0,
}  # fmt: skip
LIVE_FILL: dict[str, Any] = {  # §14.2
    "id": 8604, "accountId": 704, "contractId": MNQ, "orderId": 36598,
    "creationTimestamp": "2026-08-19T14:15:25.3938333+00:00", "price": 29398.5,
    "profitAndLoss": -49, "fees": 0.36, "commissions": 0.25, "side": 1, "size": 1,
    "voided": False,
}  # fmt: skip
LIVE_POSITION: dict[str, Any] = {  # §14.1
    "id": 825245547, "accountId": 704, "contractId": MNQ, "contractDisplayName": "MNQU26",
    "creationTimestamp": "2026-08-19T14:15:48.611387+00:00", "type": 1, "size": 2,
    "averagePrice": 29398.5,
}  # fmt: skip
# A live market trade (§14.4): one element of a GatewayTrade array.
MARKET_TRADE: dict[str, Any] = {
    "symbolId": "F.US.MNQ", "price": 29398.25, "timestamp": "2026-08-19T14:15:48.5000000+00:00",
    "type": 1, "volume": 2, "contractId": MNQ,
}  # fmt: skip
# A Contract/available entry (§14.5).
CONTRACT: dict[str, Any] = {
    "id": MNQ, "name": "MNQU6", "description": "Micro E-mini Nasdaq-100: September 2026",
    "tickSize": 0.25, "tickValue": 0.5, "activeContract": True, "symbolId": "F.US.MNQ",
}  # fmt: skip


class Listening:
    """A converter whose doubts are kept, as the daemon's intake would queue them."""

    def __init__(self) -> None:
        self.doubts: list[Doubt] = []
        self.converter = Converter(ReceiveClock(lambda: AT), on_doubt=self.doubts.append)

    def user(self, target: str, entity: object, action: int = 1) -> list[Any]:
        return self.converter.user(target, [{"action": action, "data": entity}])


def order(**changes: object) -> dict[str, Any]:
    return {**LIVE_ORDER, **changes}


# -- an unknown order type: kept, as a working order that protects nothing --------------------


def test_an_order_of_unknown_type_reaches_the_engine_as_a_working_non_protective_order() -> None:
    hub = Listening()
    (update,) = hub.user("GatewayUserOrder", order(type=8))
    assert isinstance(update, OrderUpdate)
    assert update.type is OrderType.UNKNOWN and update.type not in STOP_TYPES
    assert update.status in WORKING_STATUSES
    assert (update.side, update.size, update.stop_price) == (OrderSide.SELL, 2, Decimal("29380.5"))
    assert not hub.converter.rejected
    assert hub.converter.unknown.counts == {"order.type=8": 1}
    (doubt,) = hub.doubts
    assert (doubt.account_id, doubt.record_id, doubt.reconcile, doubt.skipped) == (
        704,
        36599,
        False,  # fully read: nothing REST could add
        False,
    )
    assert "order.type 8" in doubt.what


def test_each_unknown_value_is_logged_once_and_counted_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Listening()
    with caplog.at_level(logging.WARNING):
        for number, kind in enumerate([8, 8, 9, 8]):
            hub.user("GatewayUserOrder", order(id=36600 + number, type=kind))
    assert hub.converter.unknown.counts == {"order.type=8": 3, "order.type=9": 1}
    warnings = [r.getMessage() for r in caplog.records if "unknown order.type" in r.getMessage()]
    assert len(warnings) == 2
    assert all("logged once per value" in text for text in warnings)
    # the same trouble on many records is one alert's worth: the doubts say the same thing
    assert len({d.what for d in hub.doubts}) == 2


# -- an unknown order status: kept as working, and the account re-read from REST --------------


def test_an_order_of_unknown_status_is_read_as_working_and_doubted_for_a_reconcile() -> None:
    hub = Listening()
    (update,) = hub.user("GatewayUserOrder", order(status=9))
    assert isinstance(update, OrderUpdate)
    assert update.status is OrderStatus.OPEN and update.type is OrderType.STOP
    assert hub.converter.unknown.counts == {"order.status=9": 1}
    (doubt,) = hub.doubts
    assert (doubt.target, doubt.account_id, doubt.reconcile, doubt.skipped) == (
        "GatewayUserOrder",
        704,
        True,
        False,
    )
    assert "read as working" in doubt.what


def test_a_rest_order_of_unknown_status_is_kept_as_working() -> None:
    """``Order/searchOpen`` lists working orders only (§14.3): whatever its status says, an
    order it lists still works — and a reconcile must not lose it as unreadable."""
    converter = Converter(ReceiveClock(lambda: AT))
    events = converter.rest(Endpoint.ORDER_SEARCH_OPEN, {"orders": [order(status=9, type=8)]})
    assert [(e.status, e.type) for e in events if isinstance(e, OrderUpdate)] == [
        (OrderStatus.OPEN, OrderType.UNKNOWN)
    ]
    assert not converter.rejected


def test_the_strict_converter_counts_unknown_values_it_was_not_asked_to_report() -> None:
    before = UNKNOWN_VALUES.snapshot().get("order.type=77", 0)
    update = order_from_wire(order(type=77), AT)
    assert update.type is OrderType.UNKNOWN
    assert UNKNOWN_VALUES.snapshot()["order.type=77"] == before + 1


def test_an_unreadable_order_reports_no_unknown_value() -> None:
    """A record skipped for another field tells nothing of its type or status."""
    hub = Listening()
    assert hub.user("GatewayUserOrder", order(type=8, status=9, size="lots")) == []
    assert not hub.converter.unknown.counts
    (doubt,) = hub.doubts
    assert doubt.skipped and doubt.reconcile


@given(st.integers(9, 2**31) | st.integers(-(2**31), -1), st.integers(8, 2**31))
def test_any_out_of_range_status_or_type_still_converts(status: int, kind: int) -> None:
    hub = Listening()
    (update,) = hub.user("GatewayUserOrder", order(status=status, type=kind))
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.type) == (OrderStatus.OPEN, OrderType.UNKNOWN)
    assert [d.reconcile for d in hub.doubts] == [True, False]


# -- what cannot be guessed: skipped, counted, doubted ----------------------------------------


@pytest.mark.parametrize(
    ("target", "entity", "action"),
    [
        ("GatewayUserOrder", order(side=3), 1),
        ("GatewayUserTrade", {**LIVE_FILL, "side": 3}, 0),
        ("GatewayUserPosition", {**LIVE_POSITION, "type": 3}, 1),
    ],
)
def test_an_unknown_side_or_position_type_is_skipped_counted_and_doubted(
    target: str, entity: dict[str, Any], action: int
) -> None:
    hub = Listening()
    assert hub.user(target, entity, action) == []
    assert hub.converter.rejected[target] == 1
    (doubt,) = hub.doubts
    assert (doubt.target, doubt.account_id, doubt.record_id) == (target, 704, entity["id"])
    assert doubt.skipped and doubt.reconcile
    assert "is not a" in doubt.what


def test_an_open_position_of_undefined_type_is_skipped_and_doubted_never_taken_for_flat() -> None:
    # type 0 (Undefined) is how the hub says a position went flat (§14.1: size 0). With a
    # size it says nothing of which way the lots go: the engine would drop the position as
    # flat, so its loss went unwatched until a reconcile happened to come.
    hub = Listening()
    assert hub.user("GatewayUserPosition", {**LIVE_POSITION, "type": 0, "size": 3}) == []
    assert hub.converter.rejected["GatewayUserPosition"] == 1
    (doubt,) = hub.doubts
    assert (doubt.account_id, doubt.record_id) == (704, LIVE_POSITION["id"])
    assert doubt.skipped and doubt.reconcile
    # the flat shapes still read as flat
    (flat,) = hub.user("GatewayUserPosition", {**LIVE_POSITION, "type": 0, "size": 0}, action=2)
    (removed,) = hub.user("GatewayUserPosition", {**LIVE_POSITION, "type": 0}, action=2)
    assert flat.size == removed.size == 0


def test_a_record_that_does_not_say_whose_it_is_is_doubted_for_every_account() -> None:
    hub = Listening()
    assert hub.user("GatewayUserOrder", order(side=3, accountId="704a")) == []
    assert hub.user("GatewayUserAccount", {"id": 704, "balance": "lots", "canTrade": True}) == []
    assert [d.account_id for d in hub.doubts] == [None, 704]


def test_an_unreadable_message_is_doubted_too() -> None:
    hub = Listening()
    assert hub.converter.user("GatewayUserPosition", "not a list") == []
    (doubt,) = hub.doubts
    assert doubt.account_id is None and doubt.skipped and doubt.reconcile


def test_a_failing_listener_never_costs_the_message_its_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_doubt: Doubt) -> None:
        raise RuntimeError("queue gone")

    converter = Converter(ReceiveClock(lambda: AT), on_doubt=broken)
    events = converter.user("GatewayUserOrder", [order(status=9), order(id=36600)])
    assert [e.order_id for e in events if isinstance(e, OrderUpdate)] == [36599, 36600]
    assert "listener of an unreadable GatewayUserOrder record failed" in caplog.text


# -- lists: one bad element drops only itself ------------------------------------------------


BAD_ELEMENTS = st.sampled_from(
    [
        {**MARKET_TRADE, "price": None},
        {**MARKET_TRADE, "price": "n/a"},
        {**MARKET_TRADE, "price": []},  # (a time it cannot read is no bad trade: its price is)
        {"type": 0, "volume": 1},
        "not an object",
        None,
        [1, 2],
    ]
)


@st.composite
def trade_arrays(draw: st.DrawFn) -> tuple[list[object], list[Decimal]]:
    """A GatewayTrade array mixing good trades (their prices, in order) and bad elements."""
    elements: list[object] = []
    prices: list[Decimal] = []
    for good in draw(st.lists(st.booleans(), min_size=1, max_size=8)):
        if good:
            price = Decimal(draw(st.integers(80000, 160000))) / 4
            elements.append({**MARKET_TRADE, "price": price})
            prices.append(price)
        else:
            elements.append(draw(BAD_ELEMENTS))
    return elements, prices


@given(trade_arrays())
def test_the_good_trades_of_an_array_set_the_last_price_whatever_bad_ones_sit_beside_them(
    array: tuple[list[object], list[Decimal]],
) -> None:
    elements, prices = array
    converter = Converter(ReceiveClock(lambda: AT))
    quotes = converter.market("GatewayTrade", [MNQ, elements])
    assert converter.rejected["GatewayTrade"] == len(elements) - len(prices)
    if prices:
        (quote,) = quotes
        assert isinstance(quote, Quote) and quote.last == prices[-1]
    else:
        assert quotes == []


def test_a_live_trade_array_keeps_its_good_trades_around_a_bad_one() -> None:
    arguments = loads_exact(
        '["CON.F.US.MNQ.U26",[{"symbolId":"F.US.MNQ","price":29398.25,"type":1,"volume":2},'
        '{"symbolId":"F.US.MNQ","price":"","type":0,"volume":1},'
        '{"symbolId":"F.US.MNQ","price":29398.5,"type":0,"volume":1}]]'
    )
    converter = Converter(ReceiveClock(lambda: AT))
    (quote,) = converter.market("GatewayTrade", arguments)
    assert isinstance(quote, Quote) and quote.last == Decimal("29398.5")
    assert converter.rejected["GatewayTrade"] == 1


def test_the_strict_market_trade_reader_still_refuses_a_bad_element() -> None:
    with pytest.raises(WireFormatError):
        market_trades_from_wire([MNQ, [MARKET_TRADE, {"type": 0}]], AT, QuoteBook())


def test_a_quote_list_merges_its_readable_quotes() -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    quotes = converter.market(
        "GatewayQuote",
        [MNQ, [{"bestBid": 29398.25}, {"bestAsk": "wide"}, {"bestAsk": 29398.5}]],
    )
    assert [(q.bid, q.ask) for q in quotes if isinstance(q, Quote)] == [
        (Decimal("29398.25"), None),
        (Decimal("29398.25"), Decimal("29398.5")),
    ]
    assert converter.rejected["GatewayQuote"] == 1


def test_a_market_message_without_a_contract_is_still_rejected_whole() -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    assert converter.market("GatewayTrade", [None, [MARKET_TRADE]]) == []
    assert converter.rejected["GatewayTrade"] == 1


def test_one_unreadable_contract_never_hides_the_others() -> None:
    told: list[object] = []
    body = {
        "contracts": [
            CONTRACT,
            {**CONTRACT, "id": "CON.F.US.BAD.U26", "tickSize": "tiny"},
            {**CONTRACT, "id": "CON.F.US.MES.U26", "name": "MESU6", "symbolId": "F.US.MES"},
        ]
    }
    infos = contracts_from_rest(body, on_malformed=lambda item, _error: told.append(item))
    assert [info.contract_id for info in infos] == [MNQ, "CON.F.US.MES.U26"]
    assert [item["id"] for item in told if isinstance(item, dict)] == ["CON.F.US.BAD.U26"]


def test_an_unreadable_single_contract_is_still_an_error() -> None:
    with pytest.raises(WireFormatError):
        contracts_from_rest({"contract": {**CONTRACT, "tickSize": "tiny"}})
