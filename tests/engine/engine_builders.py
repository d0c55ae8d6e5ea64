"""Hand-built rules, rulesets and events for the engine tests (no DSL needed)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    ContractLoaded,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    TradeFill,
)
from simple_risk.engine.model import (
    ActionSpec,
    CalendarSpec,
    CompiledExpression,
    LockoutSpec,
    MessageTemplate,
    Rule,
    Ruleset,
    SessionSpec,
    SourceLocation,
    SymbolSpec,
)
from simple_risk.engine.namespace import RESERVED_NAMES

HERE = SourceLocation("test.yaml", 1, 1)
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 09:00 Chicago (CST)
MNQ = "CON.F.US.MNQ.Z26"
ES = "CON.F.US.EP.Z26"
ACCOUNT = 7


def names_of(source: str) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, mode="eval")):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id not in RESERVED_NAMES:
            found.add(node.id)  # a list name
    return frozenset(found)


def expr(source: str, rule_id: str = "test") -> CompiledExpression:
    return CompiledExpression(
        source=source,
        code=compile(source, rule_id, "eval"),
        location=HERE,
        names=names_of(source),
    )


def template(text: str) -> MessageTemplate:
    parts: list[tuple[str, CompiledExpression | None, str]] = []
    rest = text
    while "{" in rest:
        literal, _, tail = rest.partition("{")
        field, _, rest = tail.partition("}")
        source, _, spec = field.partition(":")
        parts.append((literal, expr(source), spec))
    parts.append((rest, None, ""))
    return MessageTemplate(text, tuple(parts), HERE)


def action(kind: str, **args: object) -> ActionSpec:
    return ActionSpec(kind, dict(args), HERE)


def lockout(scope: str = "account", **kwargs: object) -> ActionSpec:
    return ActionSpec("lockout", {"lockout": LockoutSpec(scope=scope, **kwargs)}, HERE)  # type: ignore[arg-type]


def rule(
    rule_id: str,
    when: str,
    triggers: Iterable[str],
    then: Iterable[ActionSpec] = (),
    *,
    each: str | None = None,
    for_: timedelta | None = None,
    message: str | None = None,
    severity: str = "warning",
) -> Rule:
    return Rule(
        id=rule_id,
        triggers=frozenset(triggers),
        when=expr(when, rule_id),
        then=tuple(then),
        location=HERE,
        each=each,
        for_=for_,
        message=template(message) if message is not None else None,
        severity=severity,
    )


CALENDAR = CalendarSpec(
    sessions={"rth": SessionSpec("rth", time(8, 30), time(15, 0), frozenset(range(5)))},
)
SYMBOLS = SymbolSpec(aliases={"EP": "ES", "ENQ": "NQ"}, weights={"MNQ": 1, "MES": 1})


def ruleset(
    *rules: Rule,
    params: Mapping[str, object] | None = None,
    lists: Mapping[str, tuple[object, ...]] | None = None,
    calendar: CalendarSpec = CALENDAR,
) -> Ruleset:
    return Ruleset(
        name="test",
        rules=rules,
        location=HERE,
        calendar=calendar,
        symbols=SYMBOLS,
        params=dict(params or {}),
        lists=dict(lists or {}),
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tick(t: float) -> ClockTick:
    return ClockTick(at=at(t))


def account_update(t: float, balance: str = "50000", can_trade: bool = True) -> AccountUpdate:
    return AccountUpdate(
        at=at(t), account_id=ACCOUNT, name="50KTC", balance=Decimal(balance), can_trade=can_trade
    )


def position(
    t: float, size: int, price: str = "21000", *, contract: str = MNQ, long: bool = True
) -> PositionUpdate:
    return PositionUpdate(
        at=at(t),
        account_id=ACCOUNT,
        contract_id=contract,
        type=PositionType.LONG if long else PositionType.SHORT,
        size=size,
        average_price=Decimal(price),
    )


def order(
    t: float,
    order_id: int,
    *,
    side: str = "buy",
    size: int = 1,
    kind: OrderType = OrderType.LIMIT,
    status: OrderStatus = OrderStatus.OPEN,
    stop: str | None = None,
    limit: str | None = None,
    contract: str = MNQ,
    tag: str | None = None,
    filled: int = 0,
) -> OrderUpdate:
    return OrderUpdate(
        at=at(t),
        account_id=ACCOUNT,
        order_id=order_id,
        contract_id=contract,
        status=status,
        type=kind,
        side=OrderSide.BUY if side == "buy" else OrderSide.SELL,
        size=size,
        fill_volume=filled,
        stop_price=Decimal(stop) if stop is not None else None,
        limit_price=Decimal(limit) if limit is not None else None,
        custom_tag=tag,
    )


def fill(
    t: float,
    trade_id: int,
    *,
    order_id: int = 1,
    pnl: str | None = None,
    fees: str = "0",
    commissions: str | None = "0",
    size: int = 1,
    side: str = "sell",
    voided: bool = False,
    contract: str = MNQ,
    created_at: datetime | None = None,
) -> TradeFill:
    return TradeFill(
        at=at(t),
        account_id=ACCOUNT,
        trade_id=trade_id,
        order_id=order_id,
        contract_id=contract,
        side=OrderSide.BUY if side == "buy" else OrderSide.SELL,
        size=size,
        price=Decimal("21000"),
        pnl=Decimal(pnl) if pnl is not None else None,
        fees=Decimal(fees),
        commissions=Decimal(commissions) if commissions is not None else None,
        voided=voided,
        created_at=created_at,
    )


def quote(
    t: float,
    last: str | None = None,
    *,
    bid: str | None = None,
    ask: str | None = None,
    contract: str = MNQ,
) -> Quote:
    return Quote(
        at=at(t),
        contract_id=contract,
        last=Decimal(last) if last is not None else None,
        bid=Decimal(bid) if bid is not None else None,
        ask=Decimal(ask) if ask is not None else None,
    )


def loaded(
    t: float, contract: str = MNQ, tick_size: str = "0.25", tick_value: str = "0.5"
) -> ContractLoaded:
    root = contract.split(".")[3]
    return ContractLoaded(
        at=at(t),
        contract=ContractInfo(
            contract_id=contract,
            symbol_id=f"F.US.{root}",
            root=root,
            name=root,
            tick_size=Decimal(tick_size),
            tick_value=Decimal(tick_value),
            units=1 if root.startswith("M") else 10,
        ),
    )
