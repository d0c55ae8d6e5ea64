"""What the status server and the dashboard may see and ask of a running daemon: the one
narrow interface between :mod:`simple_risk.daemon.control` (and the dashboard) and the
runtime.

:class:`~simple_risk.daemon.runtime.Daemon` implements it; nothing under ``control/`` or
``dashboard/`` imports the runtime, so the two sides never form an import circle and the
runtime's parts can change without touching the status protocol (tests/test_package.py
checks the imports). Reads of engine state and every change to it go through
:meth:`ControlTarget.on_engine`, which runs them on the engine thread between two events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.control.server import Broadcaster
from simple_risk.daemon.observe import Choice, Enforcement
from simple_risk.engine.engine import Engine
from simple_risk.engine.intents import Intent
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import RulesetChanges
from simple_risk.store import Store

T = TypeVar("T")


class Clock(Protocol):
    """The daemon's receive clock: what "now" is for every stamp it makes."""

    def now(self) -> datetime: ...


class Alerts(Protocol):
    """The daemon's loud alerts: raised by admin operations, listed by ``status``."""

    @property
    def recent(self) -> list[dict[str, Any]]: ...

    def alert(self, level: str, message: str, at: datetime, account: int | None = None) -> None: ...

    def recent_for(self, account: int, count: int) -> list[dict[str, Any]]: ...

    def current(
        self, count: int, now: datetime, day_start: datetime, account: int | None = None
    ) -> tuple[list[dict[str, Any]], int]: ...


class QueueDepth(Protocol):
    def depth(self) -> int: ...


class Options(Protocol):
    @property
    def ruleset_transform(self) -> Callable[[Ruleset], Ruleset] | None: ...


class OpenIntent(Protocol):
    """One intent the daemon is working (``status`` lists them)."""

    @property
    def intent(self) -> Intent: ...

    @property
    def account(self) -> int: ...

    @property
    def state(self) -> str: ...


class ControlTarget(Protocol):
    """A running daemon, as the status server and the dashboard see it."""

    #: the configuration; a reload replaces it (under ``reload_lock``)
    config: DaemonConfig

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def options(self) -> Options: ...

    @property
    def started_at(self) -> datetime: ...

    @property
    def monitor(self) -> Broadcaster: ...

    @property
    def alerter(self) -> Alerts: ...

    @property
    def queue(self) -> QueueDepth: ...

    @property
    def enforcement(self) -> Enforcement: ...

    @property
    def reload_lock(self) -> AbstractContextManager[Any]: ...

    # -- engine state: read on the engine thread (``on_engine``) ---------------------------------

    @property
    def engines(self) -> Mapping[int, Engine]: ...

    @property
    def rulesets(self) -> Mapping[int, Ruleset]: ...

    @property
    def book(self) -> Mapping[str, OpenIntent]: ...

    @property
    def hub_states(self) -> Mapping[str, str]: ...

    @property
    def last_reconcile_at(self) -> Mapping[int, datetime]: ...

    @property
    def bar_priced(self) -> Mapping[str, datetime]:
        """Each held contract priced from REST bars now (its quotes missing) → when the bar
        price applied arrived (engine thread)."""
        ...

    @property
    def events_applied(self) -> int: ...

    @property
    def firings_total(self) -> int: ...

    @property
    def reconciles(self) -> int: ...

    def ruleset_name(self) -> str: ...

    def live_accounts(self) -> frozenset[int]: ...

    def lease_lost_accounts(self) -> frozenset[int]: ...

    def degraded_accounts(self) -> dict[int, list[str]]: ...

    def store_health(self) -> dict[str, Any]: ...

    def recent_firings(self, account: int) -> list[dict[str, Any]]: ...

    def last_firing(self, account: int, rule: str) -> dict[str, Any] | None: ...

    # -- commands -------------------------------------------------------------------------------

    def on_engine(self, fn: Callable[[], T], timeout: float | None = None) -> T: ...

    def swap_rulesets(self, rulesets: Mapping[int, Ruleset]) -> dict[int, RulesetChanges]: ...

    def clear_lockouts(
        self, account: int, scope: str, symbol: str | None, who: str, why: str
    ) -> list[Lock]: ...

    def saved(self, timeout: float) -> bool:
        """Wait until every store write queued so far (an admin change's snapshot, its audit)
        is done; False on timeout or while the store is unavailable. Never the engine thread."""
        ...

    def set_enforcement(self, account: int, enforce: bool, source: str) -> Choice: ...

    def announce_admin(
        self, text: str, data: Mapping[str, Any], account: int | None = None
    ) -> None: ...

    def request_stop(self, reason: str = "") -> None: ...


__all__ = ["ControlTarget", "OpenIntent"]
