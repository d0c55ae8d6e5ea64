"""The merged timeline behind ``engine history``: fills, firings, lockouts, intents, admin
actions and the daemon's alerts.

:meth:`Store.history <simple_risk.store.store.Store.history>` checks its arguments, opens one
read transaction and calls :func:`collect`, then keeps the newest items with :func:`newest`.
The timeline is the store's biggest read — one query per kind, a de-duplication of corrected
fills, one ordering across all of them — and it shares nothing with the writes, so it lives
apart from them and can be read in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from simple_risk.engine.codec import CodecError, event_from_json
from simple_risk.engine.events import TradeFill
from simple_risk.store import rows as convert
from simple_risk.store.models import (
    AdminActionRow,
    AlertRow,
    FiringRow,
    IntentRow,
    JournalEntryRow,
    LockoutRow,
)
from simple_risk.store.records import (
    HISTORY_KINDS,
    HistoryItem,
    HistoryKind,
    Lockout,
    StoreError,
)

#: One timeline item with what orders it: time, then kind (in :data:`HISTORY_KINDS` order),
#: then the row it came from.
Entry = tuple[datetime, int, int, HistoryItem]


def wanted_kinds(kinds: Sequence[HistoryKind] | None) -> set[HistoryKind]:
    """The kinds asked for (every kind when None); an unknown kind is refused."""
    wanted = set(HISTORY_KINDS if kinds is None else kinds)
    unknown = wanted - set(HISTORY_KINDS)
    if unknown:
        raise StoreError(
            f"unknown history kinds {', '.join(sorted(unknown))} "
            f"(known: {', '.join(HISTORY_KINDS)})"
        )
    return wanted


def collect(
    s: Session,
    since: datetime,
    end: datetime | None,
    *,
    rule: str | None,
    account: int | None,
    wanted: set[HistoryKind],
) -> list[Entry]:
    """Every item of the ``wanted`` kinds in ``[since, end)``, unordered.

    With ``rule``, fills, admin actions and alerts (which belong to no rule) are left out. With
    ``account``, an alert about the daemon itself (every account's) is kept beside the
    account's own, as ``status`` shows them.
    """
    items: list[Entry] = []
    order = {kind: i for i, kind in enumerate(HISTORY_KINDS)}

    def add(item: HistoryItem, row_id: int) -> None:
        items.append((item.at, order[item.kind], row_id, item))

    if "fill" in wanted and rule is None:
        for fill_item, row_id in _fill_history(s, since, end, account):
            add(fill_item, row_id)
    if "firing" in wanted:
        fq = select(FiringRow).where(*_between(FiringRow.fired_at, since, end))
        if rule is not None:
            fq = fq.where(FiringRow.rule_id == rule)
        if account is not None:
            fq = fq.where(FiringRow.account == account)
        for f in s.scalars(fq):
            add(convert.firing_item(convert.firing(f)), f.id)
    if "lockout" in wanted or "lockout_cleared" in wanted:
        lq = select(LockoutRow)
        if rule is not None:
            lq = lq.where(LockoutRow.rule_id == rule)
        if account is not None:
            lq = lq.where(LockoutRow.account == account)
        if "lockout" in wanted:
            for lock in s.scalars(lq.where(*_between(LockoutRow.start_at, since, end))):
                add(convert.lockout_item(convert.lockout(lock)), lock.id)
        if "lockout_cleared" in wanted:
            cleared = lq.where(*_between(LockoutRow.cleared_at, since, end))
            # the rows of one lock (set again while in force) cleared at once: one clear
            clears: dict[tuple[object, ...], list[Lockout]] = {}
            for row in s.scalars(cleared.order_by(LockoutRow.id)):
                one = convert.lockout(row)
                key = (one.account, one.rule, one.scope, one.symbol, one.cleared_at)
                clears.setdefault(key, []).append(one)
            for locks in clears.values():
                ids = [one.id for one in locks]
                add(convert.lockout_cleared_item(locks[0], ids), ids[0])
    if "intent" in wanted:
        when = func.coalesce(IntentRow.finished_at, IntentRow.created_at)
        iq = (
            select(IntentRow)
            .where(*_between(when, since, end))
            .order_by(IntentRow.created_at, IntentRow.firing_id, IntentRow.ordinal)
        )
        if rule is not None:
            iq = iq.where(IntentRow.rule_id == rule)
        if account is not None:
            iq = iq.where(IntentRow.account == account)
        for i, intent_row in enumerate(s.scalars(iq)):
            add(convert.intent_item(convert.intent(intent_row)), i)
    if "admin" in wanted and rule is None:
        aq = select(AdminActionRow).where(*_between(AdminActionRow.at, since, end))
        if account is not None:
            aq = aq.where(AdminActionRow.account == account)
        for a in s.scalars(aq):
            add(convert.admin_item(convert.admin(a)), a.id)
    if "alert" in wanted and rule is None:
        alq = select(AlertRow).where(*_between(AlertRow.at, since, end))
        if account is not None:
            alq = alq.where((AlertRow.account == account) | AlertRow.account.is_(None))
        for alert in s.scalars(alq):
            add(convert.alert_item(alert), alert.id)
    return items


def recent_alerts(
    s: Session, since: datetime, limit: int
) -> list[tuple[datetime, str, str, int | None]]:
    """The newest ``limit`` alerts since ``since``, oldest first, as (at, level, message,
    account): a restart shows the day's again."""
    rows = s.scalars(
        select(AlertRow)
        .where(AlertRow.at >= since)
        .order_by(AlertRow.at.desc(), AlertRow.id.desc())
        .limit(limit)
    )
    return [(row.at, row.level, row.message, row.account) for row in reversed(list(rows))]


def newest(items: list[Entry], limit: int | None) -> list[HistoryItem]:
    """The items oldest first, keeping only the newest ``limit`` of them (all when None)."""
    items.sort(key=lambda entry: entry[:3])
    kept = items if limit is None else items[-limit:]
    return [entry[3] for entry in kept]


def _fill_history(
    s: Session,
    since: datetime,
    until: datetime | None,
    account: int | None,
) -> list[tuple[HistoryItem, int]]:
    """Journaled fills in the window, once per (account, trade id): at the time first seen,
    with the content last seen."""
    query = (
        select(JournalEntryRow)
        .where(JournalEntryRow.kind == "TradeFill", *_between(JournalEntryRow.at, since, until))
        .order_by(JournalEntryRow.account, JournalEntryRow.seq)
    )
    if account is not None:
        query = query.where(JournalEntryRow.account == account)
    seen: dict[tuple[int, int], tuple[datetime, int, TradeFill, int]] = {}
    for row in s.scalars(query):
        try:
            fill = event_from_json(row.payload)
        except CodecError as exc:
            raise StoreError(
                f"journal entry {row.account}/{row.seq} cannot be read: {exc}"
            ) from exc
        if not isinstance(fill, TradeFill):
            continue
        key = (row.account, fill.trade_id)
        first = seen.get(key)
        seen[key] = (
            (first[0], first[1], fill, row.seq) if first else (row.at, row.id, fill, row.seq)
        )
    return [
        (dataclasses.replace(convert.fill_item(fill, seq), at=first_at), row_id)
        for first_at, row_id, fill, seq in seen.values()
    ]


def _between(column: Any, since: datetime, until: datetime | None) -> list[Any]:
    conditions = [column >= since]
    if until is not None:
        conditions.append(column < until)
    return conditions


__all__ = ["Entry", "collect", "newest", "wanted_kinds"]
