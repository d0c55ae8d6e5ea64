"""``alert``: tell the people watching; no effect on the account.

``message`` is a template like a rule's ``message:``::

    then:
      - alert: {level: warning, message: "P&L {day.realized_pnl:.2f} is 80% of the limit"}
"""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef, Path


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    return {
        "level": args.get("level", "warning"),
        "message": ctx.template((*path, "message"), "message"),
    }


ACTION = ActionDef(
    name="alert",
    summary="Raise an alert (info, warning or critical) with a message template.",
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["message"],
        "properties": {
            "level": {"enum": ["info", "warning", "critical"], "default": "warning"},
            "message": {"$ref": "#/$defs/template"},
        },
    },
    compile=compile_action,
    example='then: [{alert: {level: critical, message: "trading disabled"}}]',
)
