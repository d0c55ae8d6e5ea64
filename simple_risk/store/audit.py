"""The admin audit log: who did what to which account, why, and what came of it.

:meth:`Store.record_admin_action <simple_risk.store.store.Store.record_admin_action>` writes
one entry in its own transaction; :mod:`simple_risk.store.lockouts` adds one inside the
transaction that clears a lockout, so a clear is never missing from the trail. Both write
through :func:`add`, the one place an audit row is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from simple_risk.store import rows as convert
from simple_risk.store.inputs import json_object
from simple_risk.store.models import AdminActionRow
from simple_risk.store.records import AdminAction


def add(
    s: Session,
    *,
    at: datetime,
    who: str,
    action: str,
    account: int | None,
    args: dict[str, Any],
    why: str,
    result: str,
) -> AdminActionRow:
    """Add one audit row to the session's transaction (its id is known after a flush)."""
    row = AdminActionRow(
        at=at,
        actor=who,
        action=action,
        account=account,
        args=args,
        why=why,
        result=result,
    )
    s.add(row)
    return row


def record(
    s: Session,
    *,
    at: datetime,
    who: str,
    action: str,
    why: str,
    result: str,
    account: int | None,
    args: Mapping[str, Any] | None,
) -> int:
    """Write one admin command's entry, its ``args`` checked as a JSON object; return its id."""
    row = add(
        s,
        at=at,
        who=who,
        action=action,
        account=account,
        args=json_object(args or {}, "admin args"),
        why=why,
        result=result,
    )
    s.flush()
    return row.id


def actions(s: Session, since: datetime | None) -> list[AdminAction]:
    """Admin commands (at or after ``since``, when given), oldest first."""
    query = select(AdminActionRow).order_by(AdminActionRow.at, AdminActionRow.id)
    if since is not None:
        query = query.where(AdminActionRow.at >= since)
    return [convert.admin(row) for row in s.scalars(query)]


__all__ = ["actions", "add", "record"]
