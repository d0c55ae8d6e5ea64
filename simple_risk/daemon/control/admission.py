"""Who gets one of the status socket's connections: per-user caps and the admin's reserve.

Every connection costs the daemon a thread, and the socket is open to every member of its
group. Without limits one such user could hold every connection, and the admin's
``lockout list`` would find the door shut. So connections come from three pools:

* **ordinary** — anything may be asked. A user (a Unix uid, from ``SO_PEERCRED``, which a
  client cannot forge; every loopback TCP client counts as one, see ``Peer.key``) holds at
  most ``per_user_connections`` of them, and there are ``max_connections -
  admin_reserved_connections`` in all.
* **probation** — a connection that finds no ordinary slot (its user's cap reached, or all
  taken) may still take one of the ``admin_reserved_connections`` slots kept for admin
  operations. Its first request other than ``hello`` must be an admin operation with the
  right password: then it becomes an **admin** connection and stays; a read op is answered
  ``busy`` and a wrong password its error, and either way the connection is closed. A user has
  at most one connection on probation at a time, so silent connections cannot fill the
  reserve either: it takes as many colluding users as there are reserved slots, each holding
  a silent connection until the idle timeout closes it.
* **admin** — proven by the password; it does not count against its user's cap.

Anything else is refused at once with ``busy`` ("the daemon is busy (too many
connections)"), which the CLI says as it is — never "no daemon is running".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from simple_risk.daemon.config import StatusLimits
from simple_risk.daemon.control.auth import Peer

ORDINARY = "ordinary"
PROBATION = "probation"
ADMIN = "admin"

BUSY = "the daemon is busy (too many connections)"


class Refused(Exception):
    """No slot for this connection; the message says why (it starts with :data:`BUSY`)."""


@dataclass(slots=True)
class Slot:
    """The place one connection holds, released when it closes."""

    key: str
    pool: str
    released: bool = False


class Admission:
    """Counts the connections of each pool and user; thread-safe."""

    def __init__(self, limits: StatusLimits) -> None:
        self.limits = limits
        self._ordinary: dict[str, int] = {}
        self._ordinary_total = 0
        self._probation: set[str] = set()
        self._reserve_total = 0
        self._lock = threading.Lock()

    def admit(self, peer: Peer) -> Slot:
        """A slot for a new connection from ``peer``; raises :class:`Refused` when none."""
        limits = self.limits
        key = peer.key
        with self._lock:
            mine = self._ordinary.get(key, 0)
            ordinary_room = limits.max_connections - limits.admin_reserved_connections
            if mine < limits.per_user_connections and self._ordinary_total < ordinary_room:
                self._ordinary[key] = mine + 1
                self._ordinary_total += 1
                return Slot(key, ORDINARY)
            if (
                self._reserve_total < limits.admin_reserved_connections
                and key not in self._probation
            ):
                self._probation.add(key)
                self._reserve_total += 1
                return Slot(key, PROBATION)
        if mine >= limits.per_user_connections:
            raise Refused(
                f"{BUSY}: {peer.describe()} already holds {mine}, the most one user may "
                "(status_limits.per_user_connections)"
            )
        raise Refused(f"{BUSY}: all {limits.max_connections} are taken; try again shortly")

    def promote(self, slot: Slot) -> None:
        """A connection on probation proved it is the admin's: it stays, in the reserve."""
        with self._lock:
            if slot.pool == PROBATION and not slot.released:
                self._probation.discard(slot.key)
                slot.pool = ADMIN

    def release(self, slot: Slot) -> None:
        """The connection closed (idempotent)."""
        with self._lock:
            if slot.released:
                return
            slot.released = True
            if slot.pool == ORDINARY:
                left = self._ordinary.get(slot.key, 0) - 1
                if left > 0:
                    self._ordinary[slot.key] = left
                else:
                    self._ordinary.pop(slot.key, None)
                self._ordinary_total -= 1
                return
            if slot.pool == PROBATION:
                self._probation.discard(slot.key)
            self._reserve_total -= 1

    def counts(self) -> dict[str, int]:
        """Connections held now, per pool (``engine status`` and the tests read them)."""
        with self._lock:
            return {
                ORDINARY: self._ordinary_total,
                PROBATION: len(self._probation),
                ADMIN: self._reserve_total - len(self._probation),
            }


__all__ = ["ADMIN", "BUSY", "ORDINARY", "PROBATION", "Admission", "Refused", "Slot"]
