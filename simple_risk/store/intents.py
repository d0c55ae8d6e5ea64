"""Intent rows through their life: opened by a firing, started, attempted, finished.

An intent is what the executor must bring about for a firing (cancel the orders, close the
position), keyed by a stable key so that a replayed or repeated firing never acts twice. The
:class:`~simple_risk.store.store.Store` intent methods open the transaction and call these
functions with its session; :func:`insert` runs inside the firing's own transaction (see
:mod:`simple_risk.store.firings`). Kept apart because the intent state machine (pending →
in flight → done or gave up, and reopening a finished one) is one job with its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from simple_risk.store import leases
from simple_risk.store import rows as convert
from simple_risk.store.database import Dialect
from simple_risk.store.inputs import IntentInput, json_object
from simple_risk.store.models import FiringRow, IntentAttemptRow, IntentRow
from simple_risk.store.records import (
    FINAL_INTENT_STATES,
    OPEN_INTENT_STATES,
    Intent,
    IntentAttempt,
    StoreError,
)


def insert(
    s: Session,
    dialect: Dialect,
    firing: FiringRow,
    at: datetime,
    intents: Sequence[IntentInput],
) -> None:
    """Open the firing's intents: a new key becomes a pending row, a finished one is opened
    again for this firing, and one still open is left to the work already under way."""
    for ordinal, intent in enumerate(intents):
        row = s.get(IntentRow, intent.key, with_for_update=dialect == "postgresql")
        if row is None:
            s.add(
                IntentRow(
                    key=intent.key,
                    account=intent.account,
                    firing_id=firing.id,
                    rule_id=firing.rule_id,
                    kind=intent.kind,
                    body=intent.body,
                    ordinal=ordinal,
                    state="pending",
                    attempts=0,
                    last_error=None,
                    created_at=at,
                    updated_at=at,
                    finished_at=None,
                )
            )
        elif row.state in FINAL_INTENT_STATES:
            # The same target is wanted again by a new breach episode: open it again. The
            # executor checks the target against the reconciled state, so a target that is
            # still met is simply marked done again, never acted on twice.
            row.firing_id = firing.id
            row.rule_id = firing.rule_id
            row.body = intent.body
            row.ordinal = ordinal
            row.state = "pending"
            row.last_error = None
            row.created_at = at
            row.updated_at = at
            row.finished_at = None
        # An intent that is still open is already being worked on: nothing to add.
    s.flush()


def find(s: Session, key: str) -> Intent | None:
    """The intent with this key, or None."""
    row = s.get(IntentRow, key)
    return None if row is None else convert.intent(row)


def still_open(s: Session, account: int | None) -> list[Intent]:
    """Pending and in-flight intents (of one account, or all): oldest firing first, and within
    a firing in the declared order."""
    query = select(IntentRow).where(IntentRow.state.in_(OPEN_INTENT_STATES))
    if account is not None:
        query = query.where(IntentRow.account == account)
    rows = s.scalars(query.order_by(IntentRow.created_at, IntentRow.firing_id, IntentRow.ordinal))
    return [convert.intent(row) for row in rows]


def start(s: Session, dialect: Dialect, key: str, now: datetime, lease_owner: str | None) -> Intent:
    """Mark an open intent in flight, first checking ``lease_owner``'s lease when given."""
    row = _open_row(s, dialect, key, "start")
    if lease_owner is not None:
        leases.require(s, dialect, row.account, lease_owner, now)
    row.state = "in_flight"
    row.updated_at = now
    return convert.intent(row)


def attempt(
    s: Session,
    dialect: Dialect,
    key: str,
    now: datetime,
    outcome: str,
    *,
    request: Mapping[str, Any] | None,
    response: Mapping[str, Any] | None,
    error: str | None,
) -> Intent:
    """Add one attempt row to an open intent and count it there."""
    row = _open_row(s, dialect, key, "record an attempt for")
    s.add(
        IntentAttemptRow(
            intent_key=key,
            at=now,
            outcome=outcome,
            request=None if request is None else json_object(request, "request"),
            response=None if response is None else json_object(response, "response"),
            error=error,
        )
    )
    row.attempts += 1
    row.last_error = error
    row.updated_at = now
    return convert.intent(row)


def finish(
    s: Session,
    dialect: Dialect,
    key: str,
    now: datetime,
    state: Literal["done", "gave_up"],
    error: str | None,
) -> Intent:
    """Close an open intent in its final ``state``."""
    row = _open_row(s, dialect, key, "finish")
    row.state = state
    row.updated_at = now
    row.finished_at = now
    if error is not None:
        row.last_error = error
    return convert.intent(row)


def attempts(s: Session, key: str) -> list[IntentAttempt]:
    """Every attempt recorded for an intent, oldest first."""
    rows = s.scalars(
        select(IntentAttemptRow)
        .where(IntentAttemptRow.intent_key == key)
        .order_by(IntentAttemptRow.id)
    )
    return [
        IntentAttempt(
            intent_key=row.intent_key,
            at=row.at,
            outcome=row.outcome,
            request=row.request,
            response=row.response,
            error=row.error,
        )
        for row in rows
    ]


def _open_row(s: Session, dialect: Dialect, key: str, doing: str) -> IntentRow:
    row = s.get(IntentRow, key, with_for_update=dialect == "postgresql")
    if row is None:
        raise StoreError(f"cannot {doing} intent {key!r}: no such intent")
    if row.state not in OPEN_INTENT_STATES:
        raise StoreError(
            f"cannot {doing} intent {key!r}: it is already {row.state} "
            f"(since {row.updated_at.isoformat()})"
        )
    return row


__all__ = ["attempt", "attempts", "find", "finish", "insert", "start", "still_open"]
