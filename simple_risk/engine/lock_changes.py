"""Lockouts changed from outside the rules: an admin's clear, and a rebuild's restore.

The engine sets and ends lockouts itself as its rules fire and its clocks run. Three things
change them from outside, each between two events and deterministically (the same engine and
the same inputs give the same locks):

* :func:`clear_locks` ends lockouts early (an audited admin command);
* :func:`restore_locks` puts back lockouts kept outside the engine (a restart that rebuilt the
  day from the journal, which has no clock ticks, from the store's lockouts table);
* :func:`lift_locks` ends those a rebuild derived again though the admin had lifted them.

Kept apart from :mod:`simple_risk.engine.operations` (reload, explain, status views), which
reads the engine's state for the daemon's commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from simple_risk.engine.engine import Engine
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import LockoutSpec, Ruleset


def clear_locks(
    engine: Engine, account: int, scope: str = "all", symbol: str | None = None
) -> list[Lock]:
    """End the account's lockouts of ``scope`` (``account``, ``symbol`` or ``all``; with
    ``symbol``, only the locks on that root) now; returns the locks removed.

    Changes the engine (run it between two events). The breach episodes that set the
    cleared locks are marked (:meth:`Engine.rearm`): a rule that is still broken fires — and
    locks — again at its next firing (its next trigger other than a reconcile: the next
    fill, position, order, tick), not at once, and not never. The episodes of the rule's
    other symbols, whose locks stay, go on unchanged.
    """
    if scope not in ("account", "symbol", "all"):
        raise ValueError(f"scope is account, symbol or all, not {scope!r}")
    state = engine.store.accounts.get(account)
    if state is None:
        raise KeyError(f"the engine does not guard account {account}")
    cleared = [
        lock
        for lock in list(state.locks.locks.values())
        if (scope == "all" or lock.scope == scope) and (symbol is None or lock.symbol == symbol)
    ]
    for lock in cleared:
        state.locks.remove(lock)
    for lock in cleared:
        engine.rearm(lock.rule, account, lock.symbol if lock.scope == "symbol" else None)
    engine._recompute_lock_end()
    return cleared


@dataclass(frozen=True, slots=True)
class KeptLock:
    """A lockout as kept outside the engine (a row of the store's lockouts table): what
    :func:`restore_locks` puts back."""

    scope: str  # "account" | "symbol"
    symbol: str | None
    rule: str
    reason: str
    set_at: datetime
    ends_at: datetime | None  # None: a ``while:`` lock
    while_source: str | None = None


def restore_locks(engine: Engine, account: int, kept: Iterable[KeptLock]) -> list[Lock]:
    """Put back lockouts kept outside the engine, each with its own end; returns the locks
    put back, or whose end changed, in the order of their identity.

    For a restart that could not restore the account's snapshot and rebuilt the day from the
    journal: the journal has no clock ticks, so a lockout a tick alone set is not derived
    again, and one a tick set is derived again only late (at the next journaled event, so
    ending later). Each lock identity (rule, scope, symbol) gets the latest end among its
    entries — a lockout set again only ever ends later — and that end replaces the one the
    rebuild derived. A lock put back takes its kind and ``while:`` condition from its rule's
    lockout action (a ``while:`` lock whose rule no longer has that condition is not put
    back, as a snapshot's is not) and, as its baseline, the exposure in its scope now: what
    the account holds is left as it is, more is refused.

    Changes the engine (run it between two events), deterministically: the same engine and
    the same entries give the same locks.
    """
    state = engine.store.accounts.get(account)
    if state is None:
        raise KeyError(f"the engine does not guard account {account}")
    latest: dict[tuple[str, str, str], KeptLock] = {}
    for entry in kept:
        key = (entry.rule, entry.scope, entry.symbol or "")
        known = latest.get(key)
        if known is None or _ends_later(entry, known):
            latest[key] = entry
    changed: list[Lock] = []
    for key, entry in sorted(latest.items(), key=lambda item: item[0]):
        action_index, spec = _lockout_action(engine.ruleset, entry)
        while_expr = spec.while_expr if spec is not None else None
        if entry.ends_at is None and while_expr is None:
            continue  # the rule that set this while-lock no longer has its condition
        existing = state.locks.locks.get(key)
        if existing is not None:
            if existing.ends_at == entry.ends_at and (
                entry.ends_at is not None or existing.while_expr is not None
            ):
                continue
            existing.ends_at = entry.ends_at
            existing.while_expr = while_expr
            existing.action_index = action_index
            existing.settled = False
            state.locks.restore(existing)
            changed.append(existing)
            continue
        lock = Lock(
            account=account,
            scope=entry.scope,
            symbol=entry.symbol,
            rule=entry.rule,
            reason=entry.reason,
            kind=spec.kind if spec is not None else "lock",
            set_at=entry.set_at,
            ends_at=entry.ends_at,
            action_index=action_index,
            while_expr=while_expr,
            baseline={
                position.contract_id: (position.long, position.size)
                for position in state.positions.values()
                if entry.scope == "account" or position.symbol == entry.symbol
            },
        )
        state.locks.restore(lock)
        changed.append(lock)
    engine._recompute_lock_end()
    return changed


def lift_locks(engine: Engine, account: int, lifted: Iterable[KeptLock]) -> list[Lock]:
    """End the locks a rebuild derived again though they had been lifted (an admin's clear is
    kept outside the engine, not in the journal a rebuild replays); returns the locks ended.

    A lifted entry ends the engine's lock of its identity only when that lock began at the
    entry's own start — the same firing (a replay keeps the journaled stamps): a lock set
    later, or derived late, is another and stays. The breach episodes are marked as
    :func:`clear_locks` marks them. Callers pass only identities none of whose lockouts is
    in force (the store's view): a lock set again after the clear stays. Changes the engine
    (run it between two events), deterministically.
    """
    state = engine.store.accounts.get(account)
    if state is None:
        raise KeyError(f"the engine does not guard account {account}")
    ended: list[Lock] = []
    for entry in lifted:
        lock = state.locks.locks.get((entry.rule, entry.scope, entry.symbol or ""))
        if lock is None or lock in ended or lock.set_at != entry.set_at:
            continue
        state.locks.remove(lock)
        engine.rearm(lock.rule, account, lock.symbol if lock.scope == "symbol" else None)
        ended.append(lock)
    engine._recompute_lock_end()
    return ended


def _ends_later(entry: KeptLock, other: KeptLock) -> bool:
    if entry.ends_at is None:
        return other.ends_at is not None
    return other.ends_at is not None and entry.ends_at > other.ends_at


def _lockout_action(ruleset: Ruleset, entry: KeptLock) -> tuple[int, LockoutSpec | None]:
    """The index and spec of the rule's lockout action that sets ``entry`` (-1, None when
    the rule has none: it was removed or changed since)."""
    try:
        rule = ruleset.rule(entry.rule)
    except KeyError:
        return -1, None
    for index, action in enumerate(rule.then):
        spec = action.args.get("lockout")
        if not isinstance(spec, LockoutSpec) or spec.scope != entry.scope:
            continue
        condition = spec.while_expr.source if spec.while_expr is not None else None
        if (entry.ends_at is None) == (condition is not None) and (
            entry.ends_at is not None or condition == entry.while_source
        ):
            return index, spec
    return -1, None


# -- helpers -----------------------------------------------------------------------------------


__all__ = ["KeptLock", "clear_locks", "lift_locks", "restore_locks"]
