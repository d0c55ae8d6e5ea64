"""Table rows turned into the records the daemon sees, and into ``engine history`` lines.

Kept apart from the store's query modules so that they read as what they do to the
database, and the wording of history lines lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Literal, cast

from simple_risk.engine.codec import CodecError, contract_from_json
from simple_risk.engine.dsl.catalogue import ticker_of
from simple_risk.engine.events import ContractInfo, TradeFill
from simple_risk.store.models import (
    AdminActionRow,
    AlertRow,
    ContractCacheRow,
    FiringRow,
    IntentRow,
    LockoutRow,
)
from simple_risk.store.records import (
    AdminAction,
    Firing,
    HistoryItem,
    Intent,
    IntentState,
    Lockout,
    StoreError,
)
from simple_risk.words import intent_summary, usd


def intent(row: IntentRow) -> Intent:
    return Intent(
        key=row.key,
        account=row.account,
        rule=row.rule_id,
        kind=row.kind,
        body=row.body,
        state=cast(IntentState, row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        firing_id=row.firing_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def lockout(row: LockoutRow) -> Lockout:
    return Lockout(
        id=row.id,
        account=row.account,
        scope=cast(Literal["account", "symbol"], row.scope),
        symbol=row.symbol,
        rule=row.rule_id,
        reason=row.reason,
        firing_id=row.firing_id,
        start=row.start_at,
        end=row.end_at,
        while_expr=row.while_expr,
        bindings=row.bindings,
        cleared_at=row.cleared_at,
        cleared_by=row.cleared_by,
        clear_reason=row.clear_reason,
    )


def firing(row: FiringRow) -> Firing:
    return Firing(
        id=row.id,
        rule=row.rule_id,
        account=row.account,
        item=row.item_key or None,
        at=row.fired_at,
        severity=row.severity,
        message=row.message,
        values=row.decisive,
        intents=row.intents,
        journal_seq=row.journal_seq,
    )


def admin(row: AdminActionRow) -> AdminAction:
    return AdminAction(
        id=row.id,
        at=row.at,
        who=row.actor,
        action=row.action,
        account=row.account,
        args=row.args,
        why=row.why,
        result=row.result,
    )


def contract(row: ContractCacheRow) -> ContractInfo:
    try:
        return contract_from_json(row.payload)
    except CodecError as exc:
        raise StoreError(f"cached contract {row.contract_id} cannot be read: {exc}") from exc


def item_words(item: str) -> str:
    """A firing's item as a trader reads it: ``position:CON.F.US.EP.Z26`` → ``ES position``
    (the ticker, never ProjectX's root); other items as ``order 9001``."""
    kind, _, key = item.rpartition(":")
    if key.startswith("CON."):
        return f"{ticker_of(key)} {kind}".strip()
    return f"{kind} {key}" if kind else key


def firing_item(f: Firing) -> HistoryItem:
    target = f" [{item_words(f.item)}]" if f.item else ""
    return HistoryItem(
        at=f.at,
        kind="firing",
        account=f.account,
        rule=f.rule,
        summary=f"{f.severity} {f.rule}{target}: {f.message}",
        details={"firing_id": f.id, "values": f.values, "intents": f.intents},
    )


def lockout_item(lock: Lockout) -> HistoryItem:
    what = "account" if lock.scope == "account" else ticker_of(lock.symbol or "symbol")
    until = (
        f"until {lock.end.astimezone(UTC).isoformat()}" if lock.end else f"while {lock.while_expr}"
    )
    return HistoryItem(
        at=lock.start,
        kind="lockout",
        account=lock.account,
        rule=lock.rule,
        summary=f"{what} locked {until}: {lock.reason}",
        details={"lockout_id": lock.id, "firing_id": lock.firing_id, "bindings": lock.bindings},
    )


def lockout_cleared_item(lock: Lockout, rows: Sequence[int] = ()) -> HistoryItem:
    """One clear of a lock, however many stored rows set it (its ``rows``: a rule that fired
    again while locked set it again): the trader's one lock, cleared once."""
    assert lock.cleared_at is not None
    what = "account" if lock.scope == "account" else ticker_of(lock.symbol or "symbol")
    ids = list(rows) or [lock.id]
    return HistoryItem(
        at=lock.cleared_at,
        kind="lockout_cleared",
        account=lock.account,
        rule=lock.rule,
        summary=f"{what} lock cleared by {lock.cleared_by}: {lock.clear_reason}",
        details={"lockout_id": ids[0], "lockout_ids": ids},
    )


def intent_item(intent: Intent) -> HistoryItem:
    summary = intent_summary(
        intent.kind, intent.body, intent.state, intent.attempts, intent.last_error, ticker_of
    )
    would = intent.body.get("would")
    if isinstance(would, list):
        # recorded while the account was only observed: what enforcing would have sent
        said = "would " + "; ".join(str(words) for words in would) if would else None
        summary = f"OBSERVED, not enforced: {said or 'nothing to send'} ({summary})"
    return HistoryItem(
        at=intent.finished_at or intent.created_at,
        kind="intent",
        account=intent.account,
        rule=intent.rule,
        summary=summary,
        details={"key": intent.key, "body": intent.body, "firing_id": intent.firing_id},
    )


def fill_item(fill: TradeFill, seq: int) -> HistoryItem:
    """A fill from the journal: side, size, root and contract, price, and its P&L net of
    costs (an opening fill has none); fees and commissions in the details."""
    root = ticker_of(fill.contract_id)  # ES, not ProjectX's EP
    cost = fill.cost
    if fill.pnl is None:
        pnl = f"opening, costs {usd(cost)}" if cost else "opening"
        net = None
    else:
        net = fill.pnl - cost
        pnl = f"net P&L {usd(net)}"
    voided = " (voided)" if fill.voided else ""
    return HistoryItem(
        at=fill.at,
        kind="fill",
        account=fill.account_id,
        rule=None,
        summary=(f"{fill.side.name.lower()} {fill.size} {root} @ {fill.price}, {pnl}{voided}"),
        details={
            "trade_id": fill.trade_id,
            "order_id": fill.order_id,
            "contract_id": fill.contract_id,
            "symbol": root,
            "side": fill.side.name.lower(),
            "size": fill.size,
            "price": str(fill.price),
            "pnl": None if fill.pnl is None else str(fill.pnl),
            "fees": str(fill.fees),
            "commissions": None if fill.commissions is None else str(fill.commissions),
            "net_pnl": None if net is None else str(net),
            "voided": fill.voided,
            "created_at": fill.created_at.isoformat() if fill.created_at else None,
            "journal_seq": seq,
        },
    )


def admin_item(action: AdminAction) -> HistoryItem:
    return HistoryItem(
        at=action.at,
        kind="admin",
        account=action.account,
        rule=None,
        summary=f"{action.who} {action.action}: {action.result} ({action.why})",
        details={"admin_action_id": action.id, "args": action.args},
    )


def alert_item(row: AlertRow) -> HistoryItem:
    return HistoryItem(
        at=row.at,
        kind="alert",
        account=row.account,
        rule=None,
        summary=f"{row.level}: {row.message}",
        details={"alert_id": row.id, "level": row.level},
    )


__all__ = [
    "admin",
    "admin_item",
    "alert_item",
    "contract",
    "fill_item",
    "firing",
    "firing_item",
    "intent",
    "intent_item",
    "lockout",
    "lockout_cleared_item",
    "lockout_item",
]
