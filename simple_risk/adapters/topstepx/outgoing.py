"""Intents → the REST calls that carry them out: endpoint and JSON body.

The one direction that goes to the gateway rather than coming from it: the executor, the
planner and the what-if words build their calls here, and nothing here reads a payload, so
it is apart from the converters that do. Bodies keep prices as ``Decimal``; the REST client
writes them exactly (:mod:`~simple_risk.adapters.topstepx.exactjson`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.engine.events import OrderSide, OrderType


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One concrete gateway call an executor will make: endpoint and JSON body."""

    endpoint: Endpoint
    body: Mapping[str, object] = field(default_factory=dict)


def cancel_order_request(account_id: int, order_id: int) -> RestRequest:
    return RestRequest(Endpoint.ORDER_CANCEL, {"accountId": account_id, "orderId": order_id})


def close_position_request(account_id: int, contract_id: str) -> RestRequest:
    return RestRequest(
        Endpoint.POSITION_CLOSE, {"accountId": account_id, "contractId": contract_id}
    )


def partial_close_request(account_id: int, contract_id: str, size: int) -> RestRequest:
    if size <= 0:
        raise ValueError(f"a partial close needs a positive size, got {size}")
    return RestRequest(
        Endpoint.POSITION_PARTIAL_CLOSE,
        {"accountId": account_id, "contractId": contract_id, "size": size},
    )


def place_order_request(
    account_id: int,
    contract_id: str,
    *,
    order_type: OrderType,
    side: OrderSide,
    size: int,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    custom_tag: str | None = None,
) -> RestRequest:
    """A plain order (no brackets: they fail in the default Position Brackets mode)."""
    if size <= 0:
        raise ValueError(f"an order needs a positive size, got {size}")
    body: dict[str, object] = {
        "accountId": account_id,
        "contractId": contract_id,
        "type": int(order_type),
        "side": int(side),
        "size": size,
        "limitPrice": limit_price,
        "stopPrice": stop_price,
        "customTag": custom_tag,
    }
    return RestRequest(Endpoint.ORDER_PLACE, body)


def place_stop_request(
    account_id: int,
    contract_id: str,
    *,
    side: OrderSide,
    size: int,
    stop_price: Decimal,
    custom_tag: str | None = None,
) -> RestRequest:
    """A protective stop-market order (``side`` is the closing side, opposite the position)."""
    return place_order_request(
        account_id,
        contract_id,
        order_type=OrderType.STOP,
        side=side,
        size=size,
        stop_price=stop_price,
        custom_tag=custom_tag,
    )


def modify_stop_request(
    account_id: int, order_id: int, *, stop_price: Decimal, size: int | None = None
) -> RestRequest:
    """Move a stop; fields left out are unchanged (reference §4.10)."""
    body: dict[str, object] = {
        "accountId": account_id,
        "orderId": order_id,
        "stopPrice": stop_price,
    }
    if size is not None:
        body["size"] = size
    return RestRequest(Endpoint.ORDER_MODIFY, body)


def modify_size_request(account_id: int, order_id: int, *, size: int) -> RestRequest:
    """Resize a working order, prices unchanged (a protective stop following its position)."""
    if size <= 0:
        raise ValueError(f"an order needs a positive size, got {size}")
    return RestRequest(
        Endpoint.ORDER_MODIFY, {"accountId": account_id, "orderId": order_id, "size": size}
    )


__all__ = [
    "RestRequest",
    "cancel_order_request",
    "close_position_request",
    "modify_size_request",
    "modify_stop_request",
    "partial_close_request",
    "place_order_request",
    "place_stop_request",
]
