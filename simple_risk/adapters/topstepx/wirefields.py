"""Reading one field of a ProjectX payload: numbers, ids, timestamps, strings and enums.

Every converter of the adapter — entities, REST bodies, quotes, the hub converter, exact JSON —
reads its fields through these readers, so the wire facts about single values live in one
place (reference §1, §4–§8):

* hub payloads omit null fields (missing means null), REST prints explicit nulls and decimals
  with 9 fractional digits, hub numbers are compact;
* timestamps have 6 or 7 fractional digits and an offset; ``0001-01-01T00:00:00+00:00`` means
  "no time";
* order and trade ids exceed 2^31; numeric enums keep their wire values.

Another gateway may spell the same values otherwise, and they read the same: a number as
text in any form (``"2"``, ``"2.0"``, ``"2e0"``), an enum by its Swagger name in any case
(``"Bid"``, ``"open"``).

Money and prices become ``Decimal`` exactly (floats only ever reach us through a JSON parser
that was not told ``parse_float=Decimal``; they are converted through their shortest repr,
which is the wire text). Anything malformed raises :class:`WireFormatError`.

Enum values nobody scripted are tallied here (:class:`UnknownValues`): each is logged once per
field and value and counted; which reading each field gets is told in
:mod:`simple_risk.adapters.topstepx.converters`. :func:`convert_each` reads a list element by
element, so one bad element never drops the good ones beside it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from simple_risk.adapters.topstepx.secrets import install_log_filter
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType

log = logging.getLogger(__name__)
install_log_filter(__name__)

_NO_TIME_YEAR = 1
_INT64_MAX = 2**63 - 1
_INT64_DIGITS = len(str(_INT64_MAX)) - 1  # the exponent of its leading digit


class WireFormatError(ValueError):
    """A payload that does not have the documented shape."""


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
    """An integer id/size/enum; accepts integral Decimals/floats (JSON ``5.0``) and numbers
    as text in any form (``"5"``, ``"5.0"``, ``"5e0"``), never bools."""
    if isinstance(value, bool):
        raise WireFormatError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, Decimal | float | str):  # "2", "2.0", "2e0": a number as text
        number = to_decimal(value, name)
        if number.adjusted() > _INT64_DIGITS:  # 1e999999999 would take minutes to write out
            raise WireFormatError(f"{name}: {value!r} does not fit in int64")
        if number != number.to_integral_value():
            raise WireFormatError(f"{name}: expected an integer, got {value!r}")
        result = int(number)
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


def as_mapping(value: object, name: str) -> Mapping[str, Any]:
    """The payload as a JSON object; anything else is malformed."""
    if not isinstance(value, Mapping):
        raise WireFormatError(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _required(payload: Mapping[str, Any], key: str) -> object:
    """The field's value; absent and null are the same on the wire, and both are missing."""
    value = payload.get(key)
    if value is None:
        raise WireFormatError(f"missing field {key!r}")
    return value


def str_field(payload: Mapping[str, Any], key: str) -> str:
    """A required non-empty string (an id, a contract id)."""
    value = _required(payload, key)
    if not isinstance(value, str) or not value:
        raise WireFormatError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def opt_str_field(payload: Mapping[str, Any], key: str) -> str | None:
    """An optional string; absent or null is None."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireFormatError(f"{key}: expected a string, got {value!r}")
    return value


def int_field(payload: Mapping[str, Any], key: str) -> int:
    """A required integer (see :func:`to_int`)."""
    return to_int(_required(payload, key), key)


def opt_int_field(payload: Mapping[str, Any], key: str) -> int | None:
    """An optional integer; absent or null is None."""
    value = payload.get(key)
    return None if value is None else to_int(value, key)


def opt_link_field(payload: Mapping[str, Any], key: str) -> int | None:
    """An order id that links a bracket child to its family; 0 (no order) means no link."""
    value = opt_int_field(payload, key)
    return value if value else None


def decimal_field(payload: Mapping[str, Any], key: str) -> Decimal:
    """A required exact number (see :func:`to_decimal`)."""
    return to_decimal(_required(payload, key), key)


def opt_decimal_field(payload: Mapping[str, Any], key: str) -> Decimal | None:
    """An optional exact number; absent or null is None."""
    value = payload.get(key)
    return None if value is None else to_decimal(value, key)


_T = TypeVar("_T")


def descriptive_field(
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


def to_str(value: object, name: str) -> str:
    """A string value (possibly empty), for :func:`descriptive_field`."""
    if not isinstance(value, str):
        raise WireFormatError(f"{name}: expected a string, got {value!r}")
    return value


def bool_field(payload: Mapping[str, Any], key: str, default: bool | None = None) -> bool:
    """A boolean; absent or null is ``default``, or missing when there is no default."""
    value = payload.get(key)
    if value is None:
        if default is None:
            raise WireFormatError(f"missing field {key!r}")
        return default
    if not isinstance(value, bool):
        raise WireFormatError(f"{key}: expected a boolean, got {value!r}")
    return value


_E = TypeVar("_E", OrderSide, OrderType, OrderStatus, PositionType)

#: The Swagger's names of each enum's values (reference §5), for a server that writes its
#: enums by name (System.Text.Json's string enums): keyed in lower case, the names being
#: read whatever their case. They are the members' own names (``TRAILING_STOP`` is
#: ``TrailingStop``), but for the sides, which the Swagger names by the book.
_ENUM_NAMES: dict[type, dict[str, int]] = {
    kind: {member.name.lower().replace("_", ""): member.value for member in kind}
    for kind in (OrderType, OrderStatus, PositionType)
}
_ENUM_NAMES[OrderSide] = {"bid": OrderSide.BUY.value, "ask": OrderSide.SELL.value}


def _enum_value(kind: type[_E], payload: Mapping[str, Any], key: str) -> int | str:
    """An enum field's wire value: its number, or a name that is no number (a name this
    enum knows is its number; another is returned as written, for the caller to judge)."""
    value = _required(payload, key)
    if isinstance(value, str) and not _looks_numeric(value):
        name = value.strip()
        if not name.isidentifier():  # blank, or no name at all
            raise WireFormatError(f"{key}: expected a number or a name, got {value!r}")
        return _ENUM_NAMES[kind].get(name.lower(), name)
    return to_int(value, key)


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


def enum_field(kind: type[_E], payload: Mapping[str, Any], key: str) -> _E:
    """An enum, by number or name, whose unknown values mean nothing: they are malformed."""
    value = _enum_value(kind, payload, key)
    try:
        if isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError as exc:
        raise WireFormatError(f"{key}: {value} is not a {kind.__name__}") from exc


#: Told of each enum value outside the known set that was read conservatively: (field, value
#: as written, a number or a name)
OnUnknown = Callable[[str, int | str], None]

#: Told of each element of a list that was skipped as unreadable: (element, error)
OnMalformedElement = Callable[[object, Exception], None]


class UnknownValues:
    """Enum values outside the known set, counted by ``field=value`` (``order.type=8``) and each
    logged once per value: the gateway may send a new value on every update of every order,
    and one warning says all there is to say, while the count shows how often it happens."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, name: str, value: int | str, reading: str) -> bool:
        """Count one occurrence; True (and logged) the first time this value is seen."""
        key = f"{name}={value}"
        with self._lock:
            first = key not in self.counts
            self.counts[key] += 1
        if first:
            log.warning("unknown %s %s, read as %s (logged once per value)", name, value, reading)
        return first

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts, safe to read from another thread."""
        with self._lock:
            return dict(self.counts)


#: the tally of the conversions no caller asked to count (a REST search without a Converter)
UNKNOWN_VALUES = UnknownValues()

#: how each tolerated unknown value is read (the conservative meaning: see the docstring of
#: :mod:`simple_risk.adapters.topstepx.converters`)
READINGS = {"order.type": "unknown type (non-protective)", "order.status": "working"}


def lenient_enum_field(
    kind: type[_E], payload: Mapping[str, Any], key: str, default: _E, on_unknown: OnUnknown
) -> _E:
    """An enum whose unknown values still mean something: ``default`` (see the docstring of
    :mod:`simple_risk.adapters.topstepx.converters`), reported to ``on_unknown``. A name this
    enum does not know is unknown too; a value that is neither an integer nor a name (a
    boolean, a fraction, an object) is still malformed."""
    value = _enum_value(kind, payload, key)
    try:
        if isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        on_unknown(f"order.{key}", value)
        return default


def note_unknown(name: str, value: int | str) -> None:
    """Tally an unknown value in :data:`UNKNOWN_VALUES` (no caller asked to count it)."""
    UNKNOWN_VALUES.note(name, value, READINGS.get(name, "a default"))


#: what a malformed element raises (a payload can fail in more ways than WireFormatError)
MALFORMED = (WireFormatError, ValueError, TypeError, ArithmeticError)


def convert_each(
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
        except MALFORMED as error:
            on_malformed(item, error)


def non_negative(number: int, key: str) -> int:
    """A size or volume: never negative."""
    if number < 0:
        raise WireFormatError(f"{key}: negative value {number}")
    return number


def list_field(body: object, key: str) -> Sequence[object]:
    """A list of records in a REST response body; absent or null is an empty list."""
    data = as_mapping(body, "response")
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireFormatError(f"{key}: expected a list")
    return value


__all__ = [
    "MALFORMED",
    "READINGS",
    "UNKNOWN_VALUES",
    "OnMalformedElement",
    "OnUnknown",
    "UnknownValues",
    "WireFormatError",
    "as_mapping",
    "bool_field",
    "convert_each",
    "decimal_field",
    "descriptive_field",
    "enum_field",
    "int_field",
    "lenient_enum_field",
    "list_field",
    "non_negative",
    "note_unknown",
    "opt_decimal_field",
    "opt_int_field",
    "opt_link_field",
    "opt_str_field",
    "parse_timestamp",
    "str_field",
    "to_decimal",
    "to_int",
    "to_str",
]
