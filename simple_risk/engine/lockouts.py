"""Lockouts: a set per account of account- or symbol-scoped locks, each with its own end.

The engine adds a :class:`Lock` when a rule's ``lockout`` action fires, expires locks by
engine time, and asks the set on every order and position event whether exposure may grow.

- Ends: ``for:`` a duration, ``until: trading_day_end``, ``until: {session_start: NAME}``, an
  absolute time, or ``while: EXPR`` (no fixed end; the engine re-evaluates the expression with
  ``lock.*`` bound and drops the lock when it turns false).
- A lock is identified by (rule, scope, symbol). Adding one that already exists keeps the later
  end, so a shorter lock never shortens a longer one; locks from different rules coexist.
- Both kinds record the exposure in their scope when they start (the ``baseline``, lowered
  as positions shrink, never raised): an order that would add exposure is cancelled, and
  exposure that appears anyway — a market order that filled before its cancel landed, a flip
  by an order larger than the position — is brought back to the baseline: a position that grew
  is reduced back, a new or reversed one is closed. ``kind`` ``lock`` comes with the rule's
  own enforcement (a flatten, a close); ``kind`` ``cooldown`` (RULE-006/007) leaves the
  exposure it started with alone and only stops new exposure. The baseline is part of the
  lock, so a snapshot keeps it and a restart mid-cooldown enforces the same limit. A cooldown
  set by a fill, or by an order whose fills beat its cancel, counts what they added as part
  of its start (``opening_fill``, ``opening_order``: the gateway sends a trade before its
  position); a lock does not (its rule's flatten or close already wants that exposure gone).
  The daemon never re-opens exposure: a reversed position is closed, not turned back
  (docs/protection.md).
- Orders that only reduce a position at no more than its size, orders simple-risk placed
  itself (customTag ``sr-``) and the children of a bracket family (they only ever close what
  their entry opened) always pass — but not an open leg, nor a stop of simple-risk's, left
  behind with nothing to close (the trader closed the position by hand): it would open one,
  and is cancelled. A trader's
  protective stop larger than the position is resized to what the position still needs,
  never cancelled: a lock must not leave a legal position unprotected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from simple_risk.engine.events import OrderStatus, OrderType
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
    #: contract id → (long, size) when the lockout began; lowered as positions shrink, raised
    #: only once, by the ``opening_fill``
    baseline: dict[str, tuple[bool, int]] = field(default_factory=dict)
    #: the fill that set the lockout (contract id, buy, size) while its position event has
    #: not come yet: the gateway sends a fill's trade before its position, and exposure the
    #: fill opened is part of what the lockout began with, not new (see position_changed)
    opening_fill: tuple[str, bool, int] | None = None
    #: the order whose event set the lockout (an order rule's cancel): its fills may beat the
    #: cancel, and what they add is part of what the lockout began with too
    opening_order: int | None = None
    #: the ``while:`` condition held and reads nothing that can change (only ``lock.*``,
    #: params and lists): the engine need not evaluate it again until the lock changes
    settled: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.scope, self.symbol or "")

    def covers(self, root: str) -> bool:
        return self.scope == "account" or self.symbol == root

    def ends_later_than(self, other: Lock) -> bool:
        if self.ends_at is None:
            return other.ends_at is not None or self.while_expr is not None
        return other.ends_at is not None and self.ends_at > other.ends_at


class LockVerdict(NamedTuple):
    """What a lock does to one working order: cancel it, or resize it to ``resize_to``.

    ``total`` is the total of the contract's reducing orders on the order's side of the market
    when that is why (None for an order that would open, grow or reverse the position).
    """

    lock: Lock
    total: int | None
    resize_to: int | None = None


class LockFacts:
    """The ``lock`` family, bound inside a lockout's ``while:`` expression."""

    __slots__ = ("product", "reason", "rule", "scope", "symbol")

    def __init__(self, lock: Lock, product: str | None = None) -> None:
        self.scope = lock.scope
        self.symbol = lock.symbol
        self.product = product
        self.rule = lock.rule
        self.reason = lock.reason


class LockSet:
    """The active locks of one account, by (rule, scope, symbol).

    ``whiles`` lists the ``while:`` locks (no fixed end) whose condition the engine must
    re-evaluate after every event of the account, in insertion order — not those ``settled``
    (a condition that held and reads only constants); it is kept up to date on every change
    instead of being searched for on every event.
    """

    __slots__ = ("account", "locks", "whiles")

    def __init__(self, account: int) -> None:
        self.account = account
        self.locks: dict[tuple[str, str, str], Lock] = {}
        self.whiles: tuple[Lock, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.locks)

    def _changed(self) -> None:
        self.whiles = tuple(
            lock
            for lock in self.locks.values()
            if lock.while_expr is not None and lock.ends_at is None and not lock.settled
        )

    def settle(self, lock: Lock) -> None:
        """The lock's ``while:`` held and can never change: stop re-evaluating it."""
        lock.settled = True
        self._changed()

    def add(self, lock: Lock) -> Lock:
        """Add a lock; an existing one with the same identity only ever gets a later end."""
        existing = self.locks.get(lock.key)
        if existing is None:
            self.locks[lock.key] = lock
            self._changed()
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
        # a cooldown set again keeps the baseline of its start: what appeared since is new
        existing.settled = False
        self._changed()
        return existing

    def restore(self, lock: Lock) -> None:
        """Put back a lock exactly as a snapshot holds it (no merging)."""
        self.locks[lock.key] = lock
        self._changed()

    def expire(self, now: datetime) -> list[Lock]:
        ended = [
            lock for lock in self.locks.values() if lock.ends_at is not None and lock.ends_at <= now
        ]
        for lock in ended:
            del self.locks[lock.key]
        if ended:
            self._changed()
        return ended

    def remove(self, lock: Lock) -> None:
        if self.locks.pop(lock.key, None) is not None:
            self._changed()

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

    def fill_seen(self, order_id: int, contract_id: str, buy: bool, size: int) -> None:
        """A fill of the order that set a lockout: add it to what that lockout began with,
        to be taken into its baseline at the contract's next position event."""
        for lock in self.locks.values():
            if lock.opening_order != order_id:
                continue
            pending = lock.opening_fill
            if pending is not None and pending[0] == contract_id and pending[1] == buy:
                lock.opening_fill = (contract_id, buy, pending[2] + size)
            else:
                lock.opening_fill = (contract_id, buy, size)

    def position_changed(self, contract_id: str, long: bool, size: int) -> None:
        """Lower every lock's baseline for a contract whose position shrank or closed.

        The first position event of the contract of a lockout's opening fill makes room in
        the baseline for what that fill added (no more than the position now holds): the
        exposure the fill made is what the lockout began with. Only once, and only ever
        raising the baseline: later growth is new exposure, and a position event that came
        before its trade (the baseline already holds the fill) allows at most that one fill.
        """
        for lock in self.locks.values():
            fill = lock.opening_fill
            if fill is not None and fill[0] == contract_id:
                lock.opening_fill = None
                before = lock.baseline.get(contract_id)
                after = _after_fill(before, fill[1], fill[2])
                adds = after is not None and (
                    before is None or after[0] != before[0] or after[1] > before[1]
                )
                if after is not None and adds and size > 0 and after[0] == long:
                    lock.baseline[contract_id] = (long, min(size, after[1]))
            held = lock.baseline.get(contract_id)
            if held is None:
                continue
            if size <= 0 or held[0] != long:
                if size <= 0:
                    del lock.baseline[contract_id]
            elif size < held[1]:
                lock.baseline[contract_id] = (long, size)

    # -- verdicts ---------------------------------------------------------------------------

    def blocking_lock(self, root: str) -> Lock | None:
        """The first lock (in the order they were set) that covers ``root``, if any."""
        for lock in self.locks.values():
            if lock.scope == "account" or lock.symbol == root:
                return lock
        return None

    def order_must_be_cancelled(self, order: Order) -> Lock | None:
        """The lock that forbids this working order on its own (it would add exposure even
        if it were the contract's only order), if any; see :meth:`orders_to_cancel` for the
        check that also counts the contract's other reducing orders."""
        if not order.is_working or order.own or order.is_child or not self.locks:
            return None
        lock = self.blocking_lock(order.symbol)
        if lock is None or order.reduces_only:
            return None
        return lock

    def orders_to_cancel(
        self, orders: Iterable[Order], position: Position | None
    ) -> dict[int, LockVerdict]:
        """Of one contract's working orders, those a lock cancels or resizes: order id → its
        :class:`LockVerdict`.

        Orders that only reduce the position pass, but only *together* at no more than its
        size: two sells of 2 against a long 3 would leave a short 1 if both filled. The budget
        is kept per side of the market: a take-profit (a limit) fills when the price moves one
        way, a protective stop when it moves the other, so they cannot fill together — the
        first to fill flattens the position and the other then adds exposure on its own, which
        the position event cancels. So a bracket (a full-size stop and a full-size take-profit)
        survives a cooldown, while two stops (or two limits) of 2 against a long 3 do not.
        Market and join orders fill on either move and count against both sides. Within a
        side the reducing orders are honoured in order of precedence — simple-risk's own
        orders and bracket children first (never cancelled), then protective stops, then the
        others, each group oldest first (``created_at``; unknown counts as newest, then by id).
        One that would take the side's total beyond the position's size is cancelled — except
        a protective stop while the side still has room: it is resized to the room left, so
        the position stays covered (a stop of 4 on a long reduced to 3 becomes a stop of 3).
        Bracket children are never cancelled, with or without a position (they go with their
        entry); an open one larger than the room its side has left is resized to it.
        ``orders`` must leave out orders already being cancelled.
        """
        if not self.locks:
            return {}
        working = [order for order in orders if order.is_working]
        if not working:
            return {}
        lock = self.blocking_lock(working[0].symbol)  # one contract: one root
        if lock is None:
            return {}
        held = position.size if position is not None else 0
        verdicts: dict[int, LockVerdict] = {}
        reducing: list[Order] = []
        for order in working:
            closing = position is not None and held > 0 and position.long != order.buy
            if closing and (_kept(order) or order.is_stop or order.remaining <= held):
                reducing.append(order)
            elif not _kept(order) or _left_behind(order):
                verdicts[order.id] = LockVerdict(lock, None)
        totals = {
            side: sum(o.remaining for o in reducing if side in _market_sides(o)) for side in _SIDES
        }
        if all(total <= held for total in totals.values()):
            return verdicts
        reducing.sort(key=_age)
        reducing.sort(key=lambda order: (not _kept(order), not order.is_stop))  # stable
        kept = dict.fromkeys(_SIDES, 0)
        for order in reducing:
            sides = _market_sides(order)
            room = min(held - kept[side] for side in sides)
            if order.remaining <= room or order.own:
                size = order.remaining
            elif order.is_child:
                # never cancelled; one larger than what its position still needs is resized
                # (not while suspended: it cannot be modified and closes nothing yet)
                size = order.remaining
                if room > 0 and order.update.status is not OrderStatus.SUSPENDED:
                    size = room
                    verdicts[order.id] = LockVerdict(lock, max(totals[s] for s in sides), room)
            elif order.is_stop and room > 0:
                size = room
                verdicts[order.id] = LockVerdict(lock, totals["stop"], room)
            else:
                verdicts[order.id] = LockVerdict(lock, max(totals[side] for side in sides))
                continue
            for side in sides:
                kept[side] += size
        return verdicts

    def position_limit(self, position: Position) -> tuple[Lock, int] | None:
        """(lock, allowed size) when a lockout (lock or cooldown) caps this position below its
        size: the size of its baseline on the same side, else 0 (new or reversed exposure)."""
        if not self.locks:
            return None
        decisive: tuple[Lock, int] | None = None
        for lock in self.locks.values():
            if not lock.covers(position.symbol):
                continue
            held = lock.baseline.get(position.contract_id)
            allowed = held[1] if held is not None and held[0] == position.long else 0
            if decisive is None or allowed < decisive[1]:
                decisive = (lock, allowed)
        if decisive is None or position.size <= decisive[1]:
            return None
        return decisive


def _after_fill(held: tuple[bool, int] | None, buy: bool, size: int) -> tuple[bool, int] | None:
    """The position (long, size) a fill of ``size`` on side ``buy`` leaves from ``held``."""
    if held is None or held[1] <= 0:
        return (buy, size)
    long, before = held
    if long == buy:
        return (long, before + size)
    if before > size:
        return (long, before - size)
    if before < size:
        return (buy, size - before)
    return None


#: the two ways the price can move for a closing order to fill: through a stop (against the
#: position) or through a limit (in its favour)
_SIDES = ("stop", "limit")


def _kept(order: Order) -> bool:
    """Orders no lock cancels: simple-risk's own, and bracket children."""
    return order.own or order.is_child


def _left_behind(order: Order) -> bool:
    """A kept order with nothing to close (the caller found no position on the side it
    closes): an open bracket leg — its entry filled (a leg leaves status 8 only then) but the
    position it was to close is gone, closed by another order or reversed — or a stop of
    simple-risk's own (it only ever places stops to protect a position) whose position the
    trader closed by hand. Either would open a position."""
    if order.own:
        return order.is_stop
    return order.is_child and order.update.status is not OrderStatus.SUSPENDED


def _market_sides(order: Order) -> tuple[str, ...]:
    """Which price moves fill this closing order: a stop type fills against the position, a
    limit in its favour, a market or join order on either."""
    if order.is_stop:
        return ("stop",)
    if order.update.type == OrderType.LIMIT:
        return ("limit",)
    return _SIDES


def _age(order: Order) -> tuple[bool, datetime | None, int]:
    """Sort key, oldest first: creation time (unknown last), then order id."""
    created = order.update.created_at
    return (created is None, created, order.id)


__all__ = ["LOCK_KINDS", "Lock", "LockFacts", "LockSet", "LockVerdict"]
