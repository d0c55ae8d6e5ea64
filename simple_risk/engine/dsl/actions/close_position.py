"""``close_position``: cancel that contract's working orders, then close the position.

Without arguments it closes the bound position (``each: position`` or a position trigger);
``symbol`` (a root or expression) closes every position in that root, ``contract`` one
contract id::

    - id: no-stop-loss-grace
      trigger: [position, order, clock]
      each: position
      when: not position.protected
      for: 30s
      then: [close_position]
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
    for name in ("symbol", "contract"):
        if name in args:
            compiled[name] = ctx.expression((*path, name), name if name == "symbol" else "value")
    if not compiled and not ctx.binds("position"):
        ctx.error(
            path,
            "close_position needs a position: none is bound here",
            "action-context",
            "use each: position, or give symbol: / contract:",
        )
    return compiled


ACTION = ActionDef(
    name="close_position",
    summary="Cancel the contract's working orders, then close the position.",
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "symbol": {**EXPRESSION_REF, "description": "close every position in this root"},
            "contract": {**EXPRESSION_REF, "description": "close this contract id"},
        },
    },
    compile=compile_action,
    bare=True,
    example="then: [close_position]",
)
