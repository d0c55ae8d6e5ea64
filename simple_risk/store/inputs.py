"""Checking the plain mappings the daemon hands the store, before anything is written.

The store stays independent of the engine's classes: firings, lockouts and intents come in as
plain mappings with the keys below. A missing or misspelt key, a naive timestamp or a value
that cannot be kept as JSON is a :class:`StoreError` naming the key, raised before the
transaction starts, so a bad firing is refused whole and never stored in part.

Firing mapping::

    {"rule": "daily-realized-loss", "account": 123, "at": <aware datetime>,
     "severity": "critical", "message": "Daily realized P&L -512.40 reached ...",
     "item": None | "CON.F.US.MNQ.Z26",        # optional: the item of an `each:` rule
     "values": {"day.realized_pnl": Decimal("-512.40"), ...},   # optional: decisive values
     "journal_seq": 42}                        # optional: the journaled event that fired it

Lockout mapping (account and rule default to the firing's)::

    {"scope": "account" | "symbol", "symbol": "MNQ" (symbol scope only), "reason": "...",
     "start": <aware datetime>, "end": <aware datetime>  — or —  "while": "not account.can_trade",
     "bindings": {"lock.symbol": "RTY"}}        # optional: names a `while:` lock sees

Intent mapping: ``{"key": <stable key>, "kind": "flatten", ...target fields}``; the whole
mapping is kept as the intent's body, and the firing's list of intents keeps their order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from simple_risk.engine.codec import CodecError, jsonable
from simple_risk.store.records import StoreError

_FIRING_REQUIRED = {"rule", "account", "at", "severity", "message"}
_FIRING_OPTIONAL = {"item", "values", "journal_seq"}
_LOCKOUT_REQUIRED = {"scope", "reason", "start"}
_LOCKOUT_OPTIONAL = {"account", "rule", "symbol", "end", "while", "bindings"}


@dataclass(frozen=True, slots=True)
class LockoutInput:
    account: int
    scope: Literal["account", "symbol"]
    symbol: str | None
    rule: str
    reason: str
    start: datetime
    end: datetime | None
    while_expr: str | None
    bindings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IntentInput:
    key: str
    account: int
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FiringInput:
    rule: str
    account: int
    item: str | None
    at: datetime
    severity: str
    message: str
    values: dict[str, Any]
    journal_seq: int | None
    lockouts: tuple[LockoutInput, ...]
    intents: tuple[IntentInput, ...]


def firing_input(
    firing: Mapping[str, Any],
    lockouts: Sequence[Mapping[str, Any]],
    intents: Sequence[Mapping[str, Any]],
) -> FiringInput:
    """Check a firing with its lockouts and intents; see the module docstring for the keys."""
    check_keys(firing, _FIRING_REQUIRED, _FIRING_OPTIONAL, "firing")
    rule = require_str(firing, "rule", "firing")
    account = require_int(firing["account"], "firing account")
    item = firing.get("item")
    if item is not None and not isinstance(item, str):
        raise StoreError(f"firing item must be a string or None, got {item!r}")
    journal_seq = firing.get("journal_seq")
    if journal_seq is not None:
        require_int(journal_seq, "firing journal_seq")
    message = firing["message"]
    if not isinstance(message, str):
        raise StoreError(f"firing message must be a string, got {message!r}")
    checked_intents = tuple(_intent_input(body, i, account) for i, body in enumerate(intents))
    keys = [intent.key for intent in checked_intents]
    if len(set(keys)) != len(keys):
        raise StoreError(f"firing of {rule}: intent keys repeat ({', '.join(keys)})")
    return FiringInput(
        rule=rule,
        account=account,
        item=item,
        at=require_aware(firing["at"], "firing at"),
        severity=require_str(firing, "severity", "firing"),
        message=message,
        values=json_object(firing.get("values", {}), "firing values"),
        journal_seq=journal_seq,
        lockouts=tuple(_lockout_input(lock, i, account, rule) for i, lock in enumerate(lockouts)),
        intents=checked_intents,
    )


def json_object(value: object, what: str) -> dict[str, Any]:
    """A mapping turned into a JSON object (Decimals as strings...), or a StoreError."""
    if not isinstance(value, Mapping):
        raise StoreError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        encoded = jsonable(value, what)
    except CodecError as exc:
        raise StoreError(str(exc)) from exc
    assert isinstance(encoded, dict)
    return encoded


def require_aware(value: object, what: str) -> datetime:
    """An aware datetime, or a StoreError naming ``what``."""
    if not isinstance(value, datetime):
        raise StoreError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{what} must be timezone-aware, got {value.isoformat()}")
    return value


def require_int(value: object, what: str) -> int:
    """An int that is not a bool, or a StoreError naming ``what``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{what} must be an integer, got {value!r}")
    return value


def require_str(mapping: Mapping[str, Any], key: str, what: str) -> str:
    """``mapping[key]`` as a non-empty string, or a StoreError."""
    value = mapping[key]
    if not isinstance(value, str) or not value:
        raise StoreError(f"{what}: {key} must be a non-empty string, got {value!r}")
    return value


def check_keys(
    mapping: Mapping[str, Any], required: set[str], optional: set[str], what: str
) -> None:
    """Refuse missing and unknown keys, so a misspelt key never silently drops a fact."""
    missing = sorted(required - set(mapping))
    if missing:
        raise StoreError(f"{what} is missing {', '.join(missing)}")
    unknown = sorted(set(mapping) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise StoreError(f"{what} has unknown keys {', '.join(unknown)} (allowed: {allowed})")


def _lockout_input(lock: Mapping[str, Any], index: int, account: int, rule: str) -> LockoutInput:
    what = f"lockout {index}"
    check_keys(lock, _LOCKOUT_REQUIRED, _LOCKOUT_OPTIONAL, what)
    lock_account = require_int(lock.get("account", account), f"{what} account")
    scope = lock["scope"]
    if scope not in ("account", "symbol"):
        raise StoreError(f"{what}: scope must be account or symbol, got {scope!r}")
    symbol = lock.get("symbol")
    if scope == "symbol" and (not isinstance(symbol, str) or not symbol):
        raise StoreError(f"{what}: a symbol lockout needs its symbol")
    if scope == "account" and symbol is not None:
        raise StoreError(f"{what}: an account lockout has no symbol (got {symbol!r})")
    start = require_aware(lock["start"], f"{what} start")
    end = lock.get("end")
    while_expr = lock.get("while")
    if (end is None) == (while_expr is None):
        raise StoreError(f"{what}: give exactly one of end (a time) or while (an expression)")
    if end is not None:
        end = require_aware(end, f"{what} end")
        if end <= start:
            raise StoreError(f"{what}: end {end.isoformat()} is not after start")
    if while_expr is not None and (not isinstance(while_expr, str) or not while_expr):
        raise StoreError(f"{what}: while must be an expression string")
    reason = lock["reason"]
    if not isinstance(reason, str):
        raise StoreError(f"{what}: reason must be a string")
    lock_rule = lock.get("rule", rule)
    if not isinstance(lock_rule, str) or not lock_rule:
        raise StoreError(f"{what}: rule must be a non-empty string")
    return LockoutInput(
        account=lock_account,
        scope=scope,
        symbol=symbol,
        rule=lock_rule,
        reason=reason,
        start=start,
        end=end,
        while_expr=while_expr,
        bindings=json_object(lock.get("bindings", {}), f"{what} bindings"),
    )


def _intent_input(body: Mapping[str, Any], index: int, account: int) -> IntentInput:
    what = f"intent {index}"
    if "key" not in body or "kind" not in body:
        raise StoreError(f"{what} needs a stable key and a kind")
    return IntentInput(
        key=require_str(body, "key", what),
        account=require_int(body.get("account", account), f"{what} account"),
        kind=require_str(body, "kind", what),
        body=json_object(body, what),
    )


__all__ = [
    "FiringInput",
    "IntentInput",
    "LockoutInput",
    "check_keys",
    "firing_input",
    "json_object",
    "require_aware",
    "require_int",
    "require_str",
]
