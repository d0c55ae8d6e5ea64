"""``flatten``: cancel every working order and close every position of the account.

::

    then:
      - flatten
      - lockout: {until: trading_day_end}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef, Path, no_args_schema


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    return {}


ACTION = ActionDef(
    name="flatten",
    summary="Cancel all working orders and close all positions.",
    args_schema=no_args_schema(),
    compile=compile_action,
    bare=True,
    example="then: [flatten]",
)
