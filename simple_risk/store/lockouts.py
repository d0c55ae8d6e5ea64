"""Lockout rows: written with their firing, read while in force, cleared early with a reason.

The :class:`~simple_risk.store.store.Store` lockout methods open the transaction and call these
functions with its session; :func:`insert` runs inside the firing's own transaction (see
:mod:`simple_risk.store.firings`). Kept apart because what "in force" means (not cleared, and a
``while:`` lock or one not yet ended) and the audited early clear are the lockout's own rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from simple_risk.store import audit
from simple_risk.store import rows as convert
from simple_risk.store.database import Dialect
from simple_risk.store.inputs import LockoutInput
from simple_risk.store.models import FiringRow, LockoutRow
from simple_risk.store.records import Lockout, StoreError


def insert(s: Session, firing: FiringRow, lockouts: Sequence[LockoutInput]) -> tuple[int, ...]:
    """Write the firing's lockouts; return their ids, in the order given."""
    rows = [
        LockoutRow(
            account=lock.account,
            scope=lock.scope,
            symbol=lock.symbol,
            rule_id=lock.rule,
            reason=lock.reason,
            firing_id=firing.id,
            start_at=lock.start,
            end_at=lock.end,
            while_expr=lock.while_expr,
            bindings=lock.bindings,
        )
        for lock in lockouts
    ]
    s.add_all(rows)
    s.flush()
    return tuple(row.id for row in rows)


def find(s: Session, lockout_id: int) -> Lockout | None:
    """One lockout by id, in force or not."""
    row = s.get(LockoutRow, lockout_id)
    return None if row is None else convert.lockout(row)


def active(s: Session, now: datetime, account: int | None) -> list[Lockout]:
    """Lockouts in force at ``now`` (of one account, or all), by id."""
    query = select(LockoutRow).where(
        LockoutRow.cleared_at.is_(None),
        or_(LockoutRow.end_at.is_(None), LockoutRow.end_at > now),
    )
    if account is not None:
        query = query.where(LockoutRow.account == account)
    return [convert.lockout(row) for row in s.scalars(query.order_by(LockoutRow.id))]


def lifted(s: Session, now: datetime, account: int) -> list[Lockout]:
    """The account's lockouts cleared early that would be in force at ``now`` otherwise
    (``while:`` locks, or not yet ended), by id."""
    query = select(LockoutRow).where(
        LockoutRow.account == account,
        LockoutRow.cleared_at.is_not(None),
        or_(LockoutRow.end_at.is_(None), LockoutRow.end_at > now),
    )
    return [convert.lockout(row) for row in s.scalars(query.order_by(LockoutRow.id))]


def clear(
    s: Session,
    dialect: Dialect,
    lockout_ids: Sequence[int],
    *,
    now: datetime,
    by: str,
    why: str,
    admin: bool,
) -> list[Lockout]:
    """End lockout rows that are not cleared yet — the rows of one lock (a rule that fired
    again while locked set it twice); with ``admin``, audit the clear once, in the same
    transaction."""
    rows: list[LockoutRow] = []
    for lockout_id in lockout_ids:
        row = s.get(LockoutRow, lockout_id, with_for_update=dialect == "postgresql")
        if row is None:
            raise StoreError(f"no lockout {lockout_id}")
        if row.cleared_at is not None:
            raise StoreError(
                f"lockout {lockout_id} was already cleared at {row.cleared_at.isoformat()} "
                f"by {row.cleared_by}"
            )
        row.cleared_at = now
        row.cleared_by = by
        row.clear_reason = why
        rows.append(row)
    if admin and rows:
        args: dict[str, object] = {"lockout_id": rows[0].id, "rule": rows[0].rule_id}
        if len(rows) > 1:
            args["lockout_ids"] = [row.id for row in rows]
        audit.add(
            s,
            at=now,
            who=by,
            action="clear_lockout",
            account=rows[0].account,
            args=args,
            why=why,
            result="cleared",
        )
    return [convert.lockout(row) for row in rows]


__all__ = ["active", "clear", "find", "insert", "lifted"]
