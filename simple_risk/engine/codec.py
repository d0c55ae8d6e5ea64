"""JSON forms of domain events: the one encoding of the journal and of engine snapshots.

A restart replays the journal and restores the engine's snapshot, so the encoding must give
back exactly the event that was written: the store calls :func:`event_to_json` on append and
:func:`event_from_json` on read, and :mod:`simple_risk.engine.snapshot` does the same for the
events a snapshot keeps. It is pure (JSON values in and out, no I/O), so it lives in the engine.

Money and prices are ``Decimal`` and stay exact as strings (``"-100.10"`` keeps its trailing
zero); timestamps are ISO 8601 with their UTC offset (an event stamped in UTC comes
back in UTC; a zone *name* is not kept, only the instant and its offset); enums are their wire
values; ids are JSON integers (Python's ``json`` keeps integers beyond 2^53 exact).

The encoding is driven by each dataclass's declared field types, so a new event type or field
is journaled without touching this module — and a payload that does not fit its declared type
(a journal written by a newer program, a hand-edited row) is refused with :class:`CodecError`
rather than replayed as something else.

:func:`jsonable` is the looser helper for audit records (a firing's decisive values, intents):
it turns ``Decimal``/datetime/enum values into strings or numbers so they can be shown later,
without promising to give back the original types.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from simple_risk.engine import events

#: Every event class the journal can hold, by the name stored in the journal's ``kind`` column.
EVENT_TYPES: dict[str, type[events.Event]] = {
    cls.__name__: cls for cls in typing.get_args(events.DomainEvent)
}

#: JSON value as the store writes it (what ``json.dumps`` accepts without help).
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class CodecError(ValueError):
    """A value cannot be encoded, or a stored payload does not decode to its declared type."""


def event_to_json(event: events.Event) -> dict[str, JsonValue]:
    """Encode a domain event as a JSON object: ``{"kind": <class name>, <field>: <value>...}``."""
    kind = type(event).__name__
    if EVENT_TYPES.get(kind) is not type(event):
        raise CodecError(f"{kind} is not a journaled domain event type")
    out: dict[str, JsonValue] = {"kind": kind}
    out.update(_encode_dataclass(event, kind))
    return out


def event_from_json(payload: Mapping[str, Any]) -> events.Event:
    """Decode what :func:`event_to_json` wrote; refuse unknown kinds, fields or types."""
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise CodecError(f"unknown event kind {kind!r}")
    fields = {k: v for k, v in payload.items() if k != "kind"}
    decoded = _decode_dataclass(EVENT_TYPES[kind], fields, kind)
    assert isinstance(decoded, events.Event)
    return decoded


def contract_to_json(contract: events.ContractInfo) -> dict[str, JsonValue]:
    """Encode contract metadata for the contract cache."""
    return _encode_dataclass(contract, "ContractInfo")


def contract_from_json(payload: Mapping[str, Any]) -> events.ContractInfo:
    """Decode contract metadata written by :func:`contract_to_json`."""
    decoded = _decode_dataclass(events.ContractInfo, dict(payload), "ContractInfo")
    assert isinstance(decoded, events.ContractInfo)
    return decoded


def jsonable(value: object, path: str = "$") -> JsonValue:
    """Turn an audit value into plain JSON: Decimal → string, datetime → ISO, enum → value.

    Used for records that are read by people and by ``engine history`` (decisive values,
    intent bodies, admin arguments), never replayed into the engine. Anything else that is not
    JSON already is refused with its path, so a firing is never stored half-described.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value, path)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return encode_datetime(value, path)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"{path}: object keys must be strings, got {key!r}")
            out[key] = jsonable(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [jsonable(item, f"{path}[]") for item in value]
        return sorted(items, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(value)
        }
    raise CodecError(f"{path}: {type(value).__name__} cannot be stored as JSON")


def strict_json(value: object, path: str = "$") -> JsonValue:
    """Check that ``value`` is already plain JSON (for engine snapshots, which are restored).

    A snapshot that held a ``Decimal`` would come back as a string and silently change type on
    restore; refusing it at save time names the offending path instead.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CodecError(f"{path}: {value} is not valid JSON")
        return value
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"{path}: object keys must be strings, got {key!r}")
            out[key] = strict_json(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [strict_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CodecError(
        f"{path}: {type(value).__name__} is not plain JSON (encode it before snapshotting)"
    )


def encode_datetime(value: datetime, path: str = "$") -> str:
    """ISO 8601 with the UTC offset; naive datetimes are refused (their instant is unknown)."""
    offset = value.utcoffset()
    if offset is None:
        raise CodecError(f"{path}: datetime {value.isoformat()} has no timezone")
    if offset.microseconds:
        # Python writes such an offset but reads it back as whole seconds: refuse, not drift.
        raise CodecError(f"{path}: UTC offset {offset} has a fraction of a second")
    return value.isoformat()


def decode_datetime(value: object, path: str = "$") -> datetime:
    """Read an ISO 8601 timestamp written by :func:`encode_datetime`; it must carry an offset."""
    if not isinstance(value, str):
        raise CodecError(f"{path}: expected an ISO timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CodecError(f"{path}: {value!r} is not an ISO timestamp") from exc
    if parsed.tzinfo is None:
        raise CodecError(f"{path}: timestamp {value!r} has no UTC offset")
    return parsed


@cache
def _field_types(cls: type) -> dict[str, Any]:
    # Field annotations are strings (``from __future__ import annotations``); resolve them once.
    return typing.get_type_hints(cls)


def _encode_dataclass(obj: object, where: str) -> dict[str, JsonValue]:
    cls: type = type(obj)
    hints = _field_types(cls)
    return {
        f.name: _encode(getattr(obj, f.name), hints[f.name], f"{where}.{f.name}")
        for f in dataclasses.fields(obj)  # type: ignore[arg-type]
    }


def _decode_dataclass(cls: type, payload: dict[str, Any], where: str) -> object:
    hints = _field_types(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(payload) - set(known))
    if unknown:
        raise CodecError(f"{where}: unknown fields {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, field in known.items():
        if name not in payload:
            has_default = (
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise CodecError(f"{where}: missing field {name}")
        kwargs[name] = _decode(payload[name], hints[name], f"{where}.{name}")
    return cls(**kwargs)


def _optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None``; None when ``tp`` is not optional."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
        raise CodecError(f"unsupported union type {tp!r}")
    return None


def _encode(value: object, tp: Any, path: str) -> JsonValue:
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else _encode(value, inner, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and isinstance(value, tp):
        return _encode(value.value, type(value.value), path)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if tp is str and isinstance(value, str):
        return value
    if tp is Decimal and isinstance(value, Decimal):
        return str(value)
    if tp is datetime and isinstance(value, datetime):
        return encode_datetime(value, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, tp):
        return dict(_encode_dataclass(value, path))
    raise CodecError(f"{path}: {value!r} does not match its declared type {tp!r}")


def _decode(value: object, tp: Any, path: str) -> object:
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else _decode(value, inner, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, bool):
            raise CodecError(f"{path}: {value!r} is not a {tp.__name__}")
        try:
            return tp(value)
        except ValueError as exc:
            raise CodecError(f"{path}: {value!r} is not a {tp.__name__}") from exc
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    if tp is Decimal and isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise CodecError(f"{path}: {value!r} is not a decimal number") from exc
    if tp is datetime:
        return decode_datetime(value, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _decode_dataclass(tp, value, path)
    raise CodecError(f"{path}: {value!r} does not match its declared type {tp!r}")


__all__ = [
    "EVENT_TYPES",
    "CodecError",
    "JsonValue",
    "contract_from_json",
    "contract_to_json",
    "decode_datetime",
    "encode_datetime",
    "event_from_json",
    "event_to_json",
    "jsonable",
    "strict_json",
]
