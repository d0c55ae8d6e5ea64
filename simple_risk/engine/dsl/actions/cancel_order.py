"""``cancel_order``: cancel the order that triggered the rule.

Valid only where an order is bound (``trigger: [order]`` or ``each: order``)::

    - id: max-contracts-order
      trigger: [order]
      when: order.is_working and order.if_filled_account_contracts > params.max_lots
      then: [cancel_order]
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef, Path, no_args_schema


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    if not ctx.binds("order"):
        ctx.error(
            path,
            "cancel_order needs the triggering order",
            "action-context",
            "use trigger: [order] or each: order, or cancel_orders",
        )
    return {}


ACTION = ActionDef(
    name="cancel_order",
    summary="Cancel the order that triggered the rule.",
    args_schema=no_args_schema(),
    compile=compile_action,
    bare=True,
    example="then: [cancel_order]",
)
