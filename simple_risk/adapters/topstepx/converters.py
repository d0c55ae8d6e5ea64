"""ProjectX accounts, orders, positions, trades and contracts → domain events, strictly.

The ``*_from_wire`` functions read one entity (a REST model and a hub payload share field
names); the ``*_from_rest`` functions read a REST response body. Both raise
:class:`~simple_risk.adapters.topstepx.wirefields.WireFormatError` on anything malformed:
the tolerant wrapper the hub threads use is
:class:`~simple_risk.adapters.topstepx.hubconverter.Converter`. Entity shapes are apart from
the field readers (:mod:`~simple_risk.adapters.topstepx.wirefields`), the quotes
(:mod:`~simple_risk.adapters.topstepx.quotes`) and the outgoing requests
(:mod:`~simple_risk.adapters.topstepx.outgoing`), because these are the rules of what an
account's records mean.

Wire facts this module depends on (reference §1, §4–§8):

* user-hub events arrive as ``[{"action": n, "data": {...}}]`` — but a bare entity is accepted
  too;
* a position that goes flat arrives as action 2 (removed) with ``type: 0``, ``size: 0`` and
  the old average price (§14.1);
* contract roots differ from CME tickers (``EP`` is ES): a contract's ``name`` is its CME code
  (``ESU6``), which gives the ticker; its description says whether it is a micro (§14.5);
* a REST trade carries no ``commissions`` (§14.2): absent means unknown (None), never zero;
* one bad element of a list (a REST record, a contract) never drops the good elements beside
  it.

An enum is read by number or by its Swagger name in any case (``1``, ``"1"``, ``"Open"``,
``"open"``: a server that writes its enums by name). Enum values nobody scripted — a number
or a name — are read per field, with the meaning that errs on the safe side (a risk manager
must still see a record that still means something):

* an order ``type`` outside 0–7 is :attr:`OrderType.UNKNOWN` — a working order of known side
  and size, never taken for a protective stop, still counted as exposure;
* an order ``status`` outside 0–8 is read as working (:attr:`OrderStatus.OPEN`): an order
  wrongly kept costs a reconcile, an order wrongly dropped hides exposure. The
  :class:`~simple_risk.adapters.topstepx.hubconverter.Converter` reports it as a
  :class:`~simple_risk.adapters.topstepx.hubconverter.Doubt` so the daemon re-reads the
  account from REST (whose ``searchOpen`` answer settles whether the order still works);
* an order or trade ``side`` and a position ``type`` cannot be guessed: the record is skipped,
  counted and reported as a ``Doubt`` (alert and reconcile) — so is a position of type 0
  (Undefined, the flat position's type) that still has a size.

Each unknown value is logged once per field and value and counted
(:class:`~simple_risk.adapters.topstepx.wirefields.UnknownValues`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.topstepx.secrets import install_log_filter
from simple_risk.adapters.topstepx.wirefields import (
    OnMalformedElement,
    OnUnknown,
    WireFormatError,
    as_mapping,
    bool_field,
    convert_each,
    decimal_field,
    descriptive_field,
    enum_field,
    int_field,
    lenient_enum_field,
    list_field,
    non_negative,
    note_unknown,
    opt_decimal_field,
    opt_int_field,
    opt_link_field,
    opt_str_field,
    parse_timestamp,
    str_field,
    to_int,
    to_str,
)
from simple_risk.engine.dsl.catalogue import tickers
from simple_risk.engine.events import (
    AccountUpdate,
    ContractInfo,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    TradeFill,
)
from simple_risk.engine.facts.families import bracket_base
from simple_risk.engine.facts.symbols import is_micro, ticker_from_name
from simple_risk.engine.model import SymbolSpec

log = logging.getLogger(__name__)
install_log_filter(__name__)

#: The shipped contract catalogue (ProjectX roots → tickers), micros weigh 1 unit, minis 10.
DEFAULT_SYMBOLS = SymbolSpec(units_per_lot=10, catalogue=tickers())


# ---------------------------------------------------------------------------------------------
# entities (REST models and hub payloads share field names)


def account_from_wire(payload: object, at: datetime) -> AccountUpdate:
    """TradingAccountModel / GatewayUserAccount → AccountUpdate."""
    data = as_mapping(payload, "account")
    return AccountUpdate(
        at=at,
        account_id=int_field(data, "id"),
        name=descriptive_field(data, "name", to_str) or "",
        balance=decimal_field(data, "balance"),
        can_trade=bool_field(data, "canTrade"),
        is_visible=bool_field(data, "isVisible", True),
        simulated=bool_field(data, "simulated", True),
    )


def order_from_wire(
    payload: object, at: datetime, *, on_unknown: OnUnknown | None = None
) -> OrderUpdate:
    """OrderModel / GatewayUserOrder → OrderUpdate.

    An unknown ``type`` is :attr:`OrderType.UNKNOWN` and an unknown ``status`` is read as
    working (:attr:`OrderStatus.OPEN`), each reported to ``on_unknown`` (by default logged once
    per value and counted in
    :data:`~simple_risk.adapters.topstepx.wirefields.UNKNOWN_VALUES`); an unknown ``side`` is
    malformed: which way the order goes is the one thing no default can say.
    """
    data = as_mapping(payload, "order")
    unknown: list[tuple[str, int | str]] = []  # reported once the whole record has been read

    def seen(field: str, value: int | str) -> None:
        unknown.append((field, value))

    order = OrderUpdate(
        at=at,
        account_id=int_field(data, "accountId"),
        order_id=int_field(data, "id"),
        contract_id=str_field(data, "contractId"),
        status=lenient_enum_field(OrderStatus, data, "status", OrderStatus.OPEN, seen),
        type=lenient_enum_field(OrderType, data, "type", OrderType.UNKNOWN, seen),
        side=enum_field(OrderSide, data, "side"),
        size=non_negative(int_field(data, "size"), "size"),
        fill_volume=non_negative(opt_int_field(data, "fillVolume") or 0, "fillVolume"),
        limit_price=opt_decimal_field(data, "limitPrice"),
        stop_price=opt_decimal_field(data, "stopPrice"),
        filled_price=opt_decimal_field(data, "filledPrice"),
        trail_distance=descriptive_field(data, "trailDistance", to_int),
        custom_tag=descriptive_field(data, "customTag", to_str),
        symbol_id=descriptive_field(data, "symbolId", to_str),
        created_at=descriptive_field(data, "creationTimestamp", parse_timestamp),
        updated_at=descriptive_field(data, "updateTimestamp", parse_timestamp),
        parent_order_id=opt_link_field(data, "parentOrderId"),
        linked_order_id=opt_link_field(data, "linkedOrderId"),
    )
    report = on_unknown or note_unknown
    for field_name, value in unknown:
        report(field_name, value)
    return order


def position_from_wire(payload: object, at: datetime, *, removed: bool = False) -> PositionUpdate:
    """PositionModel / GatewayUserPosition → PositionUpdate (``size 0`` = flat).

    ``removed``: the hub's action 2 — the position is gone, whatever size it still shows.
    """
    data = as_mapping(payload, "position")
    size = 0 if removed else non_negative(int_field(data, "size"), "size")
    average = opt_decimal_field(data, "averagePrice")
    if average is None:
        if size:
            raise WireFormatError("missing field 'averagePrice'")
        average = Decimal(0)
    position_type = (
        enum_field(PositionType, data, "type")
        if data.get("type") is not None or size
        else PositionType.UNDEFINED
    )
    if size and position_type is PositionType.UNDEFINED:
        # type 0 says flat (§14.1); with lots it cannot say which way they go
        raise WireFormatError(f"type: 0 (Undefined) on an open position of size {size}")
    return PositionUpdate(
        at=at,
        account_id=int_field(data, "accountId"),
        contract_id=str_field(data, "contractId"),
        type=position_type,
        size=size,
        average_price=average,
        position_id=descriptive_field(data, "id", to_int),
        created_at=descriptive_field(data, "creationTimestamp", parse_timestamp),
    )


def trade_from_wire(payload: object, at: datetime) -> TradeFill:
    """HalfTradeModel / GatewayUserTrade → TradeFill (absent ``profitAndLoss`` = opening fill)."""
    data = as_mapping(payload, "trade")
    return TradeFill(
        at=at,
        account_id=int_field(data, "accountId"),
        trade_id=int_field(data, "id"),
        order_id=int_field(data, "orderId"),
        contract_id=str_field(data, "contractId"),
        side=enum_field(OrderSide, data, "side"),
        size=non_negative(int_field(data, "size"), "size"),
        price=decimal_field(data, "price"),
        pnl=opt_decimal_field(data, "profitAndLoss"),
        fees=opt_decimal_field(data, "fees") or Decimal(0),
        commissions=opt_decimal_field(data, "commissions"),
        voided=bool_field(data, "voided", False),
        created_at=descriptive_field(data, "creationTimestamp", parse_timestamp),
    )


def raw_root(contract_id: str, symbol_id: str | None = None) -> str:
    """The ProjectX root: last segment of ``F.US.EP``, else the 4th of ``CON.F.US.EP.Z25``."""
    if symbol_id:
        root = symbol_id.rsplit(".", 1)[-1]
        if root:
            return root
    parts = contract_id.split(".")
    if len(parts) >= 5 and parts[0] == "CON":
        return parts[3]
    if len(parts) >= 2:
        return parts[-2]
    raise WireFormatError(f"cannot find a root in contract id {contract_id!r}")


def contract_from_wire(payload: object, symbols: SymbolSpec = DEFAULT_SYMBOLS) -> ContractInfo:
    """ContractModel → ContractInfo: the ticker from its ``name`` (the CME code ``ESU6``; a
    ruleset alias wins, and a name that is no CME code falls back on the catalogue) and its
    weight in units (a micro by its description)."""
    data = as_mapping(payload, "contract")
    contract_id = str_field(data, "id")
    symbol_id = opt_str_field(data, "symbolId") or ""
    tick_size = decimal_field(data, "tickSize")
    if tick_size <= 0:
        raise WireFormatError(f"tickSize: not positive: {tick_size}")
    # a tick worth nothing would read every loss as $0, one worth less than nothing as a gain
    tick_value = decimal_field(data, "tickValue")
    if tick_value <= 0:
        raise WireFormatError(f"tickValue: not positive: {tick_value}")
    name = opt_str_field(data, "name") or contract_id
    description = opt_str_field(data, "description") or ""
    px_root = raw_root(contract_id, symbol_id)
    root = symbols.aliases.get(px_root) or ticker_from_name(name) or symbols.root(px_root)
    return ContractInfo(
        contract_id=contract_id,
        symbol_id=symbol_id,
        root=root,
        name=name,
        tick_size=tick_size,
        tick_value=tick_value,
        units=symbols.units(root, is_micro(description) if description else None),
        active=bool_field(data, "activeContract", True),
        description=description,
    )


def unwrap_user_arguments(arguments: object) -> list[object]:
    """User-hub ``arguments`` → the entities: unwrap ``{action, data}``, accept bare entities."""
    return [entity for _, entity in unwrap_user_actions(arguments)]


#: the wrapper ``action`` of a removed entity (a position that went flat, §14.1)
ACTION_REMOVED = 2


def unwrap_user_actions(arguments: object) -> list[tuple[int | None, object]]:
    """User-hub ``arguments`` → (wrapper action or None for a bare entity, entity) pairs.

    ``[accountId, data]`` (the market hub's ``[contractId, data]`` shape) is read as ``data``
    whose entities lacking an ``accountId`` are that account's."""
    items: Iterable[object]
    if isinstance(arguments, list | tuple):
        items = arguments
        owner = _leading_account(arguments)
        if owner is not None:
            return [
                (action, _owned(entity, owner))
                for action, entity in unwrap_user_actions(arguments[1:])
            ]
    elif isinstance(arguments, Mapping):
        items = [arguments]
    else:
        raise WireFormatError(f"arguments: expected a list, got {type(arguments).__name__}")
    entities: list[tuple[int | None, object]] = []
    for item in items:
        if isinstance(item, Mapping) and _is_envelope(item):
            action = _action(item.get("action"))
            inner = item["data"]
            if isinstance(inner, list | tuple):
                entities.extend((action, entity) for entity in inner)
            else:
                entities.append((action, inner))
        elif isinstance(item, list | tuple):
            entities.extend(unwrap_user_actions(item))
        else:
            entities.append((None, item))
    return entities


def _is_envelope(item: Mapping[str, object]) -> bool:
    """Whether a user-hub argument is the ``{action, data}`` wrapper, fields of its own beside
    them or not (no entity has a ``data`` field, nor an ``action`` one); a ``data`` without an
    ``action`` wraps only when nothing beside it looks like an entity's (an ``id``, an
    account)."""
    if "data" not in item:
        return False
    return "action" in item or not {"id", "accountId"} & set(item)


def _leading_account(arguments: list[object] | tuple[object, ...]) -> int | None:
    """The account id that leads ``[accountId, data]``; None when the arguments are no such
    pair (a lone id is no event)."""
    if len(arguments) < 2 or isinstance(arguments[0], Mapping | list | tuple):
        return None
    try:
        return to_int(arguments[0], "accountId")
    except WireFormatError:
        return None


def _owned(entity: object, owner: int) -> object:
    """An entity of ``[accountId, data]``: its own ``accountId``, or else the leading one."""
    if isinstance(entity, Mapping) and entity.get("accountId") is None:
        return {**entity, "accountId": owner}
    return entity


#: the wrapper actions by name ("0=create, 1=update, 2=delete", reference §5; §14.1), in lower
#: case, for a server that names them
_ACTION_NAMES = {
    "create": 0, "created": 0, "add": 0, "added": 0, "new": 0,
    "update": 1, "updated": 1, "change": 1, "changed": 1,
    "remove": ACTION_REMOVED, "removed": ACTION_REMOVED, "delete": ACTION_REMOVED,
    "deleted": ACTION_REMOVED,
}  # fmt: skip


def _action(value: object) -> int | None:
    """The wrapper's action, read as every number of a payload is (``2``, ``"2"``, ``2.0``)
    or by name (``"Removed"``, ``"delete"``); None when absent or unreadable (the entity is
    then taken as an update)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _ACTION_NAMES:
        return _ACTION_NAMES[value.strip().lower()]
    try:
        return to_int(value, "action")
    except WireFormatError:
        return None


# ---------------------------------------------------------------------------------------------
# REST response bodies


def accounts_from_rest(body: object, at: datetime) -> list[AccountUpdate]:
    return [account_from_wire(item, at) for item in list_field(body, "accounts")]


def orders_from_rest(body: object, at: datetime) -> list[OrderUpdate]:
    """A REST order list, bracket children after the other orders.

    A REST body is one snapshot, so its list order means nothing; a child whose copy lacks
    the links is known only by its ``<tag>-SL`` / ``-TP`` customTag, which names its entry's
    tag — so the entries are applied first and the engine sees each child as one.
    """
    return bracket_children_last(order_from_wire(item, at) for item in list_field(body, "orders"))


def bracket_children_last(orders: Iterable[OrderUpdate]) -> list[OrderUpdate]:
    """The orders of one REST snapshot, bracket children after the others (see above)."""
    return sorted(orders, key=_bracket_child)


def _bracket_child(order: OrderUpdate) -> bool:
    return (
        order.parent_order_id is not None
        or order.linked_order_id is not None
        or bracket_base(order.custom_tag) is not None
    )


def positions_from_rest(body: object, at: datetime) -> list[PositionUpdate]:
    return [position_from_wire(item, at) for item in list_field(body, "positions")]


def trades_from_rest(body: object, at: datetime) -> list[TradeFill]:
    return [trade_from_wire(item, at) for item in list_field(body, "trades")]


def contracts_from_rest(
    body: object,
    symbols: SymbolSpec = DEFAULT_SYMBOLS,
    on_malformed: OnMalformedElement | None = None,
) -> list[ContractInfo]:
    """``contracts`` (search/available) or ``contract`` (searchById) → ContractInfo list.

    A contract list is read contract by contract: an unreadable one is skipped and logged
    (and told to ``on_malformed``, which may count it), never the others — nothing is
    inferred from a contract's absence, and one odd product in ``Contract/available`` must
    not leave every other contract unknown. A ``searchById`` answer holds one contract: an
    unreadable one raises :class:`WireFormatError`."""
    data = as_mapping(body, "response")
    single = data.get("contract")
    if single is not None:
        return [contract_from_wire(single, symbols)]

    def skipped(item: object, error: Exception) -> None:
        code = item.get("id") if isinstance(item, Mapping) else None
        log.warning("skipped an unreadable contract %r (%s); kept the others", code, error)
        if on_malformed is not None:
            on_malformed(item, error)

    items = list_field(body, "contracts")
    return list(convert_each(items, lambda item: contract_from_wire(item, symbols), skipped))


__all__ = [
    "ACTION_REMOVED",
    "DEFAULT_SYMBOLS",
    "account_from_wire",
    "accounts_from_rest",
    "bracket_children_last",
    "contract_from_wire",
    "contracts_from_rest",
    "order_from_wire",
    "orders_from_rest",
    "position_from_wire",
    "positions_from_rest",
    "raw_root",
    "trade_from_wire",
    "trades_from_rest",
    "unwrap_user_actions",
    "unwrap_user_arguments",
]
