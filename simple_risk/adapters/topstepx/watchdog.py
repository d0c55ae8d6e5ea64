"""When to tear a hub connection down and build a new one — a pure decision, then a thread.

signalrcore 1.0.2 cannot be trusted to heal itself (reference §10.4): if its first automatic
reconnect attempt fails it stays "reconnecting" forever, silently dropping invokes; a half-dead
TCP connection can look connected while nothing arrives; and reconnects reuse the old token, so
a connection outlives its 24 h session. The watchdog looks at a :class:`HubHealth` snapshot
every ``check_interval`` seconds and names the reason to rebuild, if any:

* no connection, or the last one closed;
* the handshake did not complete within ``open_timeout``;
* stuck in "reconnecting" for longer than ``stuck_after``;
* connected but no message *or ping* for ``stale_after`` seconds;
* the session token was refreshed since the connection was built: rebuild on the fresh token,
  make-before-break. (The REST client owns the refresh policy; the hub asks it for a token on
  every pass, which refreshes it ``refresh_before`` its expiry, so one policy rules both.)

:func:`diagnose` is pure so each rule has its own unit test; :class:`Watchdog` runs it.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class TransportState(enum.Enum):
    """signalrcore's transport states, plus NONE for "no connection object"."""

    NONE = "none"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class Rebuild(enum.Enum):
    """How to replace a connection: after a gap (events may be lost) or make-before-break."""

    AFTER_GAP = "after_gap"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class WatchdogConfig:
    check_interval: float = 1.0
    open_timeout: float = 10.0
    stuck_after: float = 10.0
    stale_after: float = 45.0  # three missed server pings at the ASP.NET default of 15 s


@dataclass(frozen=True, slots=True)
class HubHealth:
    """What the watchdog knows about one hub, all times monotonic seconds."""

    now: float
    state: TransportState
    state_since: float  # when the watchdog first saw the current state
    last_seen: float  # last frame of any kind (message or ping) on the current connection
    built_token_generation: int
    token_generation: int
    token_expires_in: float


@dataclass(frozen=True, slots=True)
class Diagnosis:
    reason: str
    kind: Rebuild


def diagnose(health: HubHealth, config: WatchdogConfig) -> Diagnosis | None:
    """The reason to rebuild the connection now, or None if it is healthy."""
    age = health.now - health.state_since
    if health.state is TransportState.NONE:
        return Diagnosis("no connection", Rebuild.AFTER_GAP)
    if health.state is TransportState.DISCONNECTED:
        return Diagnosis("connection closed", Rebuild.AFTER_GAP)
    if health.state is TransportState.CONNECTING and age > config.open_timeout:
        return Diagnosis(f"no handshake within {config.open_timeout:g}s", Rebuild.AFTER_GAP)
    if health.state is TransportState.RECONNECTING and age > config.stuck_after:
        return Diagnosis(f"stuck reconnecting for {age:.1f}s", Rebuild.AFTER_GAP)
    if health.state is TransportState.CONNECTED:
        silent = health.now - health.last_seen
        if silent > config.stale_after:
            return Diagnosis(f"no message or ping for {silent:.1f}s", Rebuild.AFTER_GAP)
        if health.token_generation != health.built_token_generation:
            return Diagnosis("session token refreshed", Rebuild.REFRESH)
    return None


class Watchdog:
    """A daemon thread calling ``check()`` every ``interval`` seconds until stopped."""

    def __init__(self, name: str, check: Callable[[], None], interval: float) -> None:
        self._check = check
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check()
            except Exception:  # the watchdog must outlive any single failure
                log.exception("hub watchdog check failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)


__all__ = [
    "Diagnosis",
    "HubHealth",
    "Rebuild",
    "TransportState",
    "Watchdog",
    "WatchdogConfig",
    "diagnose",
]
