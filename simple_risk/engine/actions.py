"""Actions become intents and lockouts: one small function per action kind, in a registry.

Called by the engine when a rule fires, with the rule's bound families (``env``) so that
expression-valued arguments (``symbol: symbol.root``, ``contracts: params.max_lots``, ``to:``)
are evaluated against the same facts that decided the firing. Adding an action kind means
adding one function to :data:`ACTIONS`; the DSL declares the matching argument schema.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from simple_risk.engine.facts.account import AccountState, SymbolFacts
from simple_risk.engine.facts.ledger import TradeFacts
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    StopAt,
)
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import ActionSpec, CompiledExpression, LockoutSpec, MessageTemplate

if TYPE_CHECKING:
    from simple_risk.engine.calendar import TradingCalendar

_GLOBALS: dict[str, object] = {"__builtins__": {}}


def evaluate(expr: CompiledExpression, env: MutableMapping[str, object]) -> object:
    """Evaluate a compiled expression in the engine's reusable environment."""
    return eval(expr.code, _GLOBALS, env)


def render(template: MessageTemplate, env: MutableMapping[str, object]) -> str:
    """Render a message template; an unknown value renders as ``unknown``."""
    out: list[str] = []
    for literal, expr, spec in template.parts:
        out.append(literal)
        if expr is None:
            continue
        try:
            value = evaluate(expr, env)
            if value is None:
                out.append("unknown")
            elif isinstance(value, Decimal) and not spec:
                out.append(_decimal_text(value))
            else:
                out.append(format(value, spec))
        except Exception as exc:  # a message must never stop enforcement
            out.append(f"<{type(exc).__name__}>")
    return "".join(out)


def _decimal_text(value: Decimal) -> str:
    """A Decimal as a person reads it: never in exponent form (ticks of ``2E+1`` are ``20``)
    and without the trailing zeros exact division leaves beyond the cents
    (``6000.250000000`` is ``6000.25``; ``-0.50`` stays)."""
    text = format(value, "f")
    if "." in text:
        whole, _, fraction = text.partition(".")
        fraction = fraction.rstrip("0")
        fraction = fraction.ljust(2, "0") if fraction else ""
        text = f"{whole}.{fraction}" if fraction else whole
    return text


class ActionContext:
    """What an action sees: the firing's account, bound families, time and the calendar."""

    __slots__ = ("account", "at", "calendar", "env", "intents", "locks", "message", "rule_id")

    def __init__(
        self,
        account: AccountState,
        env: MutableMapping[str, object],
        at: datetime,
        calendar: TradingCalendar,
        rule_id: str,
        message: str,
    ) -> None:
        self.account = account
        self.env = env
        self.at = at
        self.calendar = calendar
        self.rule_id = rule_id
        self.message = message
        self.intents: list[Intent] = []
        self.locks: list[Lock] = []

    def arg(self, action: ActionSpec, name: str, default: object = None) -> object:
        value = action.args.get(name, default)
        if isinstance(value, CompiledExpression):
            return evaluate(value, self.env)
        if isinstance(value, MessageTemplate):
            return render(value, self.env)
        return value

    def bound_position(self) -> Position | None:
        position = self.env.get("position")
        if isinstance(position, Position) and position.size > 0:
            return position
        for family in ("order", "trade"):
            item = self.env.get(family)
            if isinstance(item, Order | TradeFacts):
                return self.account.positions.get(item.contract_id)
        return None

    def bound_root(self) -> str | None:
        symbol = self.env.get("symbol")
        if isinstance(symbol, SymbolFacts):
            return symbol.root
        for family in ("position", "order", "trade"):
            item = self.env.get(family)
            if isinstance(item, Position | Order | TradeFacts):
                return item.symbol
        return None


def _cancel_order(ctx: ActionContext, action: ActionSpec) -> None:
    order = ctx.env.get("order")
    if isinstance(order, Order):
        ctx.intents.append(CancelOrder(ctx.account.id, order.id))


def _cancel_orders(ctx: ActionContext, action: ActionSpec) -> None:
    symbol = ctx.arg(action, "symbol")
    side = _side_of(ctx.arg(action, "side")) if "side" in action.args else None
    ctx.intents.append(
        NoWorkingOrders(
            ctx.account.id,
            symbol=str(symbol) if symbol is not None else None,
            side=side,
        )
    )


def _close(ctx: ActionContext, contract_id: str) -> None:
    ctx.intents.append(NoWorkingOrders(ctx.account.id, contract_id=contract_id))
    ctx.intents.append(PositionClosed(ctx.account.id, contract_id))


def _close_position(ctx: ActionContext, action: ActionSpec) -> None:
    contract = ctx.arg(action, "contract")
    symbol = ctx.arg(action, "symbol")
    if contract is not None:
        _close(ctx, str(contract))
        return
    if symbol is None:
        position = ctx.bound_position()
        if position is not None:
            _close(ctx, position.contract_id)
            return
        symbol = ctx.bound_root()
    if symbol is not None:
        for position in list(ctx.account.positions.values()):
            if position.symbol == symbol:
                _close(ctx, position.contract_id)


def _flatten(ctx: ActionContext, action: ActionSpec) -> None:
    ctx.intents.append(NoWorkingOrders(ctx.account.id))
    for contract_id in list(ctx.account.positions):
        ctx.intents.append(PositionClosed(ctx.account.id, contract_id))


def _reduce_to(ctx: ActionContext, action: ActionSpec) -> None:
    contracts = ctx.arg(action, "contracts")
    if contracts is None:
        return
    # fewer than none (a cap an expression shrank below 0) is none: flat, and met once flat
    limit = max(Decimal(str(contracts)), Decimal(0))
    order = str(ctx.arg(action, "order", "newest_first"))
    scope = str(ctx.arg(action, "scope", "account"))
    if scope == "account":
        units = int(limit * ctx.account.symbols.units_per_lot)
        ctx.intents.append(ReduceTo(ctx.account.id, "account", max_units=units, order=order))
        return
    symbol = ctx.arg(action, "symbol")
    root = str(symbol) if symbol is not None else ctx.bound_root()
    if root is not None:
        ctx.intents.append(
            ReduceTo(ctx.account.id, "root", max_contracts=int(limit), symbol=root, order=order)
        )


def _stop(ctx: ActionContext, action: ActionSpec) -> None:
    intent = stop_target(ctx, action)
    if intent is not None:
        ctx.intents.append(intent)


def stop_target(ctx: ActionContext, action: ActionSpec) -> StopAt | None:
    """The stop a ``place_stop`` / ``move_stop`` asks for, sized to the position it protects
    now: the stop must cover that many contracts, so a position that grew while protected (a
    scale-in) makes a new target and the firing rule fires again for it (architecture.md §3,
    target states). Also what the engine compares, on each evaluation of a firing stop rule,
    with the target it last fired for (``Engine._target_moved``)."""
    position = ctx.bound_position()
    price = ctx.arg(action, "to")
    if position is None or price is None:
        return None
    never_loosen = bool(ctx.arg(action, "never_loosen", True))
    contract_id = position.contract_id
    held = ctx.account.positions.get(contract_id)
    return StopAt(
        ctx.account.id,
        contract_id,
        Decimal(str(price)),
        never_loosen,
        held.size if held is not None else None,
        held.long if held is not None else None,
    )


def _alert(ctx: ActionContext, action: ActionSpec) -> None:
    level = str(ctx.arg(action, "level", "warning"))
    message = ctx.arg(action, "message")
    text = str(message) if message else ctx.message
    ctx.intents.append(Alert(level, text, ctx.account.id, ctx.rule_id))


def lock_end(
    spec: LockoutSpec,
    at: datetime,
    calendar: TradingCalendar,
    env: MutableMapping[str, object] | None = None,
) -> datetime | None:
    """When a lock set now ends (None: a ``while:`` lock, ended by its expression)."""
    if spec.duration is not None:
        return at + spec.duration
    if spec.duration_expr is not None and env is not None:
        return at + _duration_of(evaluate(spec.duration_expr, env))
    if spec.until_trading_day_end:
        return calendar.trading_day_end(at)
    if spec.until_session_start is not None:
        return calendar.next_session_start(spec.until_session_start, at)
    if spec.until_time is not None:
        return spec.until_time
    return None


def _duration_of(value: object) -> timedelta:
    """A ``for:`` expression's value as a lock length; anything but a positive duration
    string raises (the firing becomes an engine error, a critical alert)."""
    from simple_risk.engine.dsl.durations import parse_duration  # the DSL imports the engine

    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"lockout for: {value!r} is not a positive duration")
    return duration


def _side_of(value: object) -> str:
    """A ``side:`` expression's value; anything but buy / sell raises rather than cancel
    the orders of both sides."""
    if value not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {value!r}")
    return str(value)


def _lockout(ctx: ActionContext, action: ActionSpec, index: int) -> None:
    spec = action.args.get("lockout")
    if not isinstance(spec, LockoutSpec):
        return
    symbol: str | None = None
    if spec.scope == "symbol":
        if spec.symbol is not None:
            value = evaluate(spec.symbol, ctx.env)
            symbol = str(value) if value is not None else None
        else:
            symbol = ctx.bound_root()
        if symbol is None:
            return
    reason = render(spec.reason, ctx.env) if spec.reason is not None else ctx.message
    # the exposure the lockout starts with, in its scope: a lock freezes it, a cooldown leaves
    # it alone; for both, what appears later (a market order that filled before its cancel
    # landed, a flip) is brought back to it
    baseline: dict[str, tuple[bool, int]] = {}
    for position in ctx.account.positions.values():
        if symbol is None or position.symbol == symbol:
            baseline[position.contract_id] = (position.long, position.size)
    # a cooldown began with the exposure of the fill (or the order) that set it, though its
    # position event comes later; a lock freezes what the facts hold (its rule's own flatten
    # or close takes the rest, and a fill that beats it is reversed)
    opening_fill: tuple[str, bool, int] | None = None
    opening_order: int | None = None
    if spec.kind == "cooldown":
        trade = ctx.env.get("trade")
        in_scope = isinstance(trade, TradeFacts) and (symbol is None or trade.symbol == symbol)
        if isinstance(trade, TradeFacts) and in_scope and not trade.voided:
            opening_fill = (trade.contract_id, trade.side == "buy", trade.size)
        order = ctx.env.get("order")
        if isinstance(order, Order) and not order.own:
            opening_order = order.id
    ctx.locks.append(
        Lock(
            account=ctx.account.id,
            scope=spec.scope,
            symbol=symbol,
            rule=ctx.rule_id,
            reason=reason,
            kind=spec.kind,
            set_at=ctx.at,
            ends_at=lock_end(spec, ctx.at, ctx.calendar, ctx.env),
            action_index=index,
            while_expr=spec.while_expr,
            baseline=baseline,
            opening_fill=opening_fill,
            opening_order=opening_order,
        )
    )


ActionFunction = Callable[[ActionContext, ActionSpec], None]

#: The closed action vocabulary (architecture.md §3); ``lockout`` is handled by :func:`run_action`.
ACTIONS: dict[str, ActionFunction] = {
    "cancel_order": _cancel_order,
    "cancel_orders": _cancel_orders,
    "close_position": _close_position,
    "flatten": _flatten,
    "reduce_to": _reduce_to,
    "place_stop": _stop,
    "move_stop": _stop,
    "alert": _alert,
}


def run_action(ctx: ActionContext, action: ActionSpec, index: int) -> None:
    """Turn one ``then:`` entry into intents (and locks) on ``ctx``, in declared order."""
    if action.kind == "lockout":
        _lockout(ctx, action, index)
        return
    function = ACTIONS.get(action.kind)
    if function is None:
        raise ValueError(f"unknown action {action.kind!r}")
    function(ctx, action)


__all__ = [
    "ACTIONS",
    "ActionContext",
    "evaluate",
    "lock_end",
    "render",
    "run_action",
    "stop_target",
]
