"""The contract cache: metadata of the contracts the daemon has met, kept across restarts.

The :class:`~simple_risk.store.store.Store` contract methods encode the contract before any
transaction opens and call these functions with the session. Kept apart because the cache is
a plain keyed upsert that shares nothing with the enforcement records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from simple_risk.engine.events import ContractInfo
from simple_risk.store import rows as convert
from simple_risk.store.database import Dialect
from simple_risk.store.models import ContractCacheRow


def put(
    s: Session,
    dialect: Dialect,
    contract_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Insert the contract's encoded metadata, or replace what was cached for it."""
    values = {"contract_id": contract_id, "payload": payload, "updated_at": now}
    update_cols = {"payload": payload, "updated_at": now}
    if dialect == "sqlite":
        s.execute(
            sqlite.insert(ContractCacheRow)
            .values(values)
            .on_conflict_do_update(index_elements=["contract_id"], set_=update_cols)
        )
    else:
        s.execute(
            postgresql.insert(ContractCacheRow)
            .values(values)
            .on_conflict_do_update(index_elements=["contract_id"], set_=update_cols)
        )


def find(s: Session, contract_id: str) -> ContractInfo | None:
    """Cached metadata of one contract, or None."""
    row = s.get(ContractCacheRow, contract_id)
    return None if row is None else convert.contract(row)


def every(s: Session) -> list[ContractInfo]:
    """Every cached contract, by contract id."""
    rows = s.scalars(select(ContractCacheRow).order_by(ContractCacheRow.contract_id))
    return [convert.contract(row) for row in rows]


__all__ = ["every", "find", "put"]
