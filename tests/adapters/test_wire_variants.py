"""What another gateway may legally send: the same records in other spellings.

The rule book: a server that writes its enums by name (``"Bid"``, ``"Open"``, ``"Long"``),
its integers as strings in any number form (``"2"``, ``"2.0"``, ``"2e0"``), reads exactly as
the one that writes ``0``, ``1`` and ``2``: the same side, status, type, size and id. An
enum name nobody scripted is read like an unknown number: on the safe side, and doubted.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.converters import (
    contracts_from_rest,
    order_from_wire,
    orders_from_rest,
    position_from_wire,
    trade_from_wire,
)
from simple_risk.adapters.topstepx.exactjson import dumps_exact, loads_exact
from simple_risk.adapters.topstepx.hubconverter import Converter, Doubt
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType
from tests.adapters import test_converter_properties as properties

AT = datetime(2026, 8, 19, 14, 15, 48, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.U26"

ORDER: dict[str, Any] = {
    "id": 2934939764, "accountId": 704, "contractId": MNQ, "symbolId": "F.US.MNQ",
    "creationTimestamp": "2026-08-19T14:15:25.3938333+00:00",
    "status": 1, "type": 4, "side": 1, "size": 2, "stopPrice": 29380.5, "fillVolume": 0,
}  # fmt: skip
FILL: dict[str, Any] = {
    "id": 8604, "accountId": 704, "contractId": MNQ, "orderId": 2934939764,
    "creationTimestamp": "2026-08-19T14:15:25.3938333+00:00", "price": 29398.5,
    "profitAndLoss": -49, "fees": 0.36, "commissions": 0.25, "side": 1, "size": 1,
    "voided": False,
}  # fmt: skip
POSITION: dict[str, Any] = {
    "id": 825245547, "accountId": 704, "contractId": MNQ,
    "creationTimestamp": "2026-08-19T14:15:48.611387+00:00", "type": 2, "size": 2,
    "averagePrice": 29398.5,
}  # fmt: skip

#: the enum names of the gateway's Swagger (reference §5), as System.Text.Json writes them
SIDE_NAMES = {"Bid": OrderSide.BUY, "Ask": OrderSide.SELL}
TYPE_NAMES = {
    "Unknown": OrderType.UNKNOWN, "Limit": OrderType.LIMIT, "Market": OrderType.MARKET,
    "StopLimit": OrderType.STOP_LIMIT, "Stop": OrderType.STOP,
    "TrailingStop": OrderType.TRAILING_STOP, "JoinBid": OrderType.JOIN_BID,
    "JoinAsk": OrderType.JOIN_ASK,
}  # fmt: skip
STATUS_NAMES = {
    "None": OrderStatus.NONE, "Open": OrderStatus.OPEN, "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED, "Expired": OrderStatus.EXPIRED,
    "Rejected": OrderStatus.REJECTED, "Pending": OrderStatus.PENDING,
    "PendingCancellation": OrderStatus.PENDING_CANCELLATION,
    "Suspended": OrderStatus.SUSPENDED,
}  # fmt: skip
POSITION_NAMES = {"Long": PositionType.LONG, "Short": PositionType.SHORT}


def cased(draw: st.DrawFn, name: str) -> str:
    """The name as written, in camelCase, or lower case (a case-insensitive server)."""
    return draw(st.sampled_from([name, name[0].lower() + name[1:], name.lower(), name.upper()]))


@given(st.data())
def test_an_order_written_with_enum_names_reads_as_the_one_written_with_numbers(
    data: st.DataObject,
) -> None:
    side = data.draw(st.sampled_from(sorted(SIDE_NAMES)))
    kind = data.draw(st.sampled_from(sorted(TYPE_NAMES)))
    status = data.draw(st.sampled_from(sorted(STATUS_NAMES)))
    named = {
        **ORDER,
        "side": cased(data.draw, side),
        "type": cased(data.draw, kind),
        "status": cased(data.draw, status),
    }
    unknown: list[tuple[str, object]] = []
    order = order_from_wire(named, AT, on_unknown=lambda f, v: unknown.append((f, v)))
    assert (order.side, order.type, order.status) == (
        SIDE_NAMES[side],
        TYPE_NAMES[kind],
        STATUS_NAMES[status],
    )
    assert unknown == []


@pytest.mark.parametrize(("name", "side"), sorted(SIDE_NAMES.items()))
def test_a_fill_written_with_its_side_name_keeps_its_side(name: str, side: OrderSide) -> None:
    assert trade_from_wire({**FILL, "side": name}, AT).side is side


@pytest.mark.parametrize(("name", "kind"), sorted(POSITION_NAMES.items()))
def test_a_position_written_with_its_type_name_keeps_its_direction(
    name: str, kind: PositionType
) -> None:
    position = position_from_wire({**POSITION, "type": name}, AT)
    assert (position.type, position.size) == (kind, 2)


def test_a_flat_position_written_with_the_undefined_name_is_flat() -> None:
    position = position_from_wire({**POSITION, "type": "Undefined", "size": 0}, AT)
    assert (position.type, position.size) == (PositionType.UNDEFINED, 0)


def test_an_enum_name_nobody_scripted_is_read_on_the_safe_side_and_doubted() -> None:
    doubts: list[Doubt] = []
    converter = Converter(ReceiveClock(lambda: AT), on_doubt=doubts.append)
    named = {**ORDER, "status": "Triggered", "type": "Iceberg", "side": "Bid"}
    [order] = converter.user("GatewayUserOrder", [{"action": 1, "data": named}])
    assert (order.status, order.type, order.side) == (
        OrderStatus.OPEN,
        OrderType.UNKNOWN,
        OrderSide.BUY,
    )
    assert sorted((d.what, d.reconcile) for d in doubts) == [
        ("unknown order.status Triggered, read as working", True),
        ("unknown order.type Iceberg, read as unknown type (non-protective)", False),
    ]


def test_a_side_name_nobody_scripted_skips_the_record_and_doubts_it() -> None:
    doubts: list[Doubt] = []
    converter = Converter(ReceiveClock(lambda: AT), on_doubt=doubts.append)
    assert converter.user("GatewayUserTrade", [{"action": 0, "data": {**FILL, "side": "Up"}}]) == []
    assert [(d.account_id, d.reconcile, d.skipped) for d in doubts] == [(704, True, True)]


@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.sampled_from(["{}", " {} ", "+{}", "{}.0", "{}.000000000", "{}e0", "{}E+0"]),
)
def test_an_integer_written_as_a_string_in_any_number_form_keeps_every_digit(
    number: int, form: str
) -> None:
    text = form.format(number)
    fill = trade_from_wire({**FILL, "id": text, "orderId": text, "size": text}, AT)
    assert (fill.trade_id, fill.order_id, fill.size) == (number, number, number)


@pytest.mark.parametrize("text", ["2.5", "2e-1", "0x2", "", "two", "NaN", "1e400"])
def test_a_string_that_is_no_whole_number_is_no_size(text: str) -> None:
    doubts: list[Doubt] = []
    converter = Converter(ReceiveClock(lambda: AT), on_doubt=doubts.append)
    assert converter.user("GatewayUserTrade", [{**FILL, "size": text}]) == []
    assert [(d.account_id, d.reconcile) for d in doubts] == [(704, True)]


@pytest.mark.parametrize("size", ["1e999999999", "-1E+999999", "1e19"])
def test_a_size_in_exponent_form_beyond_int64_is_refused_at_once(size: str) -> None:
    # the hub thread must not spend minutes and gigabytes writing out a 10^999999999
    doubts: list[Doubt] = []
    converter = Converter(ReceiveClock(lambda: AT), on_doubt=doubts.append)
    wire = [{"action": 0, "data": {**FILL, "size": loads_exact(size)}}]
    started = time.monotonic()
    assert converter.user("GatewayUserTrade", wire) == []
    assert time.monotonic() - started < 1.0
    assert [(d.account_id, d.reconcile) for d in doubts] == [(704, True)]


# -- hub arguments: [accountId, data], as the market hub sends [contractId, data] -------------


def _listening() -> tuple[Converter, list[Doubt]]:
    doubts: list[Doubt] = []
    return Converter(ReceiveClock(lambda: AT), on_doubt=doubts.append), doubts


@pytest.mark.parametrize("lead", [704, "704"])
@pytest.mark.parametrize(
    "data",
    [
        {"action": 1, "data": ORDER},
        ORDER,
        [{"action": 1, "data": ORDER}, {"action": 1, "data": {**ORDER, "id": 7}}],
        {"action": 1, "data": {k: v for k, v in ORDER.items() if k != "accountId"}},
    ],
    ids=["wrapped", "bare", "list", "without-its-account"],
)
def test_an_event_sent_as_account_id_then_data_is_read_without_a_doubt(
    lead: object, data: object
) -> None:
    converter, doubts = _listening()
    orders = converter.user("GatewayUserOrder", [lead, data])
    assert orders and {(o.account_id, o.stop_price) for o in orders} == {(704, Decimal("29380.5"))}
    assert doubts == [] and converter.rejected == {}


def test_a_lone_account_id_is_still_an_unreadable_event() -> None:
    converter, doubts = _listening()
    assert converter.user("GatewayUserOrder", [704]) == []
    assert [(d.reconcile, d.skipped) for d in doubts] == [(True, True)]


# -- the {action, data} envelope with fields of its own ---------------------------------------


@pytest.mark.parametrize(
    "extra",
    [{"accountId": 704}, {"id": "evt-7"}, {"id": 1, "accountId": 704, "sequence": 9}],
    ids=["account", "event-id", "several"],
)
def test_an_envelope_with_fields_of_its_own_is_still_an_envelope(extra: dict[str, Any]) -> None:
    converter, doubts = _listening()
    removed = {"action": 2, "data": {**POSITION, "size": 0, "type": 0}, **extra}
    [position] = converter.user("GatewayUserPosition", [removed])
    assert (position.account_id, position.size, position.position_id) == (704, 0, 825245547)
    assert doubts == []


# -- any record, respelled: the same events ----------------------------------------------------

ENUM_NAMES = {
    ("GatewayUserOrder", "side"): SIDE_NAMES, ("GatewayUserTrade", "side"): SIDE_NAMES,
    ("GatewayUserOrder", "type"): TYPE_NAMES, ("GatewayUserOrder", "status"): STATUS_NAMES,
    ("GatewayUserPosition", "type"): {**POSITION_NAMES, "Undefined": PositionType.UNDEFINED},
}  # fmt: skip


class Raw(str):
    """JSON text written as it is (a number in the form the test chose)."""


def _text(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return dumps_exact(value)


def _number(draw: st.DrawFn, value: int | Decimal, integral: bool) -> object:
    """The same number as another server may write it."""
    exact = Decimal(value)
    sign, digits, exponent = exact.as_tuple()
    mantissa = ("-" if sign else "") + "".join(map(str, digits))
    forms = [
        str(value),  # as it was
        f"{mantissa}E{exponent}" if isinstance(exponent, int) else str(value),  # exponent form
        f"{exact:f}" + ("" if "." in f"{exact:f}" else ".0"),  # a fraction (2.0)
        f"{exact:f}" + ("000" if "." in f"{exact:f}" else ".000"),  # many places
    ]
    text = draw(st.sampled_from(forms))
    if integral and "." not in text and "E" not in text:
        text = draw(st.sampled_from([text, text + ".0"]))
    return draw(st.sampled_from([Raw(text), Raw(json.dumps(text))]))  # a number, or a string


def _timestamp(draw: st.DrawFn, text: str) -> str:
    if text.endswith("+00:00"):
        return draw(st.sampled_from([text, text[:-6] + "Z", text[:-6]]))  # Z, or no zone
    return text


@st.composite
def respelled(draw: st.DrawFn, target: str, entity: dict[str, Any]) -> Any:
    """The entity's arguments as another server may write them: numbers in any form, enums
    by name, other timestamp zones, unknown fields, another key order, another shape."""
    fields: dict[str, object] = {}
    for key, value in entity.items():
        names = ENUM_NAMES.get((target, key))
        if names is not None and isinstance(value, int) and draw(st.booleans()):
            name = next(n for n, v in names.items() if v == value)
            fields[key] = Raw(json.dumps(cased(draw, name)))
        elif isinstance(value, bool) or value is None:
            fields[key] = value
        elif isinstance(value, int | Decimal):
            fields[key] = _number(draw, value, isinstance(value, int))
        elif isinstance(value, str) and key.endswith("Timestamp"):
            fields[key] = _timestamp(draw, value)
        else:
            fields[key] = value
    for extra in draw(st.lists(st.sampled_from(["newField", "flags", "venue"]), unique=True)):
        fields[extra] = draw(st.sampled_from([None, 1, "x", [1], {"a": 1}]))
    keys = draw(st.permutations(list(fields)))
    data = {k: fields[k] for k in keys}
    shape = draw(st.sampled_from(["wrapped", "bare", "account-first", "list"]))
    if shape == "wrapped":
        arguments: list[object] = [{"action": 1, "data": data}]
    elif shape == "bare":
        arguments = [data]
    elif shape == "account-first":
        arguments = [Raw(str(entity["accountId"])), {"action": 1, "data": data}]
    else:
        arguments = [{"action": 1, "data": [data]}]
    return loads_exact(_text(arguments))


@given(st.data())
def test_any_record_respelled_reads_as_the_same_event(data: st.DataObject) -> None:
    target, entities = data.draw(
        st.sampled_from(
            [
                ("GatewayUserOrder", properties.orders()),
                ("GatewayUserTrade", properties.trades()),
                ("GatewayUserPosition", properties.positions()),
            ]
        )
    )
    entity = data.draw(entities)
    converter, doubts = _listening()
    [expected] = converter.user(target, loads_exact(dumps_exact([entity])))
    assert converter.user(target, data.draw(respelled(target, entity))) == [expected]
    assert doubts == [] and converter.rejected == {}


# -- market hub: the data alone, naming its contract (§14.4: quotes carry ``contract``) -------

LIVE_QUOTE: dict[str, Any] = {
    "symbol": "F.US.MNQ", "contract": MNQ, "bestBid": 29398.25, "bestAsk": 29398.5,
    "lastUpdated": "2026-08-19T14:15:48.5000000+00:00",
    "timestamp": "2026-08-19T14:15:48.5000000+00:00",
}  # fmt: skip
LIVE_TRADE: dict[str, Any] = {
    "symbolId": "F.US.MNQ", "price": 29398.25, "timestamp": "2026-08-19T14:15:48.5000000+00:00",
    "type": 1, "volume": 2, "contractId": MNQ,
}  # fmt: skip


@pytest.mark.parametrize("arguments", [[LIVE_QUOTE], [[LIVE_QUOTE]]], ids=["object", "list"])
def test_a_quote_sent_alone_is_merged_for_the_contract_it_names(arguments: list[object]) -> None:
    converter, _ = _listening()
    [quote] = converter.market("GatewayQuote", loads_exact(dumps_exact(arguments)))
    assert (quote.contract_id, quote.bid, quote.ask) == (
        MNQ,
        Decimal("29398.25"),
        Decimal("29398.5"),
    )
    assert converter.rejected == {}


def test_a_market_trade_array_sent_alone_sets_the_last_price_of_its_contract() -> None:
    converter, _ = _listening()
    later = {**LIVE_TRADE, "price": 29399, "timestamp": "2026-08-19T14:15:49+00:00"}
    [quote] = converter.market("GatewayTrade", loads_exact(dumps_exact([[LIVE_TRADE, later]])))
    assert (quote.contract_id, quote.last) == (MNQ, Decimal("29399"))
    assert converter.rejected == {}


def test_a_quote_alone_that_names_no_contract_is_rejected() -> None:
    converter, _ = _listening()
    anonymous = {k: v for k, v in LIVE_QUOTE.items() if k != "contract"}
    assert converter.market("GatewayQuote", loads_exact(dumps_exact([anonymous]))) == []
    assert converter.rejected == {"GatewayQuote": 1}


@pytest.mark.parametrize("stamp", [1787148948000, "2026-08-19T14:15:48UTC", "today", True])
def test_a_quote_with_a_time_it_cannot_read_still_moves_the_prices(stamp: object) -> None:
    # the stamp only dates the quote: its bid and ask are what open P&L is marked at
    converter, _ = _listening()
    odd = {**LIVE_QUOTE, "timestamp": stamp, "lastUpdated": stamp, "bestBid": 29300}
    [quote] = converter.market("GatewayQuote", loads_exact(dumps_exact([MNQ, odd])))
    assert (quote.bid, quote.timestamp) == (Decimal("29300"), None)
    trade = {**LIVE_TRADE, "timestamp": stamp, "price": 29301}
    [traded] = converter.market("GatewayTrade", loads_exact(dumps_exact([MNQ, [trade]])))
    assert traded.last == Decimal("29301")
    assert converter.rejected == {}


# -- REST answers respelled --------------------------------------------------------------------

CONTRACTS = [
    {"id": MNQ, "name": "MNQU6", "description": "Micro E-mini Nasdaq-100: September 2026",
     "tickSize": Decimal("0.25"), "tickValue": Decimal("0.5"), "activeContract": True,
     "symbolId": "F.US.MNQ"},
    {"id": "CON.F.US.JY6.U26", "name": "6JU6", "description": "Japanese Yen: September 2026",
     "tickSize": Decimal("0.0000005"), "tickValue": Decimal("6.25"), "activeContract": True,
     "symbolId": "F.US.JY6"},
    {"id": "CON.F.US.TUA.U26", "name": "ZTU6", "description": "2-Year T-Note: September 2026",
     "tickSize": Decimal("0.00390625"), "tickValue": Decimal("7.8125"), "activeContract": True,
     "symbolId": "F.US.TUA"},
]  # fmt: skip


@given(st.data())
def test_a_contract_catalogue_respelled_reads_as_the_same_contracts(data: st.DataObject) -> None:
    respelled_contracts = []
    for contract in CONTRACTS:
        fields = {
            k: _number(data.draw, v, False) if isinstance(v, Decimal) else v
            for k, v in contract.items()
        }
        keys = data.draw(st.permutations(list(fields)))
        respelled_contracts.append({k: fields[k] for k in keys})
    body = loads_exact(_text({"success": True, "errorCode": 0, "contracts": respelled_contracts}))
    expected = contracts_from_rest(loads_exact(dumps_exact({"contracts": CONTRACTS})))
    assert contracts_from_rest(body) == expected
    assert [c.tick_size for c in expected] == [c["tickSize"] for c in CONTRACTS]


@given(st.lists(properties.orders(), max_size=5), st.data())
def test_a_rest_order_list_respelled_reads_as_the_same_orders(
    orders: list[dict[str, Any]], data: st.DataObject
) -> None:
    expected = orders_from_rest(loads_exact(dumps_exact({"orders": orders})), AT)
    spelled = [_bare(data.draw(respelled("GatewayUserOrder", order))) for order in orders]
    body = {"success": True, "errorCode": 0, "errorMessage": None, "orders": spelled}
    assert orders_from_rest(body, AT) == expected


def _bare(arguments: list[Any]) -> Any:
    """The one entity of respelled hub arguments (a REST list holds entities)."""
    item = arguments[-1]
    if isinstance(item, dict) and "data" in item:
        item = item["data"]
    return item[0] if isinstance(item, list) else item


# -- the envelope's action by name -------------------------------------------------------------


@pytest.mark.parametrize("action", ["Removed", "removed", "Deleted", "delete", "REMOVE"])
def test_a_position_removed_by_name_is_flat_whatever_size_it_still_shows(action: str) -> None:
    # "0=create, 1=update, 2=delete" (reference §5): a server naming its actions must not
    # leave a gone position open at its old size, its loss still counted and flattened
    converter, doubts = _listening()
    [position] = converter.user("GatewayUserPosition", [{"action": action, "data": POSITION}])
    assert (position.size, position.account_id) == (0, 704)
    assert doubts == []


@pytest.mark.parametrize("action", ["Created", "added", "Updated", "update"])
def test_a_position_created_or_updated_by_name_keeps_its_size(action: str) -> None:
    converter, _ = _listening()
    [position] = converter.user("GatewayUserPosition", [{"action": action, "data": POSITION}])
    assert (position.size, position.type) == (2, PositionType.SHORT)
