"""Lockouts: a set per account of account- or symbol-scoped locks, each with its own end.

The engine adds a :class:`Lock` when a rule's ``lockout`` action fires, expires locks by
engine time, and asks the set on every order and position event whether exposure may grow.

- Ends: ``for:`` a duration, ``until: trading_day_end``, ``until: {session_start: NAME}``, an
  absolute time, or ``while: EXPR`` (no fixed end; the engine re-evaluates the expression with
  ``lock.*`` bound and drops the lock when it turns false).
- A lock is identified by (rule, scope, symbol). Adding one that already exists keeps the later
  end, so a shorter lock never shortens a longer one; locks from different rules coexist.
- ``kind`` ``lock``: existing exposure is frozen at its size when the lock starts (the
  ``baseline``, lowered as positions shrink): an order that would add exposure is cancelled,
  a position that grew is reduced back, a new position is closed. ``kind`` ``cooldown``
  (RULE-006/007) only cancels orders that would add exposure and leaves positions alone.
- Orders that only reduce a position at no more than its size, and orders simple-risk placed
  itself (customTag ``sr-``), always pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from simple_risk.engine.model import CompiledExpression

if TYPE_CHECKING:
    from simple_risk.engine.facts.orders import Order
    from simple_risk.engine.facts.positions import Position

LOCK_KINDS: tuple[str, ...] = ("lock", "cooldown")


@dataclass(slots=True)
class Lock:
    """One active lockout of one account."""

    account: int
    scope: str  # "account" | "symbol"
    symbol: str | None
    rule: str
    reason: str
    kind: str  # "lock" | "cooldown"
    set_at: datetime
    ends_at: datetime | None  # None: a while-lock, ends when its expression turns false
    action_index: int = -1  # the rule's then: entry that set it (finds its while: again)
    while_expr: CompiledExpression | None = None
    #: contract id → (long, size) at lock time; only ever lowered
    baseline: dict[str, tuple[bool, int]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.scope, self.symbol or "")

    def covers(self, root: str) -> bool:
        return self.scope == "account" or self.symbol == root

    def ends_later_than(self, other: Lock) -> bool:
        if self.ends_at is None:
            return other.ends_at is not None or self.while_expr is not None
        return other.ends_at is not None and self.ends_at > other.ends_at


class LockFacts:
    """The ``lock`` family, bound inside a lockout's ``while:`` expression."""

    __slots__ = ("reason", "rule", "scope", "symbol")

    def __init__(self, lock: Lock) -> None:
        self.scope = lock.scope
        self.symbol = lock.symbol
        self.rule = lock.rule
        self.reason = lock.reason


class LockSet:
    """The active locks of one account, by (rule, scope, symbol)."""

    __slots__ = ("account", "locks")

    def __init__(self, account: int) -> None:
        self.account = account
        self.locks: dict[tuple[str, str, str], Lock] = {}

    def __bool__(self) -> bool:
        return bool(self.locks)

    def add(self, lock: Lock) -> Lock:
        """Add a lock; an existing one with the same identity only ever gets a later end."""
        existing = self.locks.get(lock.key)
        if existing is None:
            self.locks[lock.key] = lock
            return lock
        if lock.ends_later_than(existing):
            existing.ends_at = lock.ends_at
            existing.while_expr = lock.while_expr
            existing.action_index = lock.action_index
            existing.reason = lock.reason
        if lock.kind == "lock":
            existing.kind = "lock"
            for contract_id, held in lock.baseline.items():
                existing.baseline.setdefault(contract_id, held)
        return existing

    def expire(self, now: datetime) -> list[Lock]:
        ended = [
            lock for lock in self.locks.values() if lock.ends_at is not None and lock.ends_at <= now
        ]
        for lock in ended:
            del self.locks[lock.key]
        return ended

    def remove(self, lock: Lock) -> None:
        self.locks.pop(lock.key, None)

    def covers(self, root: str) -> bool:
        return any(lock.covers(root) for lock in self.locks.values())

    @property
    def account_locked(self) -> bool:
        return any(lock.scope == "account" for lock in self.locks.values())

    def blocking(self, root: str) -> list[Lock]:
        return [lock for lock in self.locks.values() if lock.covers(root)]

    def next_end(self) -> datetime | None:
        ends = [lock.ends_at for lock in self.locks.values() if lock.ends_at is not None]
        return min(ends) if ends else None

    def position_changed(self, contract_id: str, long: bool, size: int) -> None:
        """Lower every lock's baseline for a contract whose position shrank or closed."""
        for lock in self.locks.values():
            held = lock.baseline.get(contract_id)
            if held is None:
                continue
            if size <= 0 or held[0] != long:
                if size <= 0:
                    del lock.baseline[contract_id]
            elif size < held[1]:
                lock.baseline[contract_id] = (long, size)

    # -- verdicts ---------------------------------------------------------------------------

    def order_must_be_cancelled(self, order: Order) -> Lock | None:
        """The lock that forbids this working order (it would add exposure), if any."""
        if not order.is_working or order.own or not self.locks:
            return None
        blocking = self.blocking(order.symbol)
        if not blocking or order.reduces_only:
            return None
        return blocking[0]

    def position_limit(self, position: Position) -> tuple[Lock, int] | None:
        """(lock, allowed size) when a ``lock``-kind lock caps this position below its size."""
        if not self.locks:
            return None
        decisive: tuple[Lock, int] | None = None
        for lock in self.locks.values():
            if lock.kind != "lock" or not lock.covers(position.symbol):
                continue
            held = lock.baseline.get(position.contract_id)
            allowed = held[1] if held is not None and held[0] == position.long else 0
            if decisive is None or allowed < decisive[1]:
                decisive = (lock, allowed)
        if decisive is None or position.size <= decisive[1]:
            return None
        return decisive


__all__ = ["LOCK_KINDS", "Lock", "LockFacts", "LockSet"]
