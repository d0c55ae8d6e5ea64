"""Runs every long-lived thread of the daemon so that none can fail silently.

Each part of the runtime (the engine loop, one reconcile worker and one executor worker per
account, the store writer) runs its loop through :meth:`Supervisor.spawn`. When the loop
raises, the supervisor logs the traceback, raises a critical alert (log, status, ``monitor``,
notifications, through the daemon's ``Alerter``) and runs the loop again after a short
backoff that doubles with each consecutive failure. A part that fails ``intensity`` times
within ``window`` seconds is DEGRADED: its account(s) — every account, for a part they all
share — show it in ``status``, ``engine status`` and the dashboard until the part has run a
whole window without failing. This is Erlang/OTP's one-for-one restart with a restart
intensity, except that a daemon guarding money never gives up on a part: it keeps trying
and keeps saying so (docs/architecture.md §6).

A loop that returns has finished (the daemon is stopping) and is not run again; one that
exits with something that is not an error (``SystemExit``, ``KeyboardInterrupt``) ends too,
and ``on_fatal`` is told (the daemon records it as its ``error``: ``engine run`` exits).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """How failed parts are restarted, and when they count as DEGRADED."""

    #: the pause before the first restart; doubled for each consecutive failure
    backoff: float = 0.1
    max_backoff: float = 5.0
    #: this many failures of one part within ``window`` seconds: the part is DEGRADED
    intensity: int = 3
    window: float = 60.0


@dataclass(slots=True)
class PartHealth:
    """One supervised part: its failures and whether it is DEGRADED."""

    name: str
    #: the accounts the part serves; None: a part every account shares
    accounts: frozenset[int] | None
    failures: deque[float] = field(default_factory=deque)
    restarts: int = 0
    last_error: str | None = None
    #: monotonic time the part became DEGRADED (None: healthy)
    degraded_since: float | None = None

    def view(self) -> dict[str, object]:
        return {
            "name": self.name,
            "accounts": None if self.accounts is None else sorted(self.accounts),
            "restarts": self.restarts,
            "failures": len(self.failures),
            "last_error": self.last_error,
            "degraded": self.degraded_since is not None,
        }


class Supervisor:
    """Starts supervised threads and keeps the health of each part."""

    def __init__(
        self,
        alert: Callable[[str, str], None],
        options: SupervisorOptions | None = None,
        *,
        on_change: Callable[[], None] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._alert = alert
        self.options = options or SupervisorOptions()
        self._on_change = on_change
        self._on_fatal = on_fatal
        self._monotonic = monotonic
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._parts: dict[str, PartHealth] = {}

    def spawn(
        self,
        name: str,
        loop: Callable[[], None],
        *,
        accounts: Iterable[int] | None = None,
        start: bool = True,
    ) -> threading.Thread:
        """A daemon thread named ``name`` that runs ``loop`` until it returns, restarting it
        whenever it raises; ``accounts``: the accounts it serves (None: all of them)."""
        with self._lock:
            self._parts[name] = PartHealth(name, None if accounts is None else frozenset(accounts))
        thread = threading.Thread(target=self._run, args=(name, loop), name=name, daemon=True)
        if start:
            thread.start()
        return thread

    def stop(self) -> None:
        """No more restarts: a part failing from now on (the daemon is stopping) just ends."""
        self._stopping.set()

    def parts(self) -> list[dict[str, object]]:
        """Every part's health (``status``)."""
        with self._lock:
            self._heal()
            return [part.view() for part in self._parts.values()]

    def degraded(self, accounts: Iterable[int]) -> dict[int, list[str]]:
        """The DEGRADED parts serving each of ``accounts`` (accounts with none are left out)."""
        with self._lock:
            self._heal()
            result: dict[int, list[str]] = {}
            for account in accounts:
                names = sorted(
                    part.name
                    for part in self._parts.values()
                    if part.degraded_since is not None
                    and (part.accounts is None or account in part.accounts)
                )
                if names:
                    result[account] = names
            return result

    def _heal(self) -> None:
        """A DEGRADED part that ran a whole window without failing is healthy again."""
        now = self._monotonic()
        for part in self._parts.values():
            while part.failures and now - part.failures[0] > self.options.window:
                part.failures.popleft()
            if part.degraded_since is not None and not part.failures:
                part.degraded_since = None
                log.warning(
                    "%s ran %g s without failing: no longer degraded",
                    part.name,
                    self.options.window,
                )

    def _run(self, name: str, loop: Callable[[], None]) -> None:
        consecutive = 0
        while True:
            started = self._monotonic()
            try:
                loop()
                return
            except Exception as exc:
                if self._stopping.is_set():
                    log.warning("%s failed while stopping: %s", name, exc, exc_info=True)
                    return
                if self._monotonic() - started > self.options.window:
                    consecutive = 0  # it ran well for a while: this failure starts afresh
                consecutive += 1
                delay = min(self.options.backoff * 2 ** (consecutive - 1), self.options.max_backoff)
                degraded = self._failed(name, exc)
                log.critical("%s failed; restarting it in %g s", name, delay, exc_info=exc)
                message = f"{name} failed ({type(exc).__name__}: {exc}); restarting it"
                if degraded:
                    message += f" — DEGRADED: {degraded}"
                self._alert("critical", message)
                if self._on_change is not None:
                    self._on_change()
                if self._stopping.wait(delay):
                    return
            except BaseException as exc:  # an exit, not an error: the part ends, said loudly
                log.critical("%s ended: %r", name, exc, exc_info=True)
                if self._on_fatal is not None:
                    self._on_fatal(exc)
                return

    def _failed(self, name: str, exc: Exception) -> str:
        """Record one failure; returns who is DEGRADED (empty when the part is not)."""
        with self._lock:
            part = self._parts[name]
            now = self._monotonic()
            part.failures.append(now)
            part.restarts += 1
            part.last_error = f"{type(exc).__name__}: {exc}"
            self._heal()
            if len(part.failures) >= self.options.intensity and part.degraded_since is None:
                part.degraded_since = now
            if part.degraded_since is None:
                return ""
            if part.accounts is None:
                return "every account"
            if not part.accounts:
                return f"{name} (no account's enforcement depends on it)"
            return "account(s) " + ", ".join(str(a) for a in sorted(part.accounts))


__all__ = ["PartHealth", "Supervisor", "SupervisorOptions"]
