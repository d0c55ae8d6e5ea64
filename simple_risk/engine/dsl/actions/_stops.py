"""Shared argument handling of ``place_stop`` and ``move_stop`` (both need a position)."""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine.dsl.actions.base import EXPRESSION_REF, ActionContext, Path

STOP_ARGS: dict[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to"],
    "properties": {
        "to": {
            "anyOf": [{"type": "number"}, EXPRESSION_REF],
            "description": "the stop price (rounded to the tick grid by the executor)",
        },
        "never_loosen": {"type": "boolean", "default": True},
    },
}


def compile_stop(
    name: str, ctx: ActionContext, args: Mapping[str, object], path: Path
) -> dict[str, object]:
    if not ctx.binds("position"):
        ctx.error(
            path,
            f"{name} needs a position: none is bound here",
            "action-context",
            "use each: position",
        )
    return {
        "to": ctx.expression((*path, "to"), "value"),
        "never_loosen": bool(args.get("never_loosen", True)),
    }
