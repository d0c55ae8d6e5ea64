"""``cancel_orders``: cancel working orders — all of them, one root's, or one side's.

``symbol`` is a root (``MNQ``) or an expression giving one (``symbol.root``); ``side`` is
``buy`` or ``sell``::

    then:
      - cancel_orders                          # every working order of the account
      - cancel_orders: {symbol: symbol.root}   # this root only
      - cancel_orders: {symbol: MNQ, side: buy}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import (
    EXPRESSION_REF,
    ActionContext,
    ActionDef,
    Path,
)


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    compiled: dict[str, object] = {}
    if "symbol" in args:
        compiled["symbol"] = ctx.expression((*path, "symbol"), "symbol")
    if "side" in args:
        compiled["side"] = args["side"]
    return compiled


ACTION = ActionDef(
    name="cancel_orders",
    summary="Cancel working orders: all, one root's (symbol) or one side's (side).",
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "symbol": {
                **EXPRESSION_REF,
                "description": "a root such as MNQ, or an expression such as symbol.root",
            },
            "side": {"enum": ["buy", "sell"]},
        },
    },
    compile=compile_action,
    bare=True,
    example="then: [{cancel_orders: {symbol: symbol.root}}]",
)
