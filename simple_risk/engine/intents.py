"""Intents: the target states a firing asks the executor to reach (docs/architecture.md §3).

An intent says what must be true ("account 7 has no working MNQ orders", "the position in
CON.F.US.EP.Z26 is closed"), never which REST call to make, so replaying it after a crash or
issuing it again during a burst of quotes asks for the same end state. Every intent is frozen
and hashable and has a stable ``key``; the engine keeps unmet intents by key until the facts
show the target met (:func:`is_met`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simple_risk.engine.facts.account import AccountState


@dataclass(frozen=True, slots=True)
class NoWorkingOrders:
    """No working order in the account (optionally only a root, a contract or a side)."""

    account: int
    symbol: str | None = None
    side: str | None = None  # "buy" | "sell"
    contract_id: str | None = None

    @property
    def key(self) -> str:
        scope = f"{self.symbol or '*'}:{self.side or '*'}:{self.contract_id or '*'}"
        return f"no-working-orders:{self.account}:{scope}"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """One order is no longer working."""

    account: int
    order_id: int

    @property
    def key(self) -> str:
        return CancelOrder.key_for(self.account, self.order_id)

    @staticmethod
    def key_for(account: int, order_id: int) -> str:
        """The key of ``CancelOrder(account, order_id)`` without building one (the engine
        asks for every working order of a locked account's contract)."""
        return f"cancel-order:{account}:{order_id}"


@dataclass(frozen=True, slots=True)
class ResizeOrder:
    """One order works for at most ``size`` contracts (or no longer works).

    How enforcement shrinks a protective stop that has become larger than its position (the
    position was reduced): resizing keeps the position covered, where cancelling would leave
    it unprotected.
    """

    account: int
    order_id: int
    size: int

    @property
    def key(self) -> str:
        return f"resize-order:{self.account}:{self.order_id}:{self.size}"


@dataclass(frozen=True, slots=True)
class PositionClosed:
    """The account holds no position in the contract."""

    account: int
    contract_id: str

    @property
    def key(self) -> str:
        return f"position-closed:{self.account}:{self.contract_id}"


@dataclass(frozen=True, slots=True)
class ReduceTo:
    """Open size in a scope is at most a limit.

    ``scope`` ``account``: weighted units over all roots ≤ ``max_units``; ``root``: contracts in
    ``symbol`` (all months) ≤ ``max_contracts``; ``contract``: contracts in ``contract_id`` ≤
    ``max_contracts``. ``order`` says which positions shrink first.
    """

    account: int
    scope: str
    max_contracts: int | None = None
    max_units: int | None = None
    symbol: str | None = None
    contract_id: str | None = None
    order: str = "newest_first"  # "newest_first" | "largest_first"

    @property
    def key(self) -> str:
        target = self.contract_id or self.symbol or "*"
        limit = self.max_units if self.max_units is not None else self.max_contracts
        unit = "units" if self.max_units is not None else "contracts"
        return f"reduce-to:{self.account}:{self.scope}:{target}:{limit}{unit}:{self.order}"


@dataclass(frozen=True, slots=True)
class StopAt:
    """Working stops protect the contract's position at ``price`` (never looser, if set).

    ``size`` is the position's size when the rule fired: the stops must cover that many
    contracts, so a position that grows while protected (a scale-in) asks for a new target
    (its key changes) and the executor resizes the stop. None (an intent recorded before
    sizes were kept) asks for any stop at the price.

    ``long`` is the side of the position the stop protects: a position that reverses (long 1
    to short 1 in one fill) is not the one the price was computed for, so the intent is moot
    (met) rather than a stop for the long's price put under the short. None (recorded before
    sides were kept) protects whatever position the contract holds.
    """

    account: int
    contract_id: str
    price: Decimal
    never_loosen: bool = True
    size: int | None = None
    long: bool | None = None

    @property
    def key(self) -> str:
        base = f"stop-at:{self.account}:{self.contract_id}:{self.price}:{int(self.never_loosen)}"
        return base if self.size is None else f"{base}:{self.size}"


@dataclass(frozen=True, slots=True)
class Alert:
    """Tell a human. Met as soon as it is issued."""

    level: str
    message: str
    account: int | None = None
    rule: str = ""

    @property
    def key(self) -> str:
        return f"alert:{self.account}:{self.rule}:{self.level}:{self.message}"


Intent = NoWorkingOrders | CancelOrder | ResizeOrder | PositionClosed | ReduceTo | StopAt | Alert

INTENT_TYPES: dict[str, type[Intent]] = {
    cls.__name__: cls
    for cls in (NoWorkingOrders, CancelOrder, ResizeOrder, PositionClosed, ReduceTo, StopAt, Alert)
}


def _no_working_orders_met(intent: NoWorkingOrders, account: AccountState) -> bool:
    return not any(
        (intent.symbol is None or order.symbol == intent.symbol)
        and (intent.side is None or order.side == intent.side)
        and (intent.contract_id is None or order.contract_id == intent.contract_id)
        for order in account.orders.values()
    )


def _cancel_order_met(intent: CancelOrder, account: AccountState) -> bool:
    """The order no longer works, nor does any child of its family it leaves orphaned."""
    return intent.order_id not in account.orders and not orphans(account, intent.order_id)


def orphans(account: AccountState, entry_id: int) -> list[int]:
    """Working children of a bracket entry that ended without filling (they can never
    activate, and a cancelled entry must not leave them behind), by id."""
    family = account.families.get(entry_id)
    if family is None or entry_id in account.orders or family.opened != 0:
        return []
    return sorted(family.legs)


def _resize_order_met(intent: ResizeOrder, account: AccountState) -> bool:
    order = account.orders.get(intent.order_id)
    return order is None or order.remaining <= intent.size


def _position_closed_met(intent: PositionClosed, account: AccountState) -> bool:
    return intent.contract_id not in account.positions


def _reduce_to_met(intent: ReduceTo, account: AccountState) -> bool:
    if intent.scope == "account":
        return intent.max_units is None or account.open_units <= intent.max_units
    if intent.scope == "contract":
        position = account.positions.get(intent.contract_id or "")
        size = position.size if position is not None else 0
        return intent.max_contracts is None or size <= intent.max_contracts
    sym = account.roots.get(intent.symbol or "")
    size = sym.size if sym is not None else 0
    return intent.max_contracts is None or size <= intent.max_contracts


def _stop_at_met(intent: StopAt, account: AccountState) -> bool:
    position = account.positions.get(intent.contract_id)
    if position is None or (intent.long is not None and intent.long != position.long):
        return True  # the position it protected is gone (closed, or reversed)
    covered = 0
    for order in account.orders_by_contract.get(intent.contract_id, {}).values():
        if not order.is_stop or order.buy == position.long or order.stop_price is None:
            continue
        at_price = order.stop_price == intent.price
        tighter = intent.never_loosen and (
            order.stop_price > intent.price if position.long else order.stop_price < intent.price
        )
        if not (at_price or tighter):
            continue
        if intent.size is None:
            return True
        covered += order.remaining
        if covered >= intent.size:
            return True
    return False


def _alert_met(intent: Alert, account: AccountState) -> bool:
    return True


#: One check per intent type: the engine asks after every order and position event.
_MET: dict[type[Intent], Callable[[Any, AccountState], bool]] = {
    NoWorkingOrders: _no_working_orders_met,
    CancelOrder: _cancel_order_met,
    ResizeOrder: _resize_order_met,
    PositionClosed: _position_closed_met,
    ReduceTo: _reduce_to_met,
    StopAt: _stop_at_met,
    Alert: _alert_met,
}


def is_met(intent: Intent, account: AccountState) -> bool:
    """Whether the account's facts already show the intent's target state."""
    check = _MET.get(type(intent))
    return check(intent, account) if check is not None else True


def intent_to_json(intent: Intent) -> dict[str, object]:
    data: dict[str, object] = {"type": type(intent).__name__}
    for name in intent.__dataclass_fields__:
        value = getattr(intent, name)
        data[name] = str(value) if isinstance(value, Decimal) else value
    return data


def intent_from_json(data: dict[str, object]) -> Intent:
    fields = dict(data)
    cls = INTENT_TYPES[str(fields.pop("type"))]
    if cls is StopAt:
        fields["price"] = Decimal(str(fields["price"]))
    return cls(**fields)  # type: ignore[arg-type]


__all__ = [
    "INTENT_TYPES",
    "Alert",
    "CancelOrder",
    "Intent",
    "NoWorkingOrders",
    "PositionClosed",
    "ReduceTo",
    "ResizeOrder",
    "StopAt",
    "intent_from_json",
    "intent_to_json",
    "is_met",
    "orphans",
]
