"""Per-account leases: which daemon may enforce an account, and until when.

The :class:`~simple_risk.store.store.Store` lease methods open a write (or read) transaction
and call these functions with its session. They are kept together and apart from the rest of
the store because their correctness is subtle and all of one kind: a conditional upsert that
two daemons can race on, an expiry judged only against the ``now`` the caller passes, and the
check (:func:`require`) that other writes make in their own transaction before acting for an
account.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from simple_risk.store.database import Dialect
from simple_risk.store.inputs import require_aware
from simple_risk.store.models import LeaseRow
from simple_risk.store.records import Lease, LeaseLost, StoreError


def expiry(owner: str, ttl: timedelta, now: datetime) -> datetime:
    """When a lease taken or renewed by ``owner`` at ``now`` for ``ttl`` ends; checked
    before any transaction opens, so a bad argument never touches the database."""
    require_aware(now, "now")
    if not owner:
        raise StoreError("a lease owner id must be a non-empty string")
    if ttl <= timedelta(0):
        raise StoreError(f"a lease ttl must be positive, got {ttl}")
    return now + ttl


def acquire(
    s: Session,
    dialect: Dialect,
    account: int,
    owner: str,
    now: datetime,
    expires: datetime,
) -> bool:
    """Insert the lease, or take over the row only if it is ours or has expired: one
    conditional upsert, so two daemons can never both get True."""
    values = {"account": account, "owner": owner, "acquired_at": now, "expires_at": expires}
    if dialect == "sqlite":
        sqlite_insert = sqlite.insert(LeaseRow).values(values)
        sqlite_stmt = sqlite_insert.on_conflict_do_update(
            index_elements=["account"],
            set_=_takeover(sqlite_insert.excluded),
            where=_free(sqlite_insert.excluded, now),
        ).returning(LeaseRow.owner)
        got = s.scalar(sqlite_stmt)
    else:
        pg_insert = postgresql.insert(LeaseRow).values(values)
        pg_stmt = pg_insert.on_conflict_do_update(
            index_elements=["account"],
            set_=_takeover(pg_insert.excluded),
            where=_free(pg_insert.excluded, now),
        ).returning(LeaseRow.owner)
        got = s.scalar(pg_stmt)
    return got == owner


def renew(s: Session, account: int, owner: str, now: datetime, expires: datetime) -> bool:
    """Move the end of ``owner``'s unexpired lease to ``expires``; False if there is none."""
    renewed = s.scalars(
        update(LeaseRow)
        .where(
            LeaseRow.account == account,
            LeaseRow.owner == owner,
            LeaseRow.expires_at > now,
        )
        .values(expires_at=expires)
        .returning(LeaseRow.account)
    ).all()
    return bool(renewed)


def transfer(
    s: Session, account: int, previous: str, owner: str, now: datetime, expires: datetime
) -> bool:
    """Give ``previous``'s lease of ``account`` to ``owner`` (a new tenure from ``now``), only
    if ``previous`` still holds the row; False otherwise."""
    moved = s.scalars(
        update(LeaseRow)
        .where(LeaseRow.account == account, LeaseRow.owner == previous)
        .values(owner=owner, acquired_at=now, expires_at=expires)
        .returning(LeaseRow.account)
    ).all()
    return bool(moved)


def release(s: Session, account: int, owner: str) -> bool:
    """Delete ``owner``'s lease row of ``account``; False if it held none."""
    released = s.scalars(
        delete(LeaseRow)
        .where(LeaseRow.account == account, LeaseRow.owner == owner)
        .returning(LeaseRow.account)
    ).all()
    return bool(released)


def find(s: Session, account: int) -> Lease | None:
    """The lease row of ``account`` (possibly expired), or None."""
    row = s.get(LeaseRow, account)
    if row is None:
        return None
    return Lease(
        account=row.account,
        owner=row.owner,
        acquired_at=row.acquired_at,
        expires_at=row.expires_at,
    )


def holds(s: Session, account: int, owner: str, now: datetime) -> bool:
    """Whether ``owner`` holds ``account``'s lease at ``now``."""
    row = s.get(LeaseRow, account)
    return row is not None and row.owner == owner and row.expires_at > now


def require(s: Session, dialect: Dialect, account: int, owner: str, now: datetime) -> None:
    """Raise :class:`LeaseLost` unless ``owner`` holds ``account``'s lease at ``now``.

    On PostgreSQL the lease row stays locked until the caller's transaction ends, so the
    lease cannot change hands while that transaction acts on the account.
    """
    row = s.get(LeaseRow, account, with_for_update=dialect == "postgresql")
    if row is None or row.owner != owner or row.expires_at <= now:
        holder = "nobody" if row is None else f"{row.owner} until {row.expires_at.isoformat()}"
        raise LeaseLost(
            f"{owner} does not hold the lease of account {account} at {now.isoformat()} "
            f"(held by {holder}); not enforcing"
        )


def _takeover(excluded: Any) -> dict[str, Any]:
    # Renewing our own lease keeps when we first got it; a takeover starts a new tenure.
    return {
        "owner": excluded.owner,
        "expires_at": excluded.expires_at,
        "acquired_at": case(
            (LeaseRow.owner == excluded.owner, LeaseRow.acquired_at),
            else_=excluded.acquired_at,
        ),
    }


def _free(excluded: Any, now: datetime) -> Any:
    return or_(LeaseRow.owner == excluded.owner, LeaseRow.expires_at <= now)


__all__ = ["acquire", "expiry", "find", "holds", "release", "renew", "require", "transfer"]
