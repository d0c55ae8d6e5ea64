"""``reduce_to``: bring open exposure down to ``contracts``, resizing stops.

``scope: account`` counts every root in weighted lots (a micro is 1/10 of a lot);
``scope: symbol`` counts the contracts (all months) of the bound symbol's root (or the one
named by ``symbol``): ``contracts: 2`` keeps 2 MNQ, not 2 lots of them. A fraction is cut
down to the whole contract or unit below; an expression below 0 reduces to flat (0).
``order`` picks which positions shrink first::

    then:
      - reduce_to: {contracts: params.max_lots, scope: account, order: newest_first}
      - reduce_to: {contracts: "lookup(params.per_symbol_limits, symbol.root, 1)", scope: symbol}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import (
    EXPRESSION_REF,
    NUMBER_OR_EXPRESSION,
    SCOPE,
    ActionContext,
    ActionDef,
    Path,
)


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    compiled: dict[str, object] = {
        "contracts": ctx.expression((*path, "contracts"), "contracts"),
        "scope": args.get("scope", "account"),
        "order": args.get("order", "newest_first"),
    }
    if "symbol" in args:
        compiled["symbol"] = ctx.expression((*path, "symbol"), "symbol")
    elif compiled["scope"] == "symbol" and not ctx.binds("symbol"):
        ctx.error(
            path,
            "reduce_to with scope: symbol needs a symbol: none is bound here",
            "action-context",
            "use each: symbol / position, or give symbol:",
        )
    return compiled


ACTION = ActionDef(
    name="reduce_to",
    summary=(
        "Reduce open exposure to `contracts`: weighted lots for the account (a micro is 1/10),"
        " that root's contracts (all months) for one root."
    ),
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["contracts"],
        "properties": {
            "contracts": {
                **NUMBER_OR_EXPRESSION,
                "description": "target size: weighted lots (account), contracts (root)",
            },
            "scope": {**SCOPE, "default": "account"},
            "symbol": {**EXPRESSION_REF, "description": "the root, for scope: symbol"},
            "order": {"enum": ["newest_first", "largest_first"], "default": "newest_first"},
        },
    },
    compile=compile_action,
    example="then: [{reduce_to: {contracts: 5, scope: account, order: newest_first}}]",
)
