"""The status server's only ways onto the engine thread and the store, bounded so that
serving the socket never slows enforcement.

Whatever reads engine state runs on the engine thread between two events (an
``EngineCommand`` in the engine's queue): a position that must be closed waits behind every
command queued before it. Unbounded, sixty clients asking ``status`` in a loop kept the engine
busy building answers, and enforcement took 15 times longer. So:

* **Reads** (``status``, ``explain``) are coalesced: requests for the same answer while one is
  being built share it — built once, encoded once. They go through one lane: one read at a
  time on the engine, and ``spacing`` seconds between the end of one and the start of the
  next. However many clients ask, reads take at most one build in every ``spacing`` of the
  engine's time, and an event waits behind at most one read. A shared answer is never older
  than the request: it was built after the request arrived, or was being built then (and the
  engine thread, doing nothing else meanwhile, had applied everything that came before).
* **Admin operations** (``lockout_list``, ``lockout_clear``, ``reload``) go through a lane of
  their own, one at a time: only the admin can use it (the password is checked before), and a
  read flood does not delay it.
* **Store reads** (``history``) run on the connection's thread, one at a time.

A request that cannot get its turn within its timeout is answered ``unavailable``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError, encode_value

T = TypeVar("T")

#: runs a function on the engine thread within a timeout (``ControlTarget.on_engine``)
RunOnEngine = Callable[[Callable[[], Any], float], Any]


@dataclass(frozen=True, slots=True)
class Encoded:
    """A result already encoded as compact JSON, shared by every request it answers."""

    data: bytes


class _Flight:
    """One read being built, and the requests waiting for it."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Encoded | None = None
        self.error: BaseException | None = None


def _busy(what: str, timeout: float) -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNAVAILABLE.value, f"the daemon did not get to {what} within {timeout:g}s"
    )


class EngineGate:
    """Coalesced, paced reads; one admin operation at a time; one store read at a time."""

    def __init__(
        self,
        run_on_engine: RunOnEngine,
        *,
        spacing: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run_on_engine
        self.spacing = spacing
        self._clock = clock
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self._read_lane = threading.Lock()
        self._admin_lane = threading.Lock()
        self._store_lane = threading.Lock()
        self._next_read = 0.0
        #: reads built on the engine, and requests answered by a read another one started
        self.reads_built = 0
        self.reads_shared = 0

    def read(self, key: Hashable, build: Callable[[], Any], timeout: float) -> Encoded:
        """``build()``'s result for ``key``, encoded; shared with concurrent requests."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                self.reads_shared += 1
        if leader:
            try:
                flight.result = Encoded(encode_value(self._lead(build, timeout)))
            except BaseException as exc:
                flight.error = exc
            finally:
                with self._lock:
                    del self._flights[key]
                flight.done.set()
        elif not flight.done.wait(timeout * 2):
            raise _busy("this read", timeout * 2)
        if flight.error is not None:
            error = flight.error
            if isinstance(error, ProtocolError):
                raise dataclasses.replace(error)  # each waiter raises its own copy
            raise ProtocolError(ErrorCode.INTERNAL.value, f"internal error: {error}")
        assert flight.result is not None
        return flight.result

    def _lead(self, build: Callable[[], Any], timeout: float) -> Any:
        deadline = self._clock() + timeout
        if not self._read_lane.acquire(timeout=timeout):
            raise _busy("this read", timeout)
        try:
            now = self._clock()
            start = max(now, self._next_read)
            if start >= deadline:
                raise _busy("this read", timeout)
            if start > now:
                time.sleep(start - now)
            remaining = deadline - self._clock()
            self.reads_built += 1
            try:
                return self._run(build, remaining)
            finally:
                self._next_read = self._clock() + self.spacing
        finally:
            self._read_lane.release()

    def admin(self, fn: Callable[[], T], timeout: float) -> T:
        """Run an admin operation's engine work, one at a time."""
        if not self._admin_lane.acquire(timeout=timeout):
            raise _busy("this admin operation", timeout)
        try:
            result: T = self._run(fn, timeout)
            return result
        finally:
            self._admin_lane.release()

    def store(self, fn: Callable[[], T], timeout: float) -> T:
        """Run a store read on the caller's thread, one at a time."""
        if not self._store_lane.acquire(timeout=timeout):
            raise _busy("this history read", timeout)
        try:
            return fn()
        finally:
            self._store_lane.release()


__all__ = ["Encoded", "EngineGate", "RunOnEngine"]
