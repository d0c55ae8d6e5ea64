"""Recording a firing with its lockouts and intents in one transaction, and reading firings.

:meth:`Store.record_firing <simple_risk.store.store.Store.record_firing>` is the store's
durability promise to the executor: everything a firing asks for is committed together, or
nothing is, and a firing replayed after a crash is recognised and not recorded twice. That
promise is this module's one job; it writes the lockouts and intents through
:mod:`simple_risk.store.lockouts` and :mod:`simple_risk.store.intents`, inside the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from simple_risk.store import intents, lockouts
from simple_risk.store import rows as convert
from simple_risk.store.database import Dialect
from simple_risk.store.inputs import FiringInput
from simple_risk.store.models import FiringRow, LockoutRow
from simple_risk.store.records import Firing, FiringRecorded


def record(s: Session, dialect: Dialect, checked: FiringInput) -> FiringRecorded:
    """Write the firing, its lockouts and its intents, unless the same firing (rule, account,
    item, time) is already there: then report what its first recording stored."""
    existing = s.scalar(
        select(FiringRow).where(
            FiringRow.rule_id == checked.rule,
            FiringRow.account == checked.account,
            FiringRow.item_key == (checked.item or ""),
            FiringRow.fired_at == checked.at,
        )
    )
    if existing is not None:
        return FiringRecorded(
            firing_id=existing.id,
            created=False,
            lockout_ids=tuple(
                s.scalars(
                    select(LockoutRow.id)
                    .where(LockoutRow.firing_id == existing.id)
                    .order_by(LockoutRow.id)
                )
            ),
            intent_keys=tuple(body["key"] for body in existing.intents if isinstance(body, dict)),
        )
    row = FiringRow(
        rule_id=checked.rule,
        account=checked.account,
        item_key=checked.item or "",
        fired_at=checked.at,
        severity=checked.severity,
        message=checked.message,
        decisive=checked.values,
        intents=[intent.body for intent in checked.intents],
        journal_seq=checked.journal_seq,
    )
    s.add(row)
    s.flush()
    lockout_ids = lockouts.insert(s, row, checked.lockouts)
    intents.insert(s, dialect, row, checked.at, checked.intents)
    return FiringRecorded(
        firing_id=row.id,
        created=True,
        lockout_ids=lockout_ids,
        intent_keys=tuple(intent.key for intent in checked.intents),
    )


def fired_since(s: Session, account: int, since: datetime) -> list[Firing]:
    """The account's firings fired at or after ``since``, oldest first."""
    rows = s.scalars(
        select(FiringRow)
        .where(FiringRow.account == account, FiringRow.fired_at >= since)
        .order_by(FiringRow.fired_at, FiringRow.id)
    )
    return [convert.firing(row) for row in rows]


__all__ = ["fired_since", "record"]
