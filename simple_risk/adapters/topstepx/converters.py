"""The one place that turns ProjectX JSON into domain events, and intents into REST bodies.

Wire facts this module depends on (reference §1, §4–§8):

* user-hub events arrive as ``[{"action": n, "data": {...}}]`` — but a bare entity is accepted
  too; market-hub events as ``[contractId, data]`` where ``data`` may be an object or a list;
* hub payloads omit null fields (missing means null), REST prints explicit nulls and decimals
  with 9 fractional digits, hub numbers are compact;
* timestamps have 6 or 7 fractional digits and an offset; ``0001-01-01T00:00:00+00:00`` means
  "no time";
* order and trade ids exceed 2^31; numeric enums keep their wire values;
* quotes are partial updates, merged here into the last full quote per contract; live deltas
  often lack ``lastPrice`` and nothing is pushed on subscribe (§14.4), so the last trade price
  comes from ``GatewayTrade`` — an array of market trades — merged into the same quote;
* a position that goes flat arrives as action 2 (removed) with ``type: 0``, ``size: 0`` and
  the old average price (§14.1);
* contract roots differ from CME tickers (``EP`` is ES): a contract's ``name`` is its CME code
  (``ESU6``), which gives the ticker; its description says whether it is a micro (§14.5);
* a REST trade carries no ``commissions`` (§14.2): absent means unknown (None), never zero.

Money and prices become ``Decimal`` exactly (floats only ever reach us through a JSON parser
that was not told ``parse_float=Decimal``; they are converted through their shortest repr,
which is the wire text). Anything malformed raises :class:`WireFormatError` from the strict
``*_from_wire`` functions; :class:`Converter` wraps them for the hub threads: it logs the raw
payload (secrets scrubbed), counts it, and skips it — a bad payload never kills a thread, and
one bad element of a list (a market trade, a quote, a REST record, a contract) never drops
the good elements beside it.

Enum values nobody scripted are read per field, with the meaning that errs on the safe side
(a risk manager must still see a record that still means something):

* an order ``type`` outside 0–7 is :attr:`OrderType.UNKNOWN` — a working order of known side
  and size, never taken for a protective stop, still counted as exposure;
* an order ``status`` outside 0–8 is read as working (:attr:`OrderStatus.OPEN`): an order
  wrongly kept costs a reconcile, an order wrongly dropped hides exposure. The
  :class:`Converter` reports it as a :class:`Doubt` so the daemon re-reads the account from
  REST (whose ``searchOpen`` answer settles whether the order still works);
* an order or trade ``side`` and a position ``type`` cannot be guessed: the record is skipped,
  counted and reported as a :class:`Doubt` (alert and reconcile).

Each unknown value is logged once per field and value and counted (:class:`UnknownValues`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.secrets import install_log_filter, scrub
from simple_risk.engine.dsl.catalogue import tickers
from simple_risk.engine.events import (
    AccountUpdate,
    ContractInfo,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    TradeFill,
)
from simple_risk.engine.facts.families import bracket_base
from simple_risk.engine.facts.symbols import is_micro, ticker_from_name
from simple_risk.engine.model import SymbolSpec

log = logging.getLogger(__name__)
install_log_filter(__name__)

#: The shipped contract catalogue (ProjectX roots → tickers), micros weigh 1 unit, minis 10.
DEFAULT_SYMBOLS = SymbolSpec(units_per_lot=10, catalogue=tickers())

USER_TARGETS = ("GatewayUserAccount", "GatewayUserOrder", "GatewayUserPosition", "GatewayUserTrade")
MARKET_TARGETS = ("GatewayQuote", "GatewayTrade", "GatewayDepth")

_NO_TIME_YEAR = 1
_INT64_MAX = 2**63 - 1


class WireFormatError(ValueError):
    """A payload that does not have the documented shape."""


# ---------------------------------------------------------------------------------------------
# scalar fields


def to_decimal(value: object, name: str = "value") -> Decimal:
    """An exact Decimal from a JSON number (int, Decimal, float via its repr) or numeric string."""
    if isinstance(value, bool):
        raise WireFormatError(f"{name}: expected a number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise WireFormatError(f"{name}: not a finite number: {value!r}")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise WireFormatError(f"{name}: not a number: {value!r}") from exc
    else:
        raise WireFormatError(f"{name}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise WireFormatError(f"{name}: not a finite number: {value!r}")
    return result


def to_int(value: object, name: str = "value") -> int:
    """An integer id/size/enum; accepts integral Decimals/floats (JSON ``5.0``), never bools."""
    if isinstance(value, bool):
        raise WireFormatError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, Decimal | float):
        number = to_decimal(value, name)
        if number != number.to_integral_value():
            raise WireFormatError(f"{name}: expected an integer, got {value!r}")
        result = int(number)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        result = int(value)
    else:
        raise WireFormatError(f"{name}: expected an integer, got {value!r}")
    if abs(result) > _INT64_MAX:
        raise WireFormatError(f"{name}: {result} does not fit in int64")
    return result


def parse_timestamp(value: object, name: str = "timestamp") -> datetime | None:
    """ISO-8601 with 0–7 fractional digits; naive means UTC; year 1 means "no time" (None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireFormatError(f"{name}: expected an ISO-8601 string, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # fromisoformat (3.11) takes any fraction length, but be explicit about >6 digits.
    stamp: datetime
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(_trim_fraction(text))
        except ValueError as exc:
            raise WireFormatError(f"{name}: not an ISO-8601 timestamp: {value!r}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    if stamp.year == _NO_TIME_YEAR:
        return None
    return stamp


def _trim_fraction(text: str) -> str:
    """Cut a fraction longer than 6 digits (.NET prints 7) to what ``datetime`` holds."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireFormatError(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _required(payload: Mapping[str, Any], key: str) -> object:
    value = payload.get(key)
    if value is None:
        raise WireFormatError(f"missing field {key!r}")
    return value


def _str(payload: Mapping[str, Any], key: str) -> str:
    value = _required(payload, key)
    if not isinstance(value, str) or not value:
        raise WireFormatError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _opt_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireFormatError(f"{key}: expected a string, got {value!r}")
    return value


def _int(payload: Mapping[str, Any], key: str) -> int:
    return to_int(_required(payload, key), key)


def _opt_int(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    return None if value is None else to_int(value, key)


def _opt_link(payload: Mapping[str, Any], key: str) -> int | None:
    """An order id that links a bracket child to its family; 0 (no order) means no link."""
    value = _opt_int(payload, key)
    return value if value else None


def _dec(payload: Mapping[str, Any], key: str) -> Decimal:
    return to_decimal(_required(payload, key), key)


def _opt_dec(payload: Mapping[str, Any], key: str) -> Decimal | None:
    value = payload.get(key)
    return None if value is None else to_decimal(value, key)


_T = TypeVar("_T")


def _descriptive(
    payload: Mapping[str, Any], key: str, parse: Callable[[object, str], _T | None]
) -> _T | None:
    """An optional field that describes an entity without changing its size, price or P&L (a
    timestamp, a tag, trail ticks): unreadable, it is logged and taken as absent, so a fill or
    a position is never dropped for a field the engine can do without."""
    value = payload.get(key)
    if value is None:
        return None
    try:
        return parse(value, key)
    except WireFormatError as error:
        log.warning(
            "ignored an unreadable optional field of id %r (%s); kept the rest",
            payload.get("id"),
            error,
        )
        return None


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise WireFormatError(f"{name}: expected a string, got {value!r}")
    return value


def _bool(payload: Mapping[str, Any], key: str, default: bool | None = None) -> bool:
    value = payload.get(key)
    if value is None:
        if default is None:
            raise WireFormatError(f"missing field {key!r}")
        return default
    if not isinstance(value, bool):
        raise WireFormatError(f"{key}: expected a boolean, got {value!r}")
    return value


_E = TypeVar("_E", OrderSide, OrderType, OrderStatus, PositionType)


def _enum(kind: type[_E], payload: Mapping[str, Any], key: str) -> _E:
    number = _int(payload, key)
    try:
        return kind(number)
    except ValueError as exc:
        raise WireFormatError(f"{key}: {number} is not a {kind.__name__}") from exc


#: Told of each enum value outside the known set that was read conservatively: (field, value)
OnUnknown = Callable[[str, int], None]

#: Told of each element of a list that was skipped as unreadable: (element, error)
OnMalformedElement = Callable[[object, Exception], None]


class UnknownValues:
    """Enum values outside the known set, counted by ``field=value`` (``order.type=8``) and each
    logged once per value: the gateway may send a new value on every update of every order,
    and one warning says all there is to say, while the count shows how often it happens."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, name: str, value: int, reading: str) -> bool:
        """Count one occurrence; True (and logged) the first time this value is seen."""
        key = f"{name}={value}"
        with self._lock:
            first = key not in self.counts
            self.counts[key] += 1
        if first:
            log.warning("unknown %s %d, read as %s (logged once per value)", name, value, reading)
        return first

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts, safe to read from another thread."""
        with self._lock:
            return dict(self.counts)


#: the tally of the conversions no caller asked to count (a REST search without a Converter)
UNKNOWN_VALUES = UnknownValues()

#: how each tolerated unknown value is read (the conservative meaning: module docstring)
_READINGS = {"order.type": "unknown type (non-protective)", "order.status": "working"}


def _lenient_enum(
    kind: type[_E], payload: Mapping[str, Any], key: str, default: _E, on_unknown: OnUnknown
) -> _E:
    """An enum whose unknown values still mean something: ``default`` (see the module
    docstring), reported to ``on_unknown``. A value that is not an integer is still malformed."""
    number = _int(payload, key)
    try:
        return kind(number)
    except ValueError:
        on_unknown(f"order.{key}", number)
        return default


def _note_unknown(name: str, value: int) -> None:
    UNKNOWN_VALUES.note(name, value, _READINGS.get(name, "a default"))


#: what a malformed element raises (a payload can fail in more ways than WireFormatError)
_MALFORMED = (WireFormatError, ValueError, TypeError, ArithmeticError)


def _each(
    items: Iterable[object],
    convert: Callable[[object], _T],
    on_malformed: OnMalformedElement | None,
) -> Iterator[_T]:
    """Each element converted. Strict (``on_malformed`` None): the first malformed one raises.
    Lenient: a malformed one is reported and skipped, so it never hides the good ones."""
    for item in items:
        if on_malformed is None:
            yield convert(item)
            continue
        try:
            yield convert(item)
        except _MALFORMED as error:
            on_malformed(item, error)


def _non_negative(number: int, key: str) -> int:
    if number < 0:
        raise WireFormatError(f"{key}: negative value {number}")
    return number


# ---------------------------------------------------------------------------------------------
# entities (REST models and hub payloads share field names)


def account_from_wire(payload: object, at: datetime) -> AccountUpdate:
    """TradingAccountModel / GatewayUserAccount → AccountUpdate."""
    data = _mapping(payload, "account")
    return AccountUpdate(
        at=at,
        account_id=_int(data, "id"),
        name=_descriptive(data, "name", _string) or "",
        balance=_dec(data, "balance"),
        can_trade=_bool(data, "canTrade"),
        is_visible=_bool(data, "isVisible", True),
        simulated=_bool(data, "simulated", True),
    )


def order_from_wire(
    payload: object, at: datetime, *, on_unknown: OnUnknown | None = None
) -> OrderUpdate:
    """OrderModel / GatewayUserOrder → OrderUpdate.

    An unknown ``type`` is :attr:`OrderType.UNKNOWN` and an unknown ``status`` is read as
    working (:attr:`OrderStatus.OPEN`), each reported to ``on_unknown`` (by default logged once
    per value and counted in :data:`UNKNOWN_VALUES`); an unknown ``side`` is malformed: which
    way the order goes is the one thing no default can say.
    """
    data = _mapping(payload, "order")
    unknown: list[tuple[str, int]] = []  # reported once the whole record has been read

    def seen(field: str, value: int) -> None:
        unknown.append((field, value))

    order = OrderUpdate(
        at=at,
        account_id=_int(data, "accountId"),
        order_id=_int(data, "id"),
        contract_id=_str(data, "contractId"),
        status=_lenient_enum(OrderStatus, data, "status", OrderStatus.OPEN, seen),
        type=_lenient_enum(OrderType, data, "type", OrderType.UNKNOWN, seen),
        side=_enum(OrderSide, data, "side"),
        size=_non_negative(_int(data, "size"), "size"),
        fill_volume=_non_negative(_opt_int(data, "fillVolume") or 0, "fillVolume"),
        limit_price=_opt_dec(data, "limitPrice"),
        stop_price=_opt_dec(data, "stopPrice"),
        filled_price=_opt_dec(data, "filledPrice"),
        trail_distance=_descriptive(data, "trailDistance", to_int),
        custom_tag=_descriptive(data, "customTag", _string),
        symbol_id=_descriptive(data, "symbolId", _string),
        created_at=_descriptive(data, "creationTimestamp", parse_timestamp),
        updated_at=_descriptive(data, "updateTimestamp", parse_timestamp),
        parent_order_id=_opt_link(data, "parentOrderId"),
        linked_order_id=_opt_link(data, "linkedOrderId"),
    )
    report = on_unknown or _note_unknown
    for field_name, value in unknown:
        report(field_name, value)
    return order


def position_from_wire(payload: object, at: datetime, *, removed: bool = False) -> PositionUpdate:
    """PositionModel / GatewayUserPosition → PositionUpdate (``size 0`` = flat).

    ``removed``: the hub's action 2 — the position is gone, whatever size it still shows.
    """
    data = _mapping(payload, "position")
    size = 0 if removed else _non_negative(_int(data, "size"), "size")
    average = _opt_dec(data, "averagePrice")
    if average is None:
        if size:
            raise WireFormatError("missing field 'averagePrice'")
        average = Decimal(0)
    position_type = (
        _enum(PositionType, data, "type")
        if data.get("type") is not None or size
        else PositionType.UNDEFINED
    )
    return PositionUpdate(
        at=at,
        account_id=_int(data, "accountId"),
        contract_id=_str(data, "contractId"),
        type=position_type,
        size=size,
        average_price=average,
        position_id=_descriptive(data, "id", to_int),
        created_at=_descriptive(data, "creationTimestamp", parse_timestamp),
    )


def trade_from_wire(payload: object, at: datetime) -> TradeFill:
    """HalfTradeModel / GatewayUserTrade → TradeFill (absent ``profitAndLoss`` = opening fill)."""
    data = _mapping(payload, "trade")
    return TradeFill(
        at=at,
        account_id=_int(data, "accountId"),
        trade_id=_int(data, "id"),
        order_id=_int(data, "orderId"),
        contract_id=_str(data, "contractId"),
        side=_enum(OrderSide, data, "side"),
        size=_non_negative(_int(data, "size"), "size"),
        price=_dec(data, "price"),
        pnl=_opt_dec(data, "profitAndLoss"),
        fees=_opt_dec(data, "fees") or Decimal(0),
        commissions=_opt_dec(data, "commissions"),
        voided=_bool(data, "voided", False),
        created_at=_descriptive(data, "creationTimestamp", parse_timestamp),
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
    data = _mapping(payload, "contract")
    contract_id = _str(data, "id")
    symbol_id = _opt_str(data, "symbolId") or ""
    tick_size = _dec(data, "tickSize")
    if tick_size <= 0:
        raise WireFormatError(f"tickSize: not positive: {tick_size}")
    name = _opt_str(data, "name") or contract_id
    description = _opt_str(data, "description") or ""
    px_root = raw_root(contract_id, symbol_id)
    root = symbols.aliases.get(px_root) or ticker_from_name(name) or symbols.root(px_root)
    return ContractInfo(
        contract_id=contract_id,
        symbol_id=symbol_id,
        root=root,
        name=name,
        tick_size=tick_size,
        tick_value=_dec(data, "tickValue"),
        units=symbols.units(root, is_micro(description) if description else None),
        active=_bool(data, "activeContract", True),
        description=description,
    )


def unwrap_user_arguments(arguments: object) -> list[object]:
    """User-hub ``arguments`` → the entities: unwrap ``{action, data}``, accept bare entities."""
    return [entity for _, entity in unwrap_user_actions(arguments)]


#: the wrapper ``action`` of a removed entity (a position that went flat, §14.1)
ACTION_REMOVED = 2


def unwrap_user_actions(arguments: object) -> list[tuple[int | None, object]]:
    """User-hub ``arguments`` → (wrapper action or None for a bare entity, entity) pairs."""
    items: Iterable[object]
    if isinstance(arguments, list | tuple):
        items = arguments
    elif isinstance(arguments, Mapping):
        items = [arguments]
    else:
        raise WireFormatError(f"arguments: expected a list, got {type(arguments).__name__}")
    entities: list[tuple[int | None, object]] = []
    for item in items:
        # a wrapper has ``data`` and no entity keys; every entity has an ``id`` or an account
        if isinstance(item, Mapping) and "data" in item and not {"id", "accountId"} & set(item):
            raw_action = item.get("action")
            action = (
                raw_action
                if isinstance(raw_action, int) and not isinstance(raw_action, bool)
                else None
            )
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


_USER_CONVERTERS: dict[str, Callable[[object, datetime], Event]] = {
    "GatewayUserAccount": account_from_wire,
    "GatewayUserOrder": order_from_wire,
    "GatewayUserPosition": position_from_wire,
    "GatewayUserTrade": trade_from_wire,
}


# ---------------------------------------------------------------------------------------------
# quotes


@dataclass(slots=True)
class _QuoteState:
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    timestamp: datetime | None = None


class QuoteBook:
    """The last full quote per contract; partial updates are merged into it (reference §8.2)."""

    def __init__(self) -> None:
        self._quotes: dict[str, _QuoteState] = {}
        self._lock = threading.Lock()

    def apply(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one GatewayQuote payload; fields absent (or null) keep their previous value."""
        data = _mapping(payload, "quote")
        last = _opt_dec(data, "lastPrice")
        bid = _opt_dec(data, "bestBid")
        ask = _opt_dec(data, "bestAsk")
        stamp = parse_timestamp(data.get("timestamp"), "timestamp") or parse_timestamp(
            data.get("lastUpdated"), "lastUpdated"
        )
        return self._merge(contract_id, at, last, bid, ask, stamp)

    def apply_trade(self, contract_id: str, payload: object, at: datetime) -> Quote:
        """Merge one market trade (a GatewayTrade entry): its price is the new last price."""
        data = _mapping(payload, "trade")
        price = _dec(data, "price")
        stamp = parse_timestamp(data.get("timestamp"), "timestamp")
        return self._merge(contract_id, at, price, None, None, stamp)

    def _merge(
        self,
        contract_id: str,
        at: datetime,
        last: Decimal | None,
        bid: Decimal | None,
        ask: Decimal | None,
        stamp: datetime | None,
    ) -> Quote:
        with self._lock:
            state = self._quotes.setdefault(contract_id, _QuoteState())
            if last is not None:
                state.last = last
            if bid is not None:
                state.bid = bid
            if ask is not None:
                state.ask = ask
            if stamp is not None:
                state.timestamp = stamp
            return Quote(
                at=at,
                contract_id=contract_id,
                last=state.last,
                bid=state.bid,
                ask=state.ask,
                timestamp=state.timestamp,
            )


def _market_arguments(target: str, arguments: object) -> tuple[str, Sequence[object]]:
    """Market-hub ``[contractId, data]`` → the contract id and the elements of ``data``."""
    if not isinstance(arguments, list | tuple) or len(arguments) < 2:
        raise WireFormatError(f"{target}: expected [contractId, data]")
    contract_id = arguments[0]
    if not isinstance(contract_id, str) or not contract_id:
        raise WireFormatError(f"{target}: bad contract id {contract_id!r}")
    data = arguments[1]
    return contract_id, data if isinstance(data, list | tuple) else [data]


def quote_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayQuote ``[contractId, data]`` → merged Quote(s); ``data`` may be a list, whose
    unreadable elements ``on_malformed`` is told of (the others still merge)."""
    contract_id, payloads = _market_arguments("GatewayQuote", arguments)
    return list(_each(payloads, lambda p: book.apply(contract_id, p, at), on_malformed))


def market_trades_from_wire(
    arguments: object,
    at: datetime,
    book: QuoteBook,
    on_malformed: OnMalformedElement | None = None,
) -> list[Quote]:
    """GatewayTrade ``[contractId, data]`` → one merged Quote whose last price is the latest
    readable trade's; ``data`` is an array of trades live (§14.4), a single object is accepted
    too. An empty array carries no price and gives no quote. With ``on_malformed``, an
    unreadable trade is reported and skipped: the good trades of the array still set the
    last price."""
    contract_id, trades = _market_arguments("GatewayTrade", arguments)
    quotes = list(_each(trades, lambda t: book.apply_trade(contract_id, t, at), on_malformed))
    return quotes[-1:]


# ---------------------------------------------------------------------------------------------
# REST response bodies


def _list_field(body: object, key: str) -> Sequence[object]:
    data = _mapping(body, "response")
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireFormatError(f"{key}: expected a list")
    return value


def accounts_from_rest(body: object, at: datetime) -> list[AccountUpdate]:
    return [account_from_wire(item, at) for item in _list_field(body, "accounts")]


def orders_from_rest(body: object, at: datetime) -> list[OrderUpdate]:
    """A REST order list, bracket children after the other orders.

    A REST body is one snapshot, so its list order means nothing; a child whose copy lacks
    the links is known only by its ``<tag>-SL`` / ``-TP`` customTag, which names its entry's
    tag — so the entries are applied first and the engine sees each child as one.
    """
    return bracket_children_last(order_from_wire(item, at) for item in _list_field(body, "orders"))


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
    return [position_from_wire(item, at) for item in _list_field(body, "positions")]


def trades_from_rest(body: object, at: datetime) -> list[TradeFill]:
    return [trade_from_wire(item, at) for item in _list_field(body, "trades")]


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
    data = _mapping(body, "response")
    single = data.get("contract")
    if single is not None:
        return [contract_from_wire(single, symbols)]

    def skipped(item: object, error: Exception) -> None:
        code = item.get("id") if isinstance(item, Mapping) else None
        log.warning("skipped an unreadable contract %r (%s); kept the others", code, error)
        if on_malformed is not None:
            on_malformed(item, error)

    items = _list_field(body, "contracts")
    return list(_each(items, lambda item: contract_from_wire(item, symbols), skipped))


# ---------------------------------------------------------------------------------------------
# the tolerant converter the hub threads use


@dataclass(frozen=True, slots=True)
class Doubt:
    """A user-hub record the converter could not take at its word: skipped as unreadable, or
    kept with a conservative reading (an unknown order status read as working, an unknown type
    as :attr:`OrderType.UNKNOWN`). The daemon alerts once per ``what`` and, when ``reconcile``,
    re-reads the account from REST — every guarded account when ``account_id`` is None (the
    record did not say whose it is)."""

    at: datetime
    target: str
    account_id: int | None
    #: what was wrong, without record ids: the same trouble on many records is one alert
    what: str
    record_id: object
    #: only REST can tell what the record means (skipped, or an unknown order status)
    reconcile: bool
    #: the record was dropped (unreadable), not kept with a conservative reading
    skipped: bool = False


#: Told of each :class:`Doubt`, on the hub thread that converted the record.
OnDoubt = Callable[[Doubt], None]


def _owner(target: str, entity: object) -> int | None:
    """The account an unreadable user-hub record belongs to, when that much can be read."""
    if not isinstance(entity, Mapping):
        return None
    key = "id" if target == "GatewayUserAccount" else "accountId"
    try:
        return to_int(entity.get(key), key)
    except WireFormatError:
        return None


class Converter:
    """Hub arguments → domain events, stamped with the receive clock; never raises.

    Malformed entities are logged with their (scrubbed) raw payload, counted in
    :attr:`rejected` by target, and skipped; the other entities of the same message (the
    other trades of a ``GatewayTrade`` array, the other quotes of a list) still convert.
    Unknown targets are counted in :attr:`ignored`, unknown enum values read conservatively
    in :attr:`unknown` (module docstring). A skipped user-hub record and an order of unknown
    status are told to ``on_doubt`` (the daemon alerts and reconciles the account); so is an
    order of unknown type (alerted once, no reconcile: the record is fully read).
    """

    def __init__(
        self,
        clock: ReceiveClock | None = None,
        symbols: SymbolSpec = DEFAULT_SYMBOLS,
        *,
        on_doubt: OnDoubt | None = None,
    ) -> None:
        self.clock = clock or ReceiveClock()
        self.symbols = symbols
        self.quotes = QuoteBook()
        self.rejected: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.unknown = UnknownValues()
        self.on_doubt = on_doubt
        self._lock = threading.Lock()

    def _reject(self, target: str, payload: object, error: Exception) -> None:
        with self._lock:
            self.rejected[target] += 1
        try:
            raw = json.dumps(scrub(payload), default=str)[:2000]
        except (TypeError, ValueError, RecursionError):
            raw = repr(type(payload))
        log.warning("skipped malformed %s payload (%s): %s", target, error, raw)

    def skipped(self) -> dict[str, int]:
        """A copy of :attr:`rejected`, safe to read from another thread (the status)."""
        with self._lock:
            return dict(self.rejected)

    def _doubt(self, doubt: Doubt) -> None:
        if self.on_doubt is None:
            return
        try:
            self.on_doubt(doubt)
        except Exception:  # the listener's failure must not drop the events of the message
            log.exception("the listener of an unreadable %s record failed", doubt.target)

    def _order(self, entity: object, stamp: datetime) -> OrderUpdate:
        """One user-hub order; its unknown values are counted, logged once, and doubted."""
        unknown: list[tuple[str, int]] = []
        order = order_from_wire(entity, stamp, on_unknown=lambda f, v: unknown.append((f, v)))
        for name, value in unknown:
            reading = _READINGS.get(name, "a default")
            self.unknown.note(name, value, reading)
            self._doubt(
                Doubt(
                    at=stamp,
                    target="GatewayUserOrder",
                    account_id=order.account_id,
                    what=f"unknown {name} {value}, read as {reading}",
                    record_id=order.order_id,
                    reconcile=name == "order.status",
                )
            )
        return order

    def _entity(self, target: str, action: int | None, entity: object, stamp: datetime) -> Event:
        if target == "GatewayUserOrder":
            return self._order(entity, stamp)
        if target == "GatewayUserPosition":
            return position_from_wire(entity, stamp, removed=action == ACTION_REMOVED)
        return _USER_CONVERTERS[target](entity, stamp)

    def user(self, target: str, arguments: object, at: datetime | None = None) -> list[Event]:
        """One user-hub invocation → events (possibly none)."""
        stamp = at or self.clock.now()
        if target not in _USER_CONVERTERS:
            with self._lock:
                self.ignored[target] += 1
            return []
        try:
            entities = unwrap_user_actions(arguments)
        except (WireFormatError, RecursionError) as error:
            self._reject(target, arguments, error)
            self._doubt(
                Doubt(
                    at=stamp,
                    target=target,
                    account_id=None,
                    what=f"unreadable {target} message skipped ({error})",
                    record_id=None,
                    reconcile=True,
                    skipped=True,
                )
            )
            return []
        events: list[Event] = []
        for action, entity in entities:
            try:
                events.append(self._entity(target, action, entity, stamp))
            except _MALFORMED as error:
                self._reject(target, entity, error)
                self._doubt(
                    Doubt(
                        at=stamp,
                        target=target,
                        account_id=_owner(target, entity),
                        what=f"unreadable {target} record skipped ({error})",
                        record_id=entity.get("id") if isinstance(entity, Mapping) else None,
                        reconcile=True,
                        skipped=True,
                    )
                )
        return events

    def market(self, target: str, arguments: object, at: datetime | None = None) -> list[Event]:
        """One market-hub invocation → merged quotes (market trades set the last price);
        depth carries no domain event."""
        stamp = at or self.clock.now()
        converters = {"GatewayQuote": quote_from_wire, "GatewayTrade": market_trades_from_wire}
        convert = converters.get(target)
        if convert is None:
            with self._lock:
                self.ignored[target] += 1
            return []

        def skipped(element: object, error: Exception) -> None:
            self._reject(target, element, error)

        try:
            return list(convert(arguments, stamp, self.quotes, skipped))
        except _MALFORMED as error:  # the message itself: no contract id, no data
            self._reject(target, arguments, error)
            return []

    def rest(self, endpoint: str, body: object, at: datetime | None = None) -> list[Event]:
        """A recorded REST response (reconciliation) → events; unknown endpoints → none.

        Record by record, as the daemon reads a live answer: an unreadable record is logged,
        counted and skipped, the others still convert."""
        stamp = at or self.clock.now()
        handlers: dict[str, tuple[str, Callable[[object, datetime], Event]]] = {
            Endpoint.ACCOUNT_SEARCH: ("accounts", account_from_wire),
            Endpoint.ORDER_SEARCH: ("orders", order_from_wire),
            Endpoint.ORDER_SEARCH_OPEN: ("orders", order_from_wire),
            Endpoint.POSITION_SEARCH_OPEN: ("positions", position_from_wire),
            Endpoint.TRADE_SEARCH: ("trades", trade_from_wire),
        }
        handler = handlers.get(endpoint)
        if handler is None:
            with self._lock:
                self.ignored[endpoint] += 1
            return []
        key, convert = handler
        try:
            items = _list_field(body, key)
        except WireFormatError as error:
            self._reject(endpoint, body, error)
            return []
        events: list[Event] = []
        for item in items:
            try:
                events.append(convert(item, stamp))
            except _MALFORMED as error:
                self._reject(endpoint, item, error)
        orders = [e for e in events if isinstance(e, OrderUpdate)]
        return list(bracket_children_last(orders)) if orders else events


# ---------------------------------------------------------------------------------------------
# intents → REST requests


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


# ---------------------------------------------------------------------------------------------
# exact JSON text


def dumps_exact(value: object) -> str:
    """Compact JSON where Decimals are written as numbers with their exact digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        text = str(value)
        return text if "E" not in text else format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return dumps_exact(to_decimal(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


__all__ = [
    "DEFAULT_SYMBOLS",
    "MARKET_TARGETS",
    "UNKNOWN_VALUES",
    "USER_TARGETS",
    "Converter",
    "Doubt",
    "OnDoubt",
    "OnMalformedElement",
    "OnUnknown",
    "QuoteBook",
    "RestRequest",
    "UnknownValues",
    "WireFormatError",
    "account_from_wire",
    "accounts_from_rest",
    "bracket_children_last",
    "cancel_order_request",
    "close_position_request",
    "contract_from_wire",
    "contracts_from_rest",
    "dumps_exact",
    "loads_exact",
    "market_trades_from_wire",
    "modify_stop_request",
    "order_from_wire",
    "orders_from_rest",
    "parse_timestamp",
    "partial_close_request",
    "place_order_request",
    "place_stop_request",
    "position_from_wire",
    "positions_from_rest",
    "quote_from_wire",
    "raw_root",
    "to_decimal",
    "to_int",
    "trade_from_wire",
    "trades_from_rest",
    "unwrap_user_actions",
    "unwrap_user_arguments",
]
