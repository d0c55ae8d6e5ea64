"""The daemon's own messages on the engine thread's queue (never journaled, never seen by
the engine): what the other parts report back to the engine thread, which is the only one
that changes engine state, so every part talks to it through the one ordered queue."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from simple_risk.adapters.topstepx.hubconverter import Doubt
from simple_risk.engine.events import AccountUpdate, Event, OrderUpdate, PositionUpdate, TradeFill


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileData(Event):
    """One account's state as REST reported it (or why it could not)."""

    account: int
    started_at: datetime
    reason: str
    account_update: AccountUpdate | None = None
    positions: tuple[PositionUpdate, ...] = ()
    orders: tuple[OrderUpdate, ...] = ()
    trades: tuple[TradeFill, ...] = ()
    error: str | None = None
    #: records REST sent that could not be read, skipped: (kind, why) — "order", "position"…
    skipped: tuple[tuple[str, str], ...] = ()
    #: Account/search, asked and read in full, did not list the account (closed, or no
    #: longer this login's): the daemon cannot guard it
    unlisted: bool = False
    #: the login's other accounts, as the same Account/search listed them (ones the
    #: configuration does not guard)
    others: tuple[AccountUpdate, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HubDoubt(Event):
    """The user hub sent a record the converter could not take at its word (skipped, or kept
    with a conservative reading): the engine thread alerts and reconciles the account."""

    doubt: Doubt


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotFailed(Event):
    """The writer thread could not save an account's snapshot (and alerted): the engine
    thread keeps the account dirty, so the next snapshot tries again."""

    account: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseChecked(Event):
    """The writer thread renewed (or tried to take back) an account's lease."""

    account: int
    held: bool
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BarsMissed(Event):
    """The bars worker asked ``History/retrieveBars`` for a quiet contract's last trade and
    got no price: the call failed or was refused (``failed``), or nothing traded in the bars'
    window. The engine thread notes why; the contract is asked again at its next period."""

    contract_id: str
    asked_at: datetime
    why: str
    failed: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequest(Event):
    """Asks the engine thread to finish."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class EngineCommand(Event):
    """Work for the engine thread, between two events: the status server's reads of engine
    state and its changes (reload, lockout clear). ``future`` receives ``fn()``'s result or
    exception; a command whose future was cancelled (the caller gave up) is skipped."""

    fn: Callable[[], object]
    future: Future[object]


__all__ = [
    "BarsMissed",
    "EngineCommand",
    "HubDoubt",
    "LeaseChecked",
    "ReconcileData",
    "SnapshotFailed",
    "StopRequest",
]
