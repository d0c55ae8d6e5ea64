"""The one place the simulator turns venue objects into ProjectX JSON.

REST and hub payloads differ in small ways that clients trip over (reference §1, §7.2, §12,
§14.2): REST includes explicit nulls, prints decimals with 9 fractional digits and timestamps
with the trailing zeros of the fraction dropped (``…07.965787+00:00``, ``…02.15673+00:00``;
style ``rest6`` keeps the older 6 digits); hubs omit null fields, print compact numbers and
timestamps with 7 fractional digits. The stdlib encoder can neither print a ``Decimal`` as a
JSON number nor drop nulls, hence the small encoder below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Literal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.records import Account, Entity, Order, Position, Trade

Style = Literal["rest", "rest6", "hub"]
_NINE = Decimal("0.000000001")


def timestamp(value: datetime, style: Style) -> str:
    """ISO-8601 with offset: 7 fractional digits on the hubs, the fraction without its
    trailing zeros (none at all when it is zero) on REST, 6 digits in the ``rest6`` style."""
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    text = value.isoformat(timespec="microseconds")
    # isoformat with microseconds always puts the fraction at 20..26 and the offset after it
    if style == "hub":
        return f"{text[:26]}0{text[26:]}"
    if style == "rest":
        fraction = text[20:26].rstrip("0")
        return f"{text[:19]}{'.' if fraction else ''}{fraction}{text[26:]}"
    return text


def number(value: Decimal, style: Style) -> str:
    """A decimal as a JSON number: ``6065.250000000`` on REST, ``6065.25`` on the hubs."""
    if style != "hub":
        return format(value.quantize(_NINE), "f")
    return format(value.normalize(), "f")


def dumps(value: object, style: Style) -> str:
    """Serialise ``value``; on the hubs, mapping entries whose value is None are left out."""
    parts: list[str] = []
    _encode(value, style, parts)
    return "".join(parts)


def _encode(value: object, style: Style, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value))
    elif isinstance(value, Enum):
        _encode(value.value, style, out)
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(number(value, style))
    elif isinstance(value, datetime):
        out.append(json.dumps(timestamp(value, style)))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if item is None and style == "hub":
                continue
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, style, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, style, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialise {type(value).__name__}")


def contract_model(contract: Contract) -> dict[str, object]:
    return {
        "id": contract.id,
        "name": contract.name,
        "description": contract.description,
        "tickSize": contract.tick_size,
        "tickValue": contract.tick_value,
        "activeContract": contract.active,
        "symbolId": contract.symbol_id,
    }


def account_model(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "name": account.name,
        "balance": account.balance,
        "canTrade": account.can_trade,
        "isVisible": account.is_visible,
        "simulated": account.simulated,
    }


def order_model(order: Order) -> dict[str, object]:
    return {
        "id": order.id,
        "accountId": order.account_id,
        "contractId": order.contract_id,
        "symbolId": order.symbol_id,
        "creationTimestamp": order.creation_timestamp,
        "updateTimestamp": order.update_timestamp,
        "status": order.status,
        "type": order.type,
        "side": order.side,
        "size": order.size,
        "limitPrice": order.limit_price,
        "stopPrice": order.stop_price,
        "fillVolume": order.fill_volume,
        "filledPrice": order.filled_price,
        "customTag": order.custom_tag,
        "parentOrderId": order.parent_order_id,
        "linkedOrderId": order.linked_order_id,
        "trailDistance": order.trail_distance,
        "trailPrice": order.trail_price,
    }


def position_model(position: Position) -> dict[str, object]:
    return {
        "id": position.id,
        "accountId": position.account_id,
        "contractId": position.contract_id,
        "contractDisplayName": position.contract_display_name,
        "creationTimestamp": position.creation_timestamp,
        "type": position.type,
        "size": position.size,
        "averagePrice": position.average_price,
    }


def trade_model(trade: Trade, *, commissions: bool = True) -> dict[str, object]:
    """A half-turn; ``commissions=False`` leaves the field out, as live REST bodies do."""
    model: dict[str, object] = {
        "id": trade.id,
        "accountId": trade.account_id,
        "contractId": trade.contract_id,
        "creationTimestamp": trade.creation_timestamp,
        "price": trade.price,
        "profitAndLoss": trade.profit_and_loss,
        "fees": trade.fees,
        "commissions": trade.commissions,
        "side": trade.side,
        "size": trade.size,
        "voided": trade.voided,
        "orderId": trade.order_id,
    }
    if not commissions:
        del model["commissions"]
    return model


def entity_model(entity: Entity) -> dict[str, object]:
    """The ProjectX model of any venue entity (hub events carry these inside ``data``)."""
    if isinstance(entity, Account):
        return account_model(entity)
    if isinstance(entity, Order):
        return order_model(entity)
    if isinstance(entity, Position):
        return position_model(entity)
    return trade_model(entity)
