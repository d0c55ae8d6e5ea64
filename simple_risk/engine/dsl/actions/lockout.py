"""``lockout``: block new exposure for a while — account-wide or for one root.

Exactly one end: ``for:`` a duration, ``until: trading_day_end``, ``until: {session_start:
NAME}`` (the next trading day's session), or ``while:`` an expression re-checked until it is
false (it sees account-level facts, params, lists and ``lock.*``; a symbol lockout's also the
locked symbol's facts, ``symbol.*``). ``kind: cooldown``
(RULE-006/007) only blocks new exposure and leaves positions alone; the default ``lock`` also
reduces any position that grows. ``scope: symbol`` locks the bound symbol's root, or the root
``symbol:`` names::

    then:
      - lockout: {for: 15m, reason: "cooldown after a {trade.order_pnl} loss"}
      - lockout: {for: "params.long_pause if trade.order_pnl < -500 else params.pause"}
      - lockout: {until: trading_day_end}
      - lockout: {until: {session_start: rth}}
      - lockout: {until: "2026-12-24T12:00:00-06:00"}    # a fixed instant, with its offset
      - lockout: {while: "not account.can_trade"}
      - lockout: {scope: symbol, while: "known(lock.symbol) and lock.symbol in blocked_symbols"}
      - lockout: {scope: symbol, kind: cooldown, while: "symbol.size > 0"}   # until it is flat
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from simple_risk.engine.dsl.actions.base import (
    DURATION_REF,
    EXPRESSION_REF,
    SCOPE,
    ActionContext,
    ActionDef,
    Path,
)
from simple_risk.engine.model import LockoutSpec

_ENDS = ("for", "until", "while")
#: a ``for:`` that starts with a digit is meant as a duration literal (``30x``, ``10 minutes``
#: are bad ones): an expression there must give a duration string, never a number
_DURATION_LIKE = re.compile(r"^\s*[0-9]")
_INSTANT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$"


def compile_action(ctx: ActionContext, args: Mapping[str, object], path: Path) -> dict[str, object]:
    ends = [end for end in _ENDS if end in args]
    scope = str(args.get("scope", "account"))
    kind = str(args.get("kind", "lock"))
    symbol = ctx.expression((*path, "symbol"), "symbol") if "symbol" in args else None
    if len(ends) != 1:
        ctx.error(
            path,
            "lockout needs exactly one of for:, until:, while:"
            + (f" (got {', '.join(ends)})" if ends else ""),
            "action-argument",
            "e.g. lockout: {for: 15m}",
        )
        return {}
    if scope == "symbol" and symbol is None and not ctx.binds("symbol"):
        ctx.error(
            path,
            "a symbol lockout needs a symbol: none is bound here",
            "action-context",
            "use each: symbol / position / order, or a trigger that binds symbol",
        )
    reason = ctx.template((*path, "reason"), "message") if "reason" in args else None
    end = ends[0]
    spec: LockoutSpec | None = None
    if end == "for" and not _DURATION_LIKE.match(str(args["for"])):
        # an expression giving a duration string (a param, a lookup, a conditional)
        duration_expr = ctx.expression((*path, "for"), "duration")
        if duration_expr is not None:
            spec = LockoutSpec(scope=scope, duration_expr=duration_expr, reason=reason)
    elif end == "for":
        duration = ctx.duration((*path, "for"))
        if duration is not None and duration <= timedelta(0):
            ctx.error(
                (*path, "for"),
                f'a lockout for "{args["for"]}" ends as it starts',
                "bad-duration",
                "give a positive duration, e.g. 5m",
            )
        elif duration is not None:
            spec = LockoutSpec(scope=scope, duration=duration, reason=reason)
    elif end == "while":
        condition = ctx.lock_expression((*path, "while"), scope == "symbol")
        if condition is not None:
            spec = LockoutSpec(scope=scope, while_expr=condition, reason=reason)
    else:
        until = args["until"]
        if until == "trading_day_end":
            spec = LockoutSpec(scope=scope, until_trading_day_end=True, reason=reason)
        elif isinstance(until, str):
            instant = _instant(until)
            if instant is None:
                ctx.error(
                    (*path, "until"),
                    f'"{until}" is not trading_day_end or a date-time with a UTC offset',
                    "action-argument",
                    'e.g. until: "2026-12-24T12:00:00-06:00"',
                )
            else:
                spec = LockoutSpec(scope=scope, until_time=instant, reason=reason)
        elif isinstance(until, Mapping) and isinstance(until.get("session_start"), str):
            session = str(until["session_start"])
            if session not in ctx.sessions:
                listed = ", ".join(sorted(ctx.sessions)) or "none"
                ctx.error(
                    (*path, "until", "session_start"),
                    f'unknown session "{session}"',
                    "unknown-session",
                    f"calendar.sessions defines: {listed}",
                )
            else:
                spec = LockoutSpec(scope=scope, until_session_start=session, reason=reason)
    if spec is None:
        return {}
    return {"lockout": replace(spec, kind=kind, symbol=symbol)}


def _instant(text: str) -> datetime | None:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


ACTION = ActionDef(
    name="lockout",
    summary="Block new exposure (account or symbol) for a duration (literal or expression),"
    " until an end, or while.",
    args_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "for": {
                "anyOf": [DURATION_REF, EXPRESSION_REF],
                "description": "a duration, or an expression giving one (params.pause)",
            },
            "until": {
                "anyOf": [
                    {"const": "trading_day_end"},
                    {
                        "type": "string",
                        "pattern": _INSTANT,
                        "title": "date-time",
                        "description": "an instant with its UTC offset",
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["session_start"],
                        "properties": {"session_start": {"type": "string"}},
                    },
                ]
            },
            "while": EXPRESSION_REF,
            "scope": {**SCOPE, "default": "account"},
            "kind": {
                "enum": ["lock", "cooldown"],
                "default": "lock",
                "description": "cooldown blocks new exposure only; lock also shrinks growth",
            },
            "symbol": {**EXPRESSION_REF, "description": "the root to lock (scope: symbol)"},
            "reason": {"$ref": "#/$defs/template"},
        },
    },
    compile=compile_action,
    example="then: [{lockout: {until: trading_day_end}}]",
)
