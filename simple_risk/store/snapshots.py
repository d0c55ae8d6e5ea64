"""Engine snapshots: the engine's state as plain JSON, kept so a restart replays less journal.

The :class:`~simple_risk.store.store.Store` snapshot methods check the state with
:func:`checked_state` before any transaction opens, then call these functions with the
session. Kept apart because snapshots have their own small policy — newest first, per account
or global, pruned to the newest few — and nothing else in the store reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from simple_risk.engine.codec import CodecError, strict_json
from simple_risk.store.models import EngineSnapshotRow
from simple_risk.store.records import Snapshot, StoreError


def checked_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as strict JSON, or a :class:`StoreError` saying why it cannot be stored."""
    try:
        checked = strict_json(dict(state), "snapshot")
    except CodecError as exc:
        raise StoreError(f"snapshot cannot be stored: {exc}") from exc
    assert isinstance(checked, dict)
    return checked


def save(
    s: Session,
    account: int | None,
    at: datetime,
    state: dict[str, Any],
    journal_seq: int | None,
) -> None:
    """Add one snapshot of ``account`` (None: the global part)."""
    s.add(EngineSnapshotRow(account=account, at=at, journal_seq=journal_seq, state=state))


def latest(s: Session, account: int | None) -> Snapshot | None:
    """The newest snapshot of ``account`` (None: the global part), or None.

    Newest is the one saved last, not the one of the latest engine time: a restart that
    rebuilt the day from the journal (the snapshot before was another version's) saves a
    state whose engine time can be earlier than the unreadable one's (the journal has no
    clock ticks), and it is that state the next restart must restore."""
    row = s.scalar(
        select(EngineSnapshotRow).where(_of(account)).order_by(EngineSnapshotRow.id.desc()).limit(1)
    )
    if row is None:
        return None
    return Snapshot(
        account=row.account, at=row.at, journal_seq=row.journal_seq, state=row.state, id=row.id
    )


def prune(s: Session, account: int | None, keep: int) -> int:
    """Delete all but the newest ``keep`` snapshots of ``account``; return how many went."""
    where = _of(account)
    kept = s.scalars(
        select(EngineSnapshotRow.id).where(where).order_by(EngineSnapshotRow.id.desc()).limit(keep)
    ).all()
    gone = s.scalars(
        delete(EngineSnapshotRow)
        .where(where, EngineSnapshotRow.id.not_in(kept))
        .returning(EngineSnapshotRow.id)
    ).all()
    return len(gone)


def _of(account: int | None) -> Any:
    return (
        EngineSnapshotRow.account.is_(None)
        if account is None
        else EngineSnapshotRow.account == account
    )


__all__ = ["checked_state", "latest", "prune", "save"]
