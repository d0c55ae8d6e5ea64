"""``cancel_orders``: cancel working orders — all of them, one root's, or one side's.

``symbol`` is a root (``MNQ``) or an expression giving one (``symbol.root``); ``side`` is
``buy``, ``sell`` or an expression giving one (``order.side``: the triggering order's side),
so one rule covers both sides::

    then:
      - cancel_orders                          # every working order of the account
      - cancel_orders: {symbol: symbol.root}   # this root only
      - cancel_orders: {symbol: MNQ, side: buy}
      - cancel_orders: {symbol: order.symbol, side: order.side}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import (
    EXPRESSION_REF,
    SIDES,
    ActionContext,
    ActionDef,
    Path,
)
from simple_risk.engine.dsl.problems import did_you_mean


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    compiled: dict[str, object] = {}
    if "symbol" in args:
        compiled["symbol"] = ctx.expression((*path, "symbol"), "symbol")
    side = args.get("side")
    if isinstance(side, str) and side not in SIDES and did_you_mean(side, SIDES):
        # a misspelt literal, not a name to look up
        ctx.error(
            (*path, "side"), f'"{side}" is not a side', "bad-value", did_you_mean(side, SIDES)
        )
    elif "side" in args:
        compiled["side"] = ctx.expression((*path, "side"), "side")
    return compiled


ACTION = ActionDef(
    name="cancel_orders",
    summary="Cancel working orders: all, one root's (symbol) or one side's (side: order.side).",
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "symbol": {
                **EXPRESSION_REF,
                "description": "a root such as MNQ, or an expression such as symbol.root",
            },
            "side": {
                "anyOf": [{"enum": ["buy", "sell"]}, EXPRESSION_REF],
                "description": "buy, sell, or an expression such as order.side",
            },
        },
    },
    compile=compile_action,
    bare=True,
    example="then: [{cancel_orders: {symbol: symbol.root}}]",
)
