"""The per-account event journal: numbered appends, reading back what a restart replays, and
pruning its oldest entries behind a snapshot (``retention_days``: simple_risk.daemon.retention).

The :class:`~simple_risk.store.store.Store` journal methods check the events with
:func:`encode` before any transaction opens, then call :func:`append` (or a read) with the
session. Kept apart because the journal's one rule — an account's seqs run 1, 2, 3 … with no
gap and no duplicate, even while two daemons hand a lease over — is what restarts rely on, and
it is easiest to keep when the code that numbers entries is in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from simple_risk.engine.codec import CodecError, event_from_json, event_to_json
from simple_risk.engine.events import Event, OwnOrder
from simple_risk.store.database import Dialect
from simple_risk.store.inputs import require_aware
from simple_risk.store.models import JournalEntryRow
from simple_risk.store.records import JournalEntry, StoreError

#: One event ready to journal: its time, its kind (the event class) and its JSON.
Encoded = tuple[datetime, str, dict[str, Any]]

# Advisory lock space (first int4 key) of the per-account journal append lock.
_JOURNAL_LOCK_SPACE = 0x534A  # "SJ"


def encode(account: int, events: Sequence[Event]) -> list[Encoded]:
    """The events as journal rows, refusing one of another account, a naive time, or one the
    codec cannot write."""
    pending: list[Encoded] = []
    for position, domain_event in enumerate(events):
        owner = getattr(domain_event, "account_id", None)
        if owner is not None and owner != account:
            raise StoreError(
                f"event {position} ({type(domain_event).__name__}) belongs to account "
                f"{owner}, not {account}"
            )
        at = require_aware(domain_event.at, f"event {position} at")
        try:
            payload = event_to_json(domain_event)
        except CodecError as exc:
            raise StoreError(f"event {position} cannot be journaled: {exc}") from exc
        pending.append((at, type(domain_event).__name__, payload))
    return pending


def append(s: Session, dialect: Dialect, account: int, pending: Sequence[Encoded]) -> list[int]:
    """Add the encoded events after ``account``'s last seq; return their seqs."""
    if dialect == "postgresql":
        # Serialise appends to one account (SQLite's BEGIN IMMEDIATE already does), so
        # two writers never pick the same next seq even during a lease handover.
        s.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS int), CAST(:key AS int))"),
            {"space": _JOURNAL_LOCK_SPACE, "key": account % 2**31},
        )
    first = last_seq(s, account) + 1
    s.add_all(
        JournalEntryRow(account=account, seq=first + i, at=at, kind=kind, payload=payload)
        for i, (at, kind, payload) in enumerate(pending)
    )
    return list(range(first, first + len(pending)))


def last_seq(s: Session, account: int) -> int:
    """The seq of ``account``'s last journaled event (0 when none)."""
    last = s.scalar(select(func.max(JournalEntryRow.seq)).where(JournalEntryRow.account == account))
    return last or 0


def entries_after(
    s: Session,
    account: int,
    seq: int,
    limit: int | None,
    unreadable: Callable[[int, str], None] | None = None,
) -> list[JournalEntry]:
    """``account``'s entries after ``seq``, oldest first, decoded; at most ``limit``.

    An entry this version cannot decode (written by a newer one, or damaged) raises
    :class:`StoreError`, unless ``unreadable`` is given: then it is told (seq, why) and the
    entry is left out."""
    query = (
        select(JournalEntryRow)
        .where(JournalEntryRow.account == account, JournalEntryRow.seq > seq)
        .order_by(JournalEntryRow.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = s.scalars(query).all()
    entries: list[JournalEntry] = []
    for row in rows:
        try:
            decoded = event_from_json(row.payload)
        except CodecError as exc:
            if unreadable is None:
                message = f"journal entry {account}/{row.seq} cannot be read: {exc}"
                raise StoreError(message) from exc
            unreadable(row.seq, str(exc))
            continue
        entries.append(JournalEntry(account=account, seq=row.seq, at=row.at, event=decoded))
    return entries


def prune(
    s: Session,
    account: int,
    *,
    before: datetime,
    through_seq: int,
    keep_tags: frozenset[str],
    limit: int,
) -> tuple[int, bool]:
    """Delete one batch (at most ``limit`` seqs) of ``account``'s oldest entries: those
    journaled before ``before`` and at or below ``through_seq`` (the position of a snapshot
    that covers them). Returns (rows deleted, whether more would go).

    What goes is always a run of the oldest seqs, stopping at the first entry not older than
    ``before``, so what stays is exactly what came after some point. Never deleted: the
    newest entry (the next append numbers after it: an emptied journal would number from 1
    again, behind the snapshot's position), and an own-order record (``OwnOrder``) whose tag
    is in ``keep_tags`` (an order of the daemon's still working, or one whose id it does not
    know yet): a rebuild from the journal alone still knows that order as the daemon's."""
    top = min(through_seq, last_seq(s, account) - 1)
    first = s.scalar(
        select(func.min(JournalEntryRow.seq)).where(
            JournalEntryRow.account == account,
            JournalEntryRow.kind != OwnOrder.__name__,
            JournalEntryRow.seq <= top,
        )
    )
    upto = top if first is None else min(top, first + limit - 1)
    more = upto < top
    # the first entry not older than ``before`` ends the run (the journal is in engine-time
    # order): looked for among this batch's seqs only, so a batch reads what it deletes and
    # the few own-order records kept below it, never the whole journal
    recent = s.scalar(
        select(func.min(JournalEntryRow.seq)).where(
            JournalEntryRow.account == account,
            JournalEntryRow.seq <= upto,
            JournalEntryRow.at >= before,
        )
    )
    if recent is not None:
        upto, more = recent - 1, False
    own = s.execute(
        select(JournalEntryRow.id, JournalEntryRow.payload).where(
            JournalEntryRow.account == account,
            JournalEntryRow.kind == OwnOrder.__name__,
            JournalEntryRow.seq <= upto,
        )
    ).all()
    gone = 0
    if first is not None and first <= upto:
        result = s.execute(
            delete(JournalEntryRow).where(
                JournalEntryRow.account == account,
                JournalEntryRow.kind != OwnOrder.__name__,
                JournalEntryRow.seq <= upto,
            )
        )
        gone += int(getattr(result, "rowcount", 0) or 0)
    stale = [
        row_id
        for row_id, payload in own
        if (tag := _own_tag(payload)) is not None and tag not in keep_tags
    ]
    if stale:
        s.execute(delete(JournalEntryRow).where(JournalEntryRow.id.in_(stale)))
        gone += len(stale)
    return gone, more


def _own_tag(payload: dict[str, Any]) -> str | None:
    """The tag of a journaled ``OwnOrder`` (None when this version cannot read it: kept)."""
    try:
        event = event_from_json(payload)
    except CodecError:
        return None
    return event.custom_tag if isinstance(event, OwnOrder) else None


def kept_since(s: Session, account: int | None) -> dict[int, datetime]:
    """Accounts (``account`` alone, or every one) whose journal was pruned, each with the
    time its journal is whole from: its oldest fact kept, or — pruned down to own-order
    records — its newest entry."""
    counts = select(JournalEntryRow.account, func.count(), func.max(JournalEntryRow.seq)).group_by(
        JournalEntryRow.account
    )
    if account is not None:
        counts = counts.where(JournalEntryRow.account == account)
    kept: dict[int, datetime] = {}
    for owner, rows, last in s.execute(counts).all():
        if rows >= last:  # seqs are numbered from 1 without gaps: none went
            continue
        first = s.scalar(
            select(func.min(JournalEntryRow.seq)).where(
                JournalEntryRow.account == owner, JournalEntryRow.kind != OwnOrder.__name__
            )
        )
        at = s.scalar(
            select(JournalEntryRow.at).where(
                JournalEntryRow.account == owner,
                JournalEntryRow.seq == (last if first is None else first),
            )
        )
        if at is not None:
            kept[int(owner)] = at
    return kept


__all__ = ["Encoded", "append", "encode", "entries_after", "kept_since", "last_seq", "prune"]
