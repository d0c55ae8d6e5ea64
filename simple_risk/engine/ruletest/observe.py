"""What a rule test can see of the engine: its firings, its intents, its active lockouts.

The runner compares these with a test file's expectations; everything is turned into short,
stable text (``close_position CON.F.US.MNQ.Z26``, ``account until 2026-11-24T17:00:00-06:00 by
daily-realized-loss``) so that a failing case prints expected and got in the same words the
test author wrote.

A firing's name is its rule id; a lockout enforcement (an order refused or a position cut
because a lock is active) is ``lockout:RULE`` after the rule whose lock did it, a rule whose
evaluation raised is ``error:RULE``, and a fact the rule needed that stayed unknown too long is
``unknown:RULE`` (only with ``unknown_after:``) — so a test can expect those too, and coverage
counts only real rule firings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    StopAt,
)
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset
from simple_risk.engine.ruletest.testfile import LockExpectation

_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")


@dataclass(frozen=True, slots=True)
class ObservedFiring:
    rule: str
    rule_id: str
    kind: str
    account: int
    item: str
    at: datetime
    intents: tuple[Intent, ...]


@dataclass(frozen=True, slots=True)
class ObservedLock:
    scope: str
    symbol: str | None
    rule: str
    kind: str
    ends_at: datetime | None

    def matches(self, want: LockExpectation) -> bool:
        if want.scope is not None and want.scope != self.scope:
            return False
        if want.symbol is not None and want.symbol != self.symbol:
            return False
        if want.rule is not None and want.rule != self.rule:
            return False
        if want.until is not None and want.until != self.ends_at:
            return False
        return not (want.while_ is not None and want.while_ != (self.ends_at is None))

    def describe(self) -> str:
        parts = [self.scope]
        if self.symbol is not None:
            parts.append(self.symbol)
        parts.append(f"until {self.ends_at.isoformat()}" if self.ends_at else "while …")
        parts.append(f"by {self.rule}")
        if self.kind != "lock":
            parts.append(f"({self.kind})")
        return " ".join(parts)


def firing_name(firing: Firing) -> str:
    if firing.kind == "rule":
        return firing.rule_id
    return f"{firing.kind}:{firing.rule_id}"


def describe_intent(intent: Intent) -> str:
    """The words a test file uses for an intent (the account is the case's, so omitted)."""
    if isinstance(intent, CancelOrder):
        return f"cancel_order {intent.order_id}"
    if isinstance(intent, ResizeOrder):
        return f"resize_order {intent.order_id} {intent.size}"
    if isinstance(intent, NoWorkingOrders):
        parts = ["cancel_orders"]
        if intent.symbol is not None:
            parts.append(intent.symbol)
        if intent.contract_id is not None:
            parts.append(intent.contract_id)
        if intent.side is not None:
            parts.append(intent.side)
        return " ".join(parts)
    if isinstance(intent, PositionClosed):
        return f"close_position {intent.contract_id}"
    if isinstance(intent, ReduceTo):
        target = intent.contract_id or intent.symbol or "account"
        if intent.max_units is not None:
            limit = f"{intent.max_units} units"
        else:
            limit = f"{intent.max_contracts} contracts"
        return f"reduce_to {target} {limit} {intent.order}"
    if isinstance(intent, StopAt):
        loosen = "" if intent.never_loosen else " may_loosen"
        size = "" if intent.size is None else f" size {intent.size}"
        return f"stop_at {intent.contract_id} {intent.price}{size}{loosen}"
    if isinstance(intent, Alert):
        return f"alert {intent.level}"
    raise TypeError(f"unknown intent {intent!r}")


def intent_key(text: str) -> str:
    """An intent's words with every decimal number in its plain shortest form.

    A stop price is whatever its expression gave (``position.avg_price`` of a position opened at
    ``6000`` is ``6000``, one computed with a tick size ``5995.00``); the executor puts it on the
    tick grid. A test author writes the price as a trader does, ``6000.00`` or ``6000``, and
    both mean the same stop, so intents are compared by value, not by how a number is written.
    """
    return " ".join(_plain_number(word) for word in text.split())


def _plain_number(word: str) -> str:
    if not _DECIMAL.fullmatch(word):
        return word
    plain = format(Decimal(word).normalize(), "f")
    return "0" if plain == "-0" else plain


class Observer:
    """An engine plus the record of everything it fired, in order."""

    def __init__(self, ruleset: Ruleset, unknown_alert_after: timedelta | None = None) -> None:
        self.engine = Engine(ruleset, unknown_alert_after=unknown_alert_after)
        self.firings: list[ObservedFiring] = []

    def apply(self, event: Event) -> None:
        for firing in self.engine.apply(event):
            self.firings.append(
                ObservedFiring(
                    rule=firing_name(firing),
                    rule_id=firing.rule_id,
                    kind=firing.kind,
                    account=firing.account,
                    item=firing.item,
                    at=firing.at,
                    intents=firing.intents,
                )
            )

    def next_deadline(self) -> datetime | None:
        return self.engine.next_deadline()

    def pending(self, account: int) -> list[str]:
        """Intents whose target the facts do not show yet, in the test files' words."""
        return [describe_intent(intent) for intent in self.engine.unmet_intents(account)]

    def active_locks(self, account: int, at: datetime) -> list[ObservedLock]:
        """Locks in force at ``at``, their ends shown in the calendar's time zone."""
        tz = self.engine.calendar.tz
        return [_observed(lock, tz) for lock in self.engine.locks(account) if _alive(lock, at)]


def _alive(lock: Lock, at: datetime) -> bool:
    return lock.ends_at is None or lock.ends_at > at


def _observed(lock: Lock, tz: tzinfo) -> ObservedLock:
    ends_at = lock.ends_at.astimezone(tz) if lock.ends_at is not None else None
    return ObservedLock(lock.scope, lock.symbol, lock.rule, lock.kind, ends_at)
