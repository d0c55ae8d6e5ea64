"""Who is asking, and may they: peer credentials, the admin password, throttling, audit.

The daemon — never the client — decides whether an admin request may run: it reads the
peer's credentials itself (``SO_PEERCRED`` on the Unix socket: uid and pid, which a client
cannot forge; the address on loopback TCP), checks ``auth.password`` against the bcrypt hash
in ``admin_password_file`` (read again on every check, so ``set-password`` takes effect at
once), and throttles guessing: after the *n*-th consecutive wrong password from a peer, its
next attempt is refused unchecked for 2^(n−1) × ``throttle_base`` seconds (capped); every
TCP client counts as one peer (see :attr:`Peer.key`). Every
failure is audited in the store with who and from where (a try refused while throttled,
once per wait: a guesser in a loop must not write the store as fast as it sends); the
password itself never reaches the store, a log line or a response; the right one is
registered as a secret so that the redacting log filter would hide it even if some future
code path printed it (a wrong one is not: it is whatever the client chose to send).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import pwd
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError
from simple_risk.daemon.password import PasswordFileError, check_password
from simple_risk.store import Store, StoreError

log = logging.getLogger(__name__)

#: the shortest admin password ``set_password`` accepts
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Peer:
    """The other end of a connection, as the daemon established it."""

    transport: str  # "unix" | "tcp" | "signal" (SIGHUP from the daemon's user or root)
    uid: int | None = None
    pid: int | None = None
    user: str | None = None
    address: str | None = None

    @property
    def key(self) -> str:
        """Who throttling and the connection caps count per: the Unix user, or TCP as a whole.

        A TCP peer names nobody: every local user may connect from any of the 16 million
        loopback addresses (127.0.0.0/8), so counting per address would let one user evade
        the password throttle and the per-user caps by changing address."""
        if self.transport == "unix":
            return f"uid:{self.uid}"
        return "tcp"

    def describe(self, operator: str | None = None) -> str:
        """``alice (uid 1000, pid 4242)`` or ``bob via tcp 127.0.0.1:51514`` for the audit."""
        if self.transport == "unix":
            name = self.user or (f"uid {self.uid}" if self.uid is not None else "unknown")
            who = f"{name} (uid {self.uid}, pid {self.pid})"
        elif self.transport == "signal":
            who = f"{self.user or 'a signal'} from the daemon's user (uid {self.uid})"
        else:
            who = f"tcp {self.address}"
        if operator and operator != self.user:
            who = f"{_clean(operator)} via {who}"
        return who

    def as_json(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "uid": self.uid,
            "pid": self.pid,
            "user": self.user,
            "address": self.address,
        }


#: control characters (C0, DEL, C1) as spaces: an escape sequence in a client's free text
#: would otherwise reach the admin's terminal through ``engine history``
_CONTROLS = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0))}


def _clean(text: str, limit: int = 80) -> str:
    """Free text from a client, safe to put in the audit and to print (one short line, no
    control characters)."""
    return " ".join(str(text).translate(_CONTROLS).split())[:limit]


def unix_peer(sock: socket.socket) -> Peer:
    """The uid and pid of the process at the other end (``SO_PEERCRED``, Linux)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
    except (OSError, AttributeError, struct.error):
        return Peer("unix")
    return Peer("unix", uid=uid, pid=pid, user=_user_name(uid))


@functools.lru_cache(maxsize=256)
def _user_name(uid: int) -> str | None:
    """The login name of ``uid`` (cached: a connection flood must not read the user database
    once per connection)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def tcp_peer(address: Any) -> Peer:
    host, port = address[0], address[1]
    return Peer("tcp", address=f"{host}:{port}")


def _seconds(wait: float) -> str:
    """A wait as told: tenths, rounded up (what is left of one is never "0.0s")."""
    return f"{math.ceil(round(wait * 10, 6)) / 10:.1f}s"


class Throttle:
    """Consecutive wrong passwords per peer, and until when the next try is refused."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.cap = cap
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        #: per peer: the end of the wait whose first refusal was already told (audited)
        self._told: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, peer: Peer) -> float | None:
        """Seconds until ``peer`` may try again, or None when it may now."""
        with self._lock:
            entry = self._failures.get(peer.key)
        if entry is None:
            return None
        wait = entry[1] - self._clock()
        return round(wait, 3) if wait > 0 else None

    def first_refusal(self, peer: Peer) -> bool:
        """Whether this is the first try refused in ``peer``'s current wait: a guesser
        sending tries in a loop is refused every time, but only the first of each wait is
        worth an audit row (thousands a second would fill the store and bury the rest)."""
        with self._lock:
            entry = self._failures.get(peer.key)
            if entry is None or self._told.get(peer.key) == entry[1]:
                return False
            self._told[peer.key] = entry[1]
            return True

    def failed(self, peer: Peer) -> int:
        """Count a wrong password; returns how many in a row this peer has had."""
        with self._lock:
            count = self._failures.get(peer.key, (0, 0.0))[0] + 1
            delay = min(self.base * 2 ** (count - 1), self.cap)
            self._failures[peer.key] = (count, self._clock() + delay)
        return count

    def succeeded(self, peer: Peer) -> None:
        with self._lock:
            self._failures.pop(peer.key, None)
            self._told.pop(peer.key, None)


class Authenticator:
    """Checks admin passwords for the server; audits every failure."""

    def __init__(
        self,
        read_hash: Callable[[], str | None],
        store: Store | None,
        now: Callable[[], datetime],
        *,
        throttle: Throttle | None = None,
        daemon_uid: int | None = None,
    ) -> None:
        self._read_hash = read_hash
        self._store = store
        self._now = now
        self.throttle = throttle or Throttle()
        self.daemon_uid = os.getuid() if daemon_uid is None else daemon_uid
        #: serialises checks per process: bcrypt is slow on purpose, and two guesses in
        #: parallel must not both pass the throttle before either is counted
        self._lock = threading.Lock()

    def password_set(self) -> bool:
        try:
            return self._read_hash() is not None
        except PasswordFileError:
            return True  # set, but unusable: checks will say why

    def check(
        self,
        peer: Peer,
        password: object,
        op: str,
        operator: str | None,
        *,
        allow_unset_for_owner: bool = False,
    ) -> None:
        """Return when ``password`` is the admin password; raise a ProtocolError otherwise.

        With ``allow_unset_for_owner`` (``set_password``), a peer running as the daemon's own
        user over the Unix socket may proceed while no password is set yet: that user could
        write the hash file directly anyway.
        """
        with self._lock:
            retry = self.throttle.retry_after(peer)
            if retry is not None:
                if self.throttle.first_refusal(peer):
                    self._audit(
                        peer,
                        operator,
                        op,
                        "throttled",
                        f"refused unchecked ({_seconds(retry)}); further tries are refused "
                        "without an audit row until the wait ends",
                    )
                raise ProtocolError(
                    ErrorCode.THROTTLED.value,
                    f"too many wrong passwords; try again in {_seconds(retry)}",
                    retry_after=retry,
                )
            try:
                hashed = self._read_hash()
            except PasswordFileError as exc:
                log.error("admin password file: %s", exc)
                raise ProtocolError(
                    ErrorCode.REFUSED.value, f"the admin password file cannot be used: {exc}"
                ) from None
            if hashed is None:
                if allow_unset_for_owner and self.is_owner(peer):
                    return
                raise ProtocolError(
                    ErrorCode.NO_PASSWORD_SET.value,
                    "no admin password has been set: run `simple-risk admin set-password` "
                    "as the daemon's user",
                )
            if not isinstance(password, str) or not password:
                raise ProtocolError(
                    ErrorCode.AUTH_REQUIRED.value, f"{op} is an admin operation: give auth.password"
                )
            # only the password the daemon accepts is registered as a secret: a wrong one is
            # whatever the client chose to send, and registering it would blank that word
            # (an account id, a rule's id) out of every later line of the daemon's log
            if check_password(password, hashed):
                register_secret(password)
                self.throttle.succeeded(peer)
                return
            count = self.throttle.failed(peer)
            wait = self.throttle.retry_after(peer) or 0.0
            self._audit(
                peer,
                operator,
                op,
                "auth_failed",
                f"wrong password ({count} in a row; next try in {_seconds(wait)})",
            )
            log.warning(
                "wrong admin password from %s for %s (%d in a row)",
                peer.describe(operator),
                op,
                count,
            )
            raise ProtocolError(
                ErrorCode.AUTH_FAILED.value, "wrong password", retry_after=wait or None
            )

    def is_owner(self, peer: Peer) -> bool:
        return peer.transport == "unix" and peer.uid == self.daemon_uid

    def _audit(self, peer: Peer, operator: str | None, op: str, action: str, result: str) -> None:
        if self._store is None:
            return
        try:
            self._store.record_admin_action(
                at=self._now(),
                who=peer.describe(operator),
                action=action,
                why=f"admin {op}",
                result=result,
                args={"op": op, "peer": peer.as_json()},
            )
        except StoreError as exc:
            log.error("could not audit a failed admin attempt: %s", exc)


__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Authenticator",
    "Peer",
    "Throttle",
    "tcp_peer",
    "unix_peer",
]
