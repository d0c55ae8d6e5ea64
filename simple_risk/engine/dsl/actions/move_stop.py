"""``move_stop``: move the bound position's stop to ``to`` (at most once a second per order).

With ``never_loosen: true`` (the default) a move that would loosen the stop is skipped::

    - id: breakeven-stop
      trigger: [quote]
      each: position
      when: known(position.profit_ticks) and position.profit_ticks >= 10
      then:
        - move_stop: {to: position.avg_price, never_loosen: true}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions._stops import STOP_ARGS, compile_stop
from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef, Path


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    return compile_stop("move_stop", ctx, args, path)


ACTION = ActionDef(
    name="move_stop",
    summary="Move the position's stop to `to`, tick-aligned, never loosening by default.",
    args_schema=STOP_ARGS,
    compile=compile_action,
    example="then: [{move_stop: {to: position.avg_price}}]",
)
