"""``place_stop``: place a protective stop for the bound position at ``to``.

``never_loosen`` (default true) keeps an existing tighter stop::

    - id: protect-entries
      trigger: [position]
      each: position
      when: not position.protected and known(position.tick_size)
      then:
        - place_stop: {to: "position.avg_price - 20 * position.tick_size"}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions._stops import STOP_ARGS, compile_stop
from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef, Path


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    return compile_stop("place_stop", ctx, args, path)


ACTION = ActionDef(
    name="place_stop",
    summary="Place a protective stop for the position at `to` (never loosening by default).",
    args_schema=STOP_ARGS,
    compile=compile_action,
    example='then: [{place_stop: {to: "position.avg_price"}}]',
)
