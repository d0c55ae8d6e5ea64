"""What ``status``, ``explain`` and ``monitor`` show, built from the daemon's live state.

Every function here that reads an engine runs on the engine thread (the server submits it as
an engine command), so no engine dict is iterated while the engine changes it. The results
are plain dicts; Decimal and datetime values are turned into strings by
:func:`simple_risk.daemon.control.protocol.plain` when the answer is encoded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simple_risk.engine import operations
from simple_risk.engine.calendar import CalendarError, TradingCalendar
from simple_risk.engine.dsl.catalogue import ticker_of
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.intents import Alert

if TYPE_CHECKING:
    from simple_risk.daemon.control.target import ControlTarget

#: firings kept per account for ``status`` (newest last)
RECENT_FIRINGS = 10


def firing_record(firing: Firing, text: str) -> dict[str, Any]:
    """A firing as ``status``, ``explain`` and ``monitor`` show it (kept by the daemon)."""
    return {
        "at": firing.at,
        "account": firing.account,
        "rule": firing.rule_id,
        "item": firing.item,
        "kind": firing.kind,
        "severity": firing.severity,
        "message": firing.message,
        "text": text,
        "values": {name: _value(value) for name, value in firing.values.items()},
        "intents": [repr(intent) for intent in firing.intents],
        "intent_keys": [i.key for i in firing.intents if not isinstance(i, Alert)],
        "locks": [
            {
                "scope": lock.scope,
                "symbol": lock.symbol,
                "kind": lock.kind,
                "ends_at": lock.ends_at,
                "reason": lock.reason,
            }
            for lock in firing.locks
        ],
    }


def _value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def day_start(daemon: ControlTarget, now: datetime) -> datetime:
    """When the current trading day began (the earliest, should the guarded accounts' rule
    books keep different calendars)."""
    starts = [
        engine.calendar.trading_day_start(engine.calendar.trading_day(now))
        for engine in daemon.engines.values()
    ]
    return min(starts, default=now)


def daemon_status(
    daemon: ControlTarget, now: datetime, account: int | None = None
) -> dict[str, Any]:
    """The daemon's line; for one account, only its alerts and the daemon's own. The alerts
    are those still current (the trading day's, or the last hour's); ``alerts_earlier``
    counts the older ones kept in memory (``engine history --kind alert`` has them)."""
    alerts, earlier = daemon.alerter.current(10, now, day_start(daemon, now), account)
    return {
        "pid": os.getpid(),
        "started_at": daemon.started_at,
        "queue_depth": daemon.queue.depth(),
        "events_applied": daemon.events_applied,
        "firings": daemon.firings_total,
        "reconciles": daemon.reconciles,
        "intents_open": len(daemon.book),
        "store": daemon.store_health(),
        "alerts": alerts,
        "alerts_earlier": earlier,
        "ruleset": daemon.ruleset_name(),
    }


def account_status(daemon: ControlTarget, account: int, now: datetime) -> dict[str, Any]:
    """One account's whole picture (docs/status-protocol.md, ``status``)."""
    engine = daemon.engines[account]
    state = engine.account(account)
    facts = engine.facts(account)
    day, week = facts.get("day"), facts.get("week")
    limits = operations.limit_usage(engine, account)
    contracts_limit = next(
        (entry["limit"] for entry in limits if entry["fact"] == "account.open_contracts"), None
    )
    account_facts = facts.get("account")
    return {
        "id": account,
        "name": state.name if state is not None else "",
        "can_trade": state.can_trade if state is not None else None,
        "balance": state.balance if state is not None else None,
        "ruleset": engine.ruleset.name,
        "mode": daemon.enforcement.choice(account).mode,
        "mode_source": daemon.enforcement.choice(account).source,
        "connection": {
            "live": account in daemon.live_accounts(),
            "lease": "lost" if account in daemon.lease_lost_accounts() else "held",
            #: the parts serving the account that keep failing (docs/architecture.md §6)
            "degraded": daemon.degraded_accounts().get(account, []),
            "user_hub": daemon.hub_states.get("user", "connecting"),
            "market_hub": daemon.hub_states.get("market", "connecting"),
            "last_reconcile_at": daemon.last_reconcile_at.get(account),
        },
        "positions": _positions(engine, account, daemon.bar_priced),
        "orders": _orders(engine, account),
        "sessions": sessions(engine.calendar, now),
        "pnl": {
            "realized": getattr(day, "realized_pnl", None),
            "unrealized": getattr(day, "unrealized_pnl", None),
            "net": getattr(day, "net_pnl", None),
            "week_net": getattr(week, "realized_pnl", None),
            "trades": getattr(day, "trade_count", None),
        },
        "contracts": {
            "open": getattr(account_facts, "open_contracts", None),
            "limit": contracts_limit,
        },
        "limits": limits,
        "derived": [
            {**entry, "ticker": ticker_of(entry["item"]) if entry["item"] else None}
            for entry in operations.derived_values(engine, account)
        ],
        "lockouts": [
            {
                **lock,
                "ticker": engine.ruleset.symbols.root(lock["symbol"]) if lock["symbol"] else None,
            }
            for lock in operations.lockouts(engine, account, now)
        ],
        "pending": operations.pending_rules(engine, account, now),
        "firings": [_public(record) for record in daemon.recent_firings(account)],
        "intents_open": [
            {"key": key, "kind": type(tracked.intent).__name__, "state": tracked.state}
            for key, tracked in daemon.book.items()
            if tracked.account == account
        ],
    }


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("intent_keys", "values", "locks")}


def _positions(
    engine: Engine, account: int, bar_priced: Mapping[str, datetime]
) -> list[dict[str, Any]]:
    """The account's positions; ``priced_from``: "bars" while the contract's quotes are
    missing and its price comes from REST bars (daemon/barquotes.py), else "quotes"."""
    state = engine.account(account)
    if state is None:
        return []
    return [
        {
            "contract_id": p.contract_id,
            "symbol": p.symbol,
            "ticker": engine.ruleset.symbols.root(p.symbol),
            "side": p.side,
            "size": p.size,
            "avg_price": p.avg_price,
            "last_price": p.last_price,
            "priced_from": "bars" if p.contract_id in bar_priced else "quotes",
            "unrealized_pnl": p.unrealized_pnl,
            "profit_ticks": p.profit_ticks,
            "protected": p.protected,
            "unprotected_since": p.unprotected_since,
            "stop_price": p.stop_price,
            "opened_at": p.opened_at,
        }
        for p in sorted(state.positions.values(), key=lambda p: p.contract_id)
    ]


def _orders(engine: Engine, account: int) -> list[dict[str, Any]]:
    state = engine.account(account)
    if state is None:
        return []
    return [
        {
            "id": o.id,
            "contract_id": o.contract_id,
            "symbol": o.symbol,
            "ticker": engine.ruleset.symbols.root(o.symbol),
            "side": o.side,
            "type": o.type,
            "size": o.size,
            "remaining": o.remaining,
            "limit_price": o.limit_price,
            "stop_price": o.stop_price,
            "status": o.status,
            "own": o.own,
        }
        for o in sorted(state.orders.values(), key=lambda o: o.id)
    ]


def sessions(calendar: TradingCalendar, now: datetime) -> list[dict[str, Any]]:
    """Each session of the calendar: open now (and until when) or when it opens next — so
    every view can tell the trader whether the market is open."""
    found = []
    for name in sorted(calendar.spec.sessions):
        try:
            to_close = calendar.minutes_to_close(name, now)
            next_open = None if to_close is not None else calendar.next_session_start(name, now)
        except CalendarError:
            continue
        found.append(
            {
                "name": name,
                "open": to_close is not None,
                "closes_at": (
                    now + timedelta(minutes=float(to_close)) if to_close is not None else None
                ),
                "next_open": next_open,
            }
        )
    return found


def explain(daemon: ControlTarget, rule: str, account: int, now: datetime) -> dict[str, Any]:
    """``operations.explain`` plus the daemon's memory: the rule's last firing on the
    account and the intents it issued that are not met yet."""
    engine = daemon.engines[account]
    explained = operations.explain(engine, rule, account, now)
    last = daemon.last_firing(account, rule)
    explained["last_firing"] = (
        None
        if last is None
        else {
            k: last[k]
            for k in ("at", "item", "kind", "severity", "message", "values", "intents", "text")
        }
    )
    unmet = {intent.key: intent for intent in engine.unmet_intents(account)}
    keys = last["intent_keys"] if last is not None else []
    explained["intents"] = [repr(unmet[key]) for key in keys if key in unmet]
    return explained


def lockouts_with_account(
    daemon: ControlTarget, account: int, now: datetime
) -> list[dict[str, Any]]:
    return [
        {"account": account, **lock}
        for lock in operations.lockouts(daemon.engines[account], account, now)
    ]


__all__ = [
    "RECENT_FIRINGS",
    "account_status",
    "daemon_status",
    "explain",
    "firing_record",
    "lockouts_with_account",
    "sessions",
]
