"""Hypothesis: well-formed payloads always convert; malformed ones are rejected, never raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.exactjson import dumps_exact, loads_exact
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.engine.events import OrderUpdate, PositionUpdate, TradeFill

AT = datetime(2026, 1, 2, tzinfo=UTC)

ids = st.integers(min_value=1, max_value=2**63 - 1)
account_ids = st.integers(min_value=1, max_value=2**31 - 1)
sizes = st.integers(min_value=0, max_value=10_000)
prices = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=9, allow_nan=False)
contract_ids = st.from_regex(r"CON\.F\.US\.[A-Z0-9]{1,5}\.[FGHJKMNQUVXZ][0-9]{2}", fullmatch=True)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=draw(st.integers(0, 10**15)))
    digits = draw(st.sampled_from([0, 6, 7]))
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{moment.microsecond:06d}{draw(st.integers(0, 9))}"[: digits + 1] if digits else ""
    return f"{base}{fraction}+00:00"


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that may be present, null (REST) or omitted (hub): None marks omitted."""
    return st.one_of(st.none(), strategy, st.just("__null__"))


def build(required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    payload = dict(required)
    for key, value in optional.items():
        if value is None:
            continue
        payload[key] = None if value == "__null__" else value
    return payload


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    return build(
        {
            "id": draw(ids),
            "accountId": draw(account_ids),
            "contractId": draw(contract_ids),
            "status": draw(st.integers(0, 8)),
            "type": draw(st.integers(0, 7)),
            "side": draw(st.integers(0, 1)),
            "size": draw(sizes),
        },
        {
            "symbolId": draw(maybe(st.just("F.US.EP"))),
            "fillVolume": draw(maybe(sizes)),
            "limitPrice": draw(maybe(prices)),
            "stopPrice": draw(maybe(prices)),
            "filledPrice": draw(maybe(prices)),
            "customTag": draw(maybe(st.text(max_size=20))),
            "creationTimestamp": draw(maybe(timestamps())),
            "updateTimestamp": draw(maybe(timestamps())),
        },
    )


@st.composite
def trades(draw: st.DrawFn) -> dict[str, Any]:
    return build(
        {
            "id": draw(ids),
            "accountId": draw(account_ids),
            "contractId": draw(contract_ids),
            "price": draw(prices),
            "side": draw(st.integers(0, 1)),
            "size": draw(sizes),
            "orderId": draw(ids),
        },
        {
            "profitAndLoss": draw(maybe(prices)),
            "fees": draw(maybe(prices)),
            "commissions": draw(maybe(prices)),
            "voided": draw(maybe(st.booleans())),
            "creationTimestamp": draw(maybe(timestamps())),
        },
    )


@st.composite
def positions(draw: st.DrawFn) -> dict[str, Any]:
    return build(
        {
            "accountId": draw(account_ids),
            "contractId": draw(contract_ids),
            "type": draw(st.integers(1, 2)),
            "size": draw(sizes),
            "averagePrice": draw(prices),
        },
        {"id": draw(maybe(account_ids)), "creationTimestamp": draw(maybe(timestamps()))},
    )


def wire(entity: dict[str, Any], wrapped: bool, as_float: bool) -> Any:
    """The arguments list as it comes off the wire (optionally via a float-parsing decoder)."""
    arguments = [{"action": 1, "data": entity}] if wrapped else [entity]
    text = dumps_exact(arguments)
    return json.loads(text) if as_float else loads_exact(text)


@given(orders(), st.booleans())
def test_any_well_formed_order_converts_exactly(order: dict[str, Any], wrapped: bool) -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    (event,) = converter.user("GatewayUserOrder", wire(order, wrapped, as_float=False))
    assert isinstance(event, OrderUpdate)
    assert event.order_id == order["id"]
    assert event.limit_price == order.get("limitPrice")
    assert not converter.rejected


@given(trades(), st.booleans(), st.booleans())
def test_any_well_formed_trade_converts(trade: dict[str, Any], wrapped: bool, fl: bool) -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    (event,) = converter.user("GatewayUserTrade", wire(trade, wrapped, as_float=fl))
    assert isinstance(event, TradeFill)
    assert event.trade_id == trade["id"] and event.voided is bool(trade.get("voided"))
    if not fl:
        assert event.price == trade["price"]


@given(positions(), st.booleans())
def test_any_well_formed_position_converts(position: dict[str, Any], wrapped: bool) -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    (event,) = converter.user("GatewayUserPosition", wire(position, wrapped, as_float=False))
    assert isinstance(event, PositionUpdate) and event.size == position["size"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@st.composite
def corrupted_orders(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed order with one required field removed or replaced by garbage."""
    order = draw(orders())
    key = draw(st.sampled_from(["id", "accountId", "contractId", "status", "type", "side", "size"]))
    if draw(st.booleans()):
        del order[key]
    else:
        order[key] = draw(
            st.one_of(
                st.none(),
                st.text(alphabet="xyz", max_size=3),
                st.booleans(),
                st.just([1]),
                st.just({"a": 1}),
                st.integers(min_value=2**63, max_value=2**70),
                st.just(Decimal("1.5")),
            )
            .filter(lambda v: not (key == "contractId" and isinstance(v, str) and v))
            # a name in an order's status or type is an enum name nobody scripted: read on
            # the safe side (test_wire_variants.py), not malformed
            .filter(lambda v: not (key in ("status", "type") and isinstance(v, str) and v))
        )
    return order


@given(corrupted_orders(), st.booleans())
def test_malformed_orders_are_rejected_without_raising(order: dict[str, Any], w: bool) -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    arguments = [{"action": 1, "data": order}] if w else [order]
    assert converter.user("GatewayUserOrder", arguments) == []
    assert converter.rejected["GatewayUserOrder"] == 1


@given(
    st.sampled_from(
        [
            "GatewayUserOrder",
            "GatewayUserTrade",
            "GatewayUserPosition",
            "GatewayUserAccount",
            "GatewayQuote",
            "Unknown",
        ]
    ),
    json_values,
)
def test_random_json_never_raises(target: str, arguments: Any) -> None:
    converter = Converter(ReceiveClock(lambda: AT))
    converter.user(target, arguments)
    converter.market(target, arguments)
    converter.rest("Order/searchOpen", arguments)
