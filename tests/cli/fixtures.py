"""JSON answers shaped exactly as docs/status-protocol.md shows them (plus the variants the
renderers must survive: unknown prices, ``while:`` lockouts, an empty account)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

CHICAGO = timezone(timedelta(hours=-6))
NOW = datetime(2026, 11, 24, 10, 15, 2, 120000, tzinfo=CHICAGO)


def at(seconds: float) -> str:
    """``NOW + seconds`` as the daemon writes times (ISO-8601 with the offset)."""
    return (NOW + timedelta(seconds=seconds)).isoformat()


def status() -> dict[str, Any]:
    return {
        "now": NOW.isoformat(),
        "daemon": {
            "pid": 4242,
            "started_at": at(-7502),
            "queue_depth": 0,
            "events_applied": 18211,
            "intents_open": 0,
            "alerts": [
                {"at": at(-60), "level": "critical", "message": "enforcement failing: flatten"}
            ],
        },
        "accounts": [
            {
                "id": 20100001,
                "name": "50K-EVAL-1",
                "can_trade": True,
                "balance": "50210.00",
                "connection": {
                    "live": True,
                    "user_hub": "connected",
                    "market_hub": "connected",
                    "last_reconcile_at": at(-22),
                },
                "positions": [
                    {
                        "contract_id": "CON.F.US.MNQ.Z26",
                        "symbol": "MNQ",
                        "side": "long",
                        "size": 2,
                        "avg_price": "21010.25",
                        "last_price": "21003.00",
                        "priced_from": "quotes",
                        "unrealized_pnl": "-29.00",
                        "profit_ticks": -29,
                        "protected": False,
                        "unprotected_since": at(-72),
                        "stop_price": None,
                        "opened_at": at(-80),
                    },
                    {
                        "contract_id": "CON.F.US.MES.Z26",
                        "symbol": "MES",
                        "side": "short",
                        "size": 1,
                        "avg_price": "6010.00",
                        "last_price": None,
                        "priced_from": "quotes",
                        "unrealized_pnl": None,
                        "profit_ticks": None,
                        "protected": True,
                        "unprotected_since": None,
                        "stop_price": "6020.00",
                        "opened_at": at(-300),
                    },
                ],
                "orders": [
                    {
                        "id": 9001,
                        "contract_id": "CON.F.US.MES.Z26",
                        "symbol": "MES",
                        "side": "buy",
                        "type": "stop",
                        "size": 1,
                        "limit_price": None,
                        "stop_price": "6020.00",
                        "status": "open",
                        "own": True,
                    }
                ],
                "pnl": {
                    "realized": "-120.00",
                    "unrealized": "-29.00",
                    "net": "-149.00",
                    "week_net": "-120.00",
                    "trades": 3,
                },
                "contracts": {"open": "3", "limit": "5"},
                "limits": [
                    {
                        "rule": "daily-loss-limit",
                        "label": "Daily loss",
                        "unit": "usd",
                        "expression": "day.net_pnl <= -params.daily_loss_limit",
                        "fact": "day.net_pnl",
                        "value": "-149.00",
                        "limit": "-500",
                        "used_pct": 29.8,
                    },
                    {
                        "rule": "warn-80",
                        "unit": "usd",
                        "expression": "day.net_pnl <= -params.warn",
                        "fact": "day.net_pnl",
                        "value": "-149.00",
                        "limit": "-180",
                        "used_pct": 82.8,
                    },
                    {
                        "rule": "profit-target",
                        "label": "Profit target",
                        "unit": "usd",
                        "expression": "day.net_pnl >= 0",
                        "fact": "day.net_pnl",
                        "value": "-149.00",
                        "limit": "0",
                        "used_pct": None,
                    },
                ],
                "lockouts": [
                    {
                        "rule": "blocked-symbols",
                        "scope": "symbol",
                        "symbol": "RTY",
                        "kind": "lock",
                        "reason": "RTY is blocked",
                        "set_at": at(-100),
                        "ends_at": at(2312.4),
                        "while": None,
                        "remaining_s": 2312.4,
                    },
                    {
                        "rule": "news-window",
                        "scope": "account",
                        "symbol": None,
                        "kind": "lock",
                        "reason": "news",
                        "set_at": at(-5),
                        "ends_at": None,
                        "while": "calendar.in_news_window",
                        "remaining_s": None,
                    },
                ],
                "pending": [
                    {
                        "rule": "no-stop-grace",
                        "item": "position:CON.F.US.MNQ.Z26",
                        "since": at(-25.8),
                        "fires_at": at(4.2),
                        "remaining_s": 4.2,
                    }
                ],
                "firings": [
                    {
                        "at": at(-600),
                        "rule": "max-contracts-per-instrument",
                        "item": "order:9000",
                        "severity": "warning",
                        "message": "MNQ limit 2, attempted 3",
                        "text": "Order cancelled: max-contracts-per-instrument — MNQ limit 2, "
                        "attempted 3; cooldown 5 min",
                        "intents": ["OrderCancelled(9000)"],
                    }
                ],
                "intents_open": [{"key": "k1", "kind": "PositionClosed", "state": "awaiting"}],
            },
            {
                "id": 20100002,
                "name": "50K-EVAL-2",
                "can_trade": False,
                "balance": "49000.00",
                "connection": {
                    "live": False,
                    "user_hub": "reconnecting",
                    "market_hub": "connected",
                    "last_reconcile_at": None,
                },
                "positions": [],
                "orders": [],
                "pnl": {
                    "realized": "0",
                    "unrealized": "0",
                    "net": "0",
                    "week_net": "0",
                    "trades": 0,
                },
                "contracts": {"open": "0", "limit": "5"},
                "limits": [],
                "lockouts": [],
                "pending": [],
                "firings": [],
                "intents_open": [],
            },
        ],
    }


def explain() -> dict[str, Any]:
    return {
        "rule": "daily-loss-limit",
        "account": 20100001,
        "enabled": True,
        "severity": "critical",
        "description": "Stop trading for the day at the daily loss limit.",
        "when": "day.net_pnl <= -params.daily_loss_limit",
        "location": "rulesets/topstep.yaml:41:11",
        "for": None,
        "triggers": ["trade", "reconcile"],
        "each": None,
        "last_firing": {
            "at": at(-120),
            "item": "",
            "message": "daily loss -512.00 reached the limit 500",
            "values": {"day.net_pnl": "-512.00"},
            "intents": ["NoWorkingOrders(20100001)", "Flat(20100001)"],
            "text": "Account locked: daily-loss-limit — daily loss -512.00 reached the limit 500",
        },
        "evaluations": [
            {
                "item": "",
                "result": True,
                "error": None,
                "comparisons": [
                    {
                        "text": "day.net_pnl <= -params.daily_loss_limit",
                        "left": {"text": "day.net_pnl", "value": "-512.00"},
                        "op": "<=",
                        "right": {"text": "-params.daily_loss_limit", "value": "-500"},
                        "result": True,
                    }
                ],
                "state": "firing",
                "since": at(-120),
                "fires_at": None,
                "remaining_s": None,
            }
        ],
        "intents": ["Flat(20100001)"],
    }


def explain_pending() -> dict[str, Any]:
    return {
        "rule": "no-stop-grace",
        "account": 20100001,
        "enabled": True,
        "severity": "warning",
        "description": "",
        "when": "not position.protected",
        "location": "rulesets/topstep.yaml:80:11",
        "for": 30.0,
        "triggers": ["position", "order", "tick"],
        "each": "position",
        "last_firing": None,
        "evaluations": [
            {
                "item": "position:CON.F.US.MNQ.Z26",
                "result": True,
                "error": None,
                "comparisons": [
                    {
                        "text": "position.size > 0",
                        "left": {"text": "position.size", "value": "2"},
                        "op": ">",
                        "right": {"text": "0", "value": "0"},
                        "result": True,
                    },
                    {
                        "text": "position.unrealized_pnl < 0",
                        "left": {"text": "position.unrealized_pnl", "value": None},
                        "op": "<",
                        "right": {"text": "0", "value": "0"},
                        "result": None,
                    },
                ],
                "state": "pending",
                "since": at(-25.8),
                "fires_at": at(4.2),
                "remaining_s": 4.2,
            }
        ],
        "intents": [],
    }


def history() -> dict[str, Any]:
    return {
        "items": [
            {
                "at": at(-3600),
                "kind": "fill",
                "account": 20100001,
                "rule": None,
                "summary": "sell 1 MNQ @ 21000.00, P&L -40.00",
                "details": {"pnl": "-40.00"},
            },
            {
                "at": at(-3590),
                "kind": "firing",
                "account": 20100001,
                "rule": "daily-loss-limit",
                "summary": "daily loss limit reached",
                "details": {},
            },
            {
                "at": at(-3589),
                "kind": "intent",
                "account": 20100001,
                "rule": "daily-loss-limit",
                "summary": "Flat(20100001): done",
                "details": {},
            },
            {
                "at": at(-100),
                "kind": "admin",
                "account": None,
                "rule": None,
                "summary": "alice reload: ok",
                "details": {},
            },
        ]
    }


def monitor_messages() -> list[dict[str, Any]]:
    return [
        {
            "stream": "monitor",
            "type": "event",
            "at": at(0),
            "account": 20100001,
            "severity": "info",
            "text": "Filled: buy 3 MNQ @ 21010.25",
            "data": {},
        },
        {
            "stream": "monitor",
            "type": "firing",
            "at": at(0.1),
            "account": 20100001,
            "severity": "warning",
            "text": "Order cancelled: max-contracts-per-instrument — MNQ limit 2, attempted 3; "
            "cooldown 5 min",
            "data": {"rule": "max-contracts-per-instrument"},
        },
        {
            "stream": "monitor",
            "type": "result",
            "at": at(0.2),
            "account": 20100001,
            "severity": "info",
            "text": "Enforced: order 9000 cancelled",
            "data": {},
        },
        {
            "stream": "monitor",
            "type": "alert",
            "at": at(1),
            "account": None,
            "severity": "critical",
            "text": "enforcement failing for 20100001",
            "data": {},
        },
        {
            "stream": "monitor",
            "type": "dropped",
            "at": at(2),
            "account": None,
            "data": {"count": 7},
        },
    ]


def changes() -> dict[str, Any]:
    return {
        "20100001": {
            "added": ["weekly-loss"],
            "removed": [],
            "changed": ["daily-loss-limit"],
            "enabled": [],
            "disabled": ["news-window"],
            "params": {"daily_loss_limit": ["500", "400"]},
        },
        "20100002": {
            "added": [],
            "removed": [],
            "changed": [],
            "enabled": [],
            "disabled": [],
            "params": {},
        },
    }


#: the scripted account of the golden ``engine status``: a Monday evening in Chicago, the
#: daemon's clock in UTC (as it sends times), the trader's terminal in America/Chicago
SCRIPTED_NOW = datetime(2026, 11, 23, 23, 15, 2, tzinfo=UTC)  # 17:15:02 CST


def _utc(seconds: float) -> str:
    return (SCRIPTED_NOW + timedelta(seconds=seconds)).isoformat()


def scripted_status() -> dict[str, Any]:
    """What the daemon's ``status`` answers for one account after a losing day: an ES long
    without a stop, a protective MNQ stop, a blocked RTY, the daily loss close to its limit,
    the market closed until the evening session — with every field the daemon sends."""
    return {
        "now": SCRIPTED_NOW.isoformat(),
        "daemon": {
            "pid": 4242,
            "started_at": _utc(-3 * 3600 - 300),
            "queue_depth": 0,
            "events_applied": 1520,
            "firings": 3,
            "reconciles": 40,
            "intents_open": 0,
            "alerts": [],
            "ruleset": "topstep",
        },
        "accounts": [
            {
                "id": 20100001,
                "name": "50K-EVAL-1",
                "can_trade": True,
                "balance": "49551.60",
                "ruleset": "topstep",
                "connection": {
                    "live": True,
                    "user_hub": "connected",
                    "market_hub": "connected",
                    "last_reconcile_at": _utc(-12),
                },
                "positions": [
                    {
                        "contract_id": "CON.F.US.EP.Z26",
                        "symbol": "EP",
                        "ticker": "ES",
                        "side": "long",
                        "size": 1,
                        "avg_price": "6010.25",
                        "last_price": "6008.00",
                        "priced_from": "quotes",
                        "unrealized_pnl": "-112.5",
                        "profit_ticks": -9,
                        "protected": False,
                        "unprotected_since": _utc(-4),
                        "stop_price": None,
                        "opened_at": _utc(-4),
                    },
                    {
                        "contract_id": "CON.F.US.MNQ.Z26",
                        "symbol": "MNQ",
                        "ticker": "MNQ",
                        "side": "short",
                        "size": 2,
                        "avg_price": "21010.25",
                        "last_price": "21003.00",
                        "priced_from": "quotes",
                        "unrealized_pnl": "29.00",
                        "profit_ticks": 29,
                        "protected": True,
                        "unprotected_since": None,
                        "stop_price": "21040.00",
                        "opened_at": _utc(-1500),
                    },
                ],
                "orders": [
                    {
                        "id": 9001,
                        "contract_id": "CON.F.US.MNQ.Z26",
                        "symbol": "MNQ",
                        "ticker": "MNQ",
                        "side": "buy",
                        "type": "stop",
                        "size": 2,
                        "remaining": 2,
                        "limit_price": None,
                        "stop_price": "21040.00",
                        "status": "open",
                        "own": False,
                    }
                ],
                "sessions": [
                    {
                        "name": "rth",
                        "open": False,
                        "closes_at": None,
                        "next_open": _utc(60 * 60 * 15 + 14 * 60 + 58),
                    },
                ],
                "pnl": {
                    "realized": "-336.9",
                    "unrealized": "-83.50",
                    "net": "-420.40",
                    "week_net": "-48.4",
                    "trades": 7,
                },
                "contracts": {"open": "1.2", "limit": 5},
                "limits": [
                    {
                        "rule": "max-contracts",
                        "label": "Contracts open",
                        "unit": "lots",
                        "expression": "account.open_contracts > params.max_contracts",
                        "fact": "account.open_contracts",
                        "value": "1.2",
                        "limit": 5,
                        "used_pct": 24.0,
                    },
                    {
                        "rule": "daily-realized-loss",
                        "label": "Daily loss",
                        "unit": "usd",
                        "expression": "day.realized_pnl <= -params.daily_loss_limit",
                        "fact": "day.realized_pnl",
                        "value": "-336.9",
                        "limit": -500,
                        "used_pct": 67.4,
                    },
                    {
                        "rule": "trade-frequency-hour",
                        "label": "Trades per hour",
                        "unit": "trades",
                        "expression": "trades.count(within=params.trade_window_hour) "
                        "> params.max_trades_per_hour",
                        "fact": "trades.count(within=params.trade_window_hour)",
                        "value": 4,
                        "limit": 10,
                        "used_pct": 40.0,
                    },
                ],
                "lockouts": [
                    {
                        "rule": "symbol-blocks",
                        "scope": "symbol",
                        "symbol": "RTY",
                        "ticker": "RTY",
                        "kind": "lock",
                        "reason": "RTY is blocked",
                        "set_at": _utc(-600),
                        "ends_at": _utc(5 * 3600 + 44 * 60 + 58),
                        "while": None,
                        "remaining_s": 20698.0,
                    }
                ],
                "pending": [
                    {
                        "rule": "no-stop-loss-grace",
                        "item": "position:CON.F.US.EP.Z26",
                        "since": _utc(-4),
                        "fires_at": _utc(26),
                        "remaining_s": 26.0,
                    }
                ],
                "firings": [
                    {
                        "at": _utc(-900),
                        "account": 20100001,
                        "rule": "cooldown-after-loss-1",
                        "item": "fill-order:9000",
                        "kind": "rule",
                        "severity": "info",
                        "message": "Order 9000 lost $-212.50",
                        "text": "Account cooldown 5 min: cooldown-after-loss-1 — "
                        "Order 9000 lost $-212.50",
                        "intents": [],
                    }
                ],
                "intents_open": [],
            }
        ],
    }
