"""Telling the trader, in plain words: the sentences monitor lines and notifications carry.

Every firing and every enforcement result becomes one sentence a trader understands without
knowing the rule language — "Order cancelled: max-contracts-per-instrument-order — Order 9001
would take MNQ to 3, limit 2; cooldown 5 min" — shown by ``engine monitor`` and, when the admin
configured ``notify:``, pushed by :mod:`simple_risk.daemon.notifications` from its own thread.
The texts are built here once, on the engine thread (string work only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from simple_risk.daemon.executor import IntentResult
from simple_risk.engine.dsl.catalogue import ticker_of
from simple_risk.engine.engine import Firing, LockNotice
from simple_risk.engine.events import (
    AccountUpdate,
    ConnectionChanged,
    Event,
    OrderUpdate,
    PositionUpdate,
    TradeFill,
)
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    StopAt,
)
from simple_risk.words import contracts, until_words, usd

log = logging.getLogger(__name__)


# -- plain words -------------------------------------------------------------------------------


def intent_words(intent: Intent) -> str:
    """What an intent does, as a trader would say it (``Position closed``)."""
    if isinstance(intent, CancelOrder):
        return "Order cancelled"
    if isinstance(intent, ResizeOrder):
        return f"Order resized to {contracts(intent.size)}"
    if isinstance(intent, NoWorkingOrders):
        # a close cancels only its contract's orders: say whose, never "Orders cancelled"
        scope = intent.symbol or (_root(intent.contract_id) if intent.contract_id else None)
        side = f"{intent.side} " if intent.side else ""
        return f"{scope} {side}orders cancelled" if scope else _capital(f"{side}orders cancelled")
    if isinstance(intent, PositionClosed):
        return "Position closed"
    if isinstance(intent, ReduceTo):
        if intent.max_units is not None:
            return "Position reduced"  # to the account's lot limit (its message says it)
        return f"Position reduced to {contracts(intent.max_contracts)}"
    if isinstance(intent, StopAt):
        return f"Stop placed at {intent.price}"
    return "Alert"


def _key_words(key: str) -> str:
    """An intent key (``position-closed:ACCOUNT:CONTRACT``) in words, for results."""
    kind, _, rest = key.partition(":")
    target = rest.partition(":")[2]
    words = {
        "cancel-order": "order cancelled",
        "resize-order": "order resized",
        "no-working-orders": "orders cancelled",
        "position-closed": "position closed",
        "reduce-to": "position reduced",
        "stop-at": "stop placed",
    }.get(kind, kind.replace("-", " "))
    if kind == "cancel-order" and target:
        return f"order {target} cancelled"
    if kind in ("position-closed", "stop-at") and target:
        return f"{words} ({_root(target.split(':')[0])})"  # ES, not CON.F.US.EP.Z26
    return words


def duration_words(span: timedelta) -> str:
    """``45 s``, ``5 min``, ``2 h 30 min`` (rounded to what a person reads)."""
    seconds = max(round(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def _lock_words(lock: LockNotice, at: datetime, zone: tzinfo | None) -> str:
    what = "account" if lock.scope == "account" else (lock.symbol or "symbol")
    if lock.kind == "cooldown":
        span = f" {duration_words(lock.ends_at - at)}" if lock.ends_at is not None else ""
        return f"cooldown{span}" if lock.scope == "account" else f"{what} cooldown{span}"
    if lock.ends_at is None:
        return f"{what} locked while the condition holds"
    return f"{what} locked until {until_words(lock.ends_at, at, zone)}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def firing_text(firing: Firing, zone: tzinfo | None = None) -> str:
    """One line for a firing: what was done, by which rule, why, and any lockout.

    ``Order cancelled: max-contracts-order — Order 9001 would take the account to 6 lots;
    cooldown 5 min`` · ``Account locked until 17:00 CT: daily-realized-loss — …`` (a firing
    that only locks) · ``Alert: auth-loss-guard — …``.
    """
    if firing.kind == "error":
        return f"Rule error: {firing.rule_id} — {firing.message}"
    actions = _unique(intent_words(i) for i in firing.intents if not isinstance(i, Alert))
    locks = [_lock_words(lock, firing.at, zone) for lock in firing.locks]
    if actions:
        head = ", ".join([actions[0], *(a[:1].lower() + a[1:] for a in actions[1:])])
    elif locks:
        head = _capital(locks.pop(0))
    else:
        head = "Alert"
    text = f"{head}: {firing.rule_id} — {firing.message}"
    if locks:
        text += "; " + "; ".join(locks)
    return text


def result_text(result: IntentResult, rule: str | None = None) -> str:
    """One line for an enforcement result: ``Enforced: …``, ``Retrying: …``, ``No answer,
    checking with the gateway before retrying: …`` or ``Refused by the gateway: …`` (with the
    gateway's reason)."""
    what = _key_words(result.key)
    by = f" for {rule}" if rule else ""
    calls = f" ({', '.join(result.calls)})" if result.calls else ""
    if result.outcome == "done":
        return f"Enforced: {what}{by}{calls}"
    reason = f": {result.error}" if result.error else ""
    if result.outcome == "retry":
        return f"Retrying: {what}{by}{reason}"
    if result.outcome == "unsure":
        return f"No answer, checking with the gateway before retrying: {what}{by}{reason}"
    return f"Refused by the gateway: {what}{by}{reason}"


def event_text(event: Event) -> str | None:
    """A fact event in words for ``monitor`` (quotes, ticks and contract loads: None)."""
    if isinstance(event, TradeFill):
        root = _root(event.contract_id)
        pnl = "" if event.pnl is None else f", net P&L {usd(event.pnl - event.cost)}"
        voided = " (voided)" if event.voided else ""
        return f"Fill: {event.side.name.lower()} {event.size} {root} @ {event.price}{pnl}{voided}"
    if isinstance(event, PositionUpdate):
        root = _root(event.contract_id)
        if event.size <= 0:
            return f"Position: {root} flat"
        side = event.type.name.lower()
        return f"Position: {side} {event.size} {root} @ {event.average_price}"
    if isinstance(event, OrderUpdate):
        prices = "".join(
            f" {label} {price}"
            for label, price in (("limit", event.limit_price), ("stop", event.stop_price))
            if price is not None
        )
        return (
            f"Order {event.order_id}: {event.type.name.lower()} {event.side.name.lower()} "
            f"{event.size} {_root(event.contract_id)}{prices} {event.status.name.lower()}"
        )
    if isinstance(event, AccountUpdate):
        trade = "can trade" if event.can_trade else "CANNOT TRADE"
        return f"Account {event.name or event.account_id}: balance {usd(event.balance)}, {trade}"
    if isinstance(event, ConnectionChanged):
        return f"Connection: {event.hub} hub {event.state}" + (
            f" ({event.detail})" if event.detail else ""
        )
    return None


def _root(contract_id: str) -> str:
    return ticker_of(contract_id)  # ES, not ProjectX's EP


def result_severity(result: IntentResult) -> str:
    return {"done": "info", "retry": "warning", "unsure": "warning"}.get(result.outcome, "critical")


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


__all__ = [
    "duration_words",
    "event_text",
    "firing_text",
    "intent_words",
    "result_severity",
    "result_text",
    "until_words",
]
