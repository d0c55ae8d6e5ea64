"""An admin's changes to engine state: a ruleset reload and a lockout clear.

Both run on the engine thread between two events (the status server sends them through
:meth:`Daemon.on_engine`) and never wait on the store there: the snapshot, and a lockout
clear's store rows and audit (who and why), are queued in order on the store writer, and the
status server waits for them on its own thread before it answers (:meth:`Daemon.saved`), so
the change survives a restart — and a slow or locked store holds up the admin's answer only,
never enforcement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from simple_risk.daemon.apply import Applier
from simple_risk.daemon.context import Shared
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError
from simple_risk.daemon.persistence import Persistence
from simple_risk.engine.events import Reconciled
from simple_risk.engine.lock_changes import clear_locks
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import (
    RulesetChanges,
    mandatory_violations,
    reload_engine,
)
from simple_risk.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


class EngineChanges:
    """Reloads and lockout clears; engine thread only."""

    def __init__(self, shared: Shared, applier: Applier, persistence: Persistence) -> None:
        self._shared = shared
        self._applier = applier
        self._persistence = persistence

    def swap_rulesets(self, rulesets: Mapping[int, Ruleset]) -> dict[int, RulesetChanges]:
        """Replace every account's ruleset between two events.

        Refuses (ProtocolError ``refused``, nothing swapped) when an enabled ``mandatory``
        rule would be removed or disabled for any account. Otherwise each account's engine is
        rebuilt with :func:`reload_engine` (facts, lockouts, intents and the timers of
        unchanged rules kept), ``Reconciled`` is applied so every rule is evaluated at once
        (a lowered limit is enforced now; its firings are recorded like any other), and the
        account is snapshotted so a restart comes back with the new state.
        """
        shared = self._shared
        problems: list[dict[str, Any]] = []
        for account, ruleset in sorted(rulesets.items()):
            current = shared.rulesets.get(account)
            if current is None:
                continue
            rules = {rule.id: rule.location for rule in ruleset.rules}
            for message in mandatory_violations(current, ruleset):
                # at the rule disabled (a rule removed has no place left: the file's top)
                where = next(
                    (at for rule, at in rules.items() if f'rule "{rule}"' in message), None
                )
                problems.append(
                    {
                        "file": str(where.file if where else ruleset.location.file),
                        "line": where.line if where else 1,
                        "column": where.column if where else 1,
                        "rule": None,
                        "message": f"account {account}: {message}",
                        "hint": "a mandatory rule stays enabled; edit it instead",
                        "check": "mandatory",
                    }
                )
        if problems:
            raise ProtocolError(
                ErrorCode.REFUSED.value,
                "the new ruleset would disable a mandatory rule",
                problems=tuple(problems),
            )
        changes: dict[int, RulesetChanges] = {}
        for account, ruleset in sorted(rulesets.items()):
            if account not in shared.engines:
                continue
            fresh, changed = reload_engine(shared.engines[account], ruleset)
            shared.engines[account] = fresh
            shared.rulesets[account] = ruleset
            changes[account] = changed
            self._persistence.forget_locks(account)
            self._persistence.locks_changed(account)
            reconciled = Reconciled(at=shared.clock.now(), account_id=account)
            self._applier.apply(account, self._applier.monotonic(reconciled), journal=False)
            shared.deadlines[account] = fresh.next_deadline()
            self._persistence.snapshot(account)
        shared.status_due = True
        return changes

    def clear_lockouts(
        self, account: int, scope: str, symbol: str | None, who: str, why: str
    ) -> list[Lock]:
        """End the account's lockouts now in the engine; queue the snapshot that makes the clear
        survive a restart, then the store's lockout rows cleared and audited with who and why
        (on the writer thread, after the firings that stored them: the engine thread never
        waits on the store)."""
        shared = self._shared
        engine = shared.engines[account]
        cleared = clear_locks(engine, account, scope, symbol)
        now = shared.clock.now()
        if cleared:
            shared.deadlines[account] = engine.next_deadline()
            self._persistence.locks_changed(account)
            self._persistence.dirty.add(account)
            self._persistence.snapshot(account)
            shared.status_due = True
            locks = list(cleared)
            self._persistence.store_call(
                lambda store: _record_clear(store, account, locks, now, who, why)
            )
        return cleared


def _record_clear(
    store: Store, account: int, cleared: list[Lock], now: datetime, who: str, why: str
) -> None:
    """Writer thread: clear the stored lockout rows of the locks an admin cleared (audited
    once a lock, however many rows set it), or audit the clear of a lock no row holds. An
    unavailable store raises, and the writer holds the call and tries it again when the store
    is back."""
    try:
        rows = store.active_lockouts(now, account)
    except StoreUnavailable:
        raise
    except StoreError as exc:
        log.error("cannot read the stored lockouts of %s: %s", account, exc)
        rows = []
    for lock in cleared:
        matching = [
            row
            for row in rows
            if row.rule == lock.rule
            and row.scope == lock.scope
            and (row.symbol or None) == (lock.symbol or None)
        ]
        try:
            if matching:
                store.clear_lockouts([row.id for row in matching], now=now, by=who, why=why)
            else:
                store.record_admin_action(
                    at=now,
                    who=who,
                    action="clear_lockout",
                    why=why,
                    result="cleared (no stored row)",
                    account=account,
                    args={"rule": lock.rule, "scope": lock.scope, "symbol": lock.symbol},
                )
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.error("could not record the clear of %s: %s", lock.rule, exc)


__all__ = ["EngineChanges"]
