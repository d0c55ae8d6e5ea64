"""A small synchronous client of the status socket, for the CLI, the tests and other tools.

``Connection`` holds one socket; each ``request`` writes a line and reads the answer, and
``stream`` yields the messages a ``subscribe`` (or ``logs`` with ``follow``) keeps sending.
A daemon that is not running is :class:`DaemonNotRunning` (the CLI exits 3 on it), never a
traceback of ``ConnectionRefusedError``. A daemon that is running but refuses the connection
(``busy``: too many connections) or closes it (``unavailable``: idle too long) says so in a
line that answers no request (``"id": null``); that line is a :class:`ProtocolError`, even
when the daemon hung up before the request could be written.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from simple_risk.daemon.control.protocol import MAX_LINE, ErrorCode, ProtocolError, decode, encode
from simple_risk.paths import xdg_dir

#: the environment variable that names the socket (a path, or ``tcp:HOST:PORT``)
SOCKET_ENV = "SIMPLE_RISK_SOCKET"
#: where a system install (examples/deploy) puts the socket
SYSTEM_SOCKET = Path("/run/simple-risk/status.sock")


class DaemonNotRunning(Exception):
    """Nothing listens at the address (no socket file, connection refused, stale socket)."""


class SocketDenied(DaemonNotRunning):
    """The socket (or a folder on its path) is closed to this user: a daemon may well run."""


def default_address(env: Mapping[str, str] | None = None) -> str:
    """``$SIMPLE_RISK_SOCKET``, else the system socket if it exists, else the per-user one."""
    environ = os.environ if env is None else env
    named = environ.get(SOCKET_ENV)
    if named:
        return named
    with contextlib.suppress(PermissionError):  # /run/simple-risk closed to this user
        if SYSTEM_SOCKET.exists():
            return str(SYSTEM_SOCKET)
    return str(xdg_dir("runtime", environ) / "status.sock")


def _connect(address: str, timeout: float | None) -> socket.socket:
    if address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        try:
            return socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout)
        except ValueError:
            raise DaemonNotRunning(f"bad TCP address {address!r} (want tcp:HOST:PORT)") from None
        except OSError as exc:
            raise DaemonNotRunning(f"no daemon at {address}: {exc.strerror or exc}") from None
    path = Path(address)
    try:
        there = path.exists()
    except PermissionError:  # a folder on the way is closed to this user (0700)
        there = True  # connect says so
    if not there:
        raise DaemonNotRunning(f"no daemon is running (no socket at {path})")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except PermissionError:
        sock.close()
        raise SocketDenied(
            f"permission denied on {path}: your user may not reach this daemon's socket"
        ) from None
    except OSError as exc:
        sock.close()
        raise DaemonNotRunning(
            f"no daemon is running at {path} ({exc.strerror or exc}; a stale socket?)"
        ) from None
    return sock


class Connection:
    """One connection to the daemon's status server."""

    def __init__(self, address: str | None = None, *, timeout: float | None = 30.0) -> None:
        self.address = address or default_address()
        self._sock = _connect(self.address, timeout)
        self._file = self._sock.makefile("rb")
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the connection; a thread blocked reading it (a stream) wakes up and ends."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # else closing the reader waits for it
        try:
            self._file.close()
        finally:
            self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        op: str,
        args: Mapping[str, Any] | None = None,
        *,
        password: str | None = None,
        operator: str | None = None,
    ) -> int:
        """Write one request; returns its id."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"id": request_id, "op": op, "args": dict(args or {})}
        if password is not None:
            message["auth"] = {"password": password}
        if operator is not None:
            message["operator"] = operator
        try:
            self._sock.sendall(encode(message))
        except OSError as exc:
            refusal = self._last_words()
            if refusal is not None:
                raise refusal from None
            raise DaemonNotRunning(f"the daemon closed the connection ({exc})") from None
        return request_id

    def _last_words(self) -> ProtocolError | None:
        """The line the daemon sent before hanging up on us (a ``busy`` refusal), if any."""
        try:
            self._sock.settimeout(1.0)
            line = self._file.readline(MAX_LINE + 1)
            message = decode(line) if line else None
        except (OSError, ValueError, ProtocolError):
            return None
        return _hang_up(message) if message is not None else None

    def receive(self) -> dict[str, Any]:
        """The next message from the daemon (a response or a streamed item)."""
        try:
            line = self._file.readline(MAX_LINE + 1)
        except TimeoutError:
            raise ProtocolError(ErrorCode.UNAVAILABLE.value, "the daemon did not answer") from None
        except (OSError, ValueError) as exc:  # ValueError: closed locally (another thread)
            raise DaemonNotRunning(f"the connection is closed ({exc})") from None
        if not line:
            raise DaemonNotRunning("the daemon closed the connection")
        return decode(line)

    def request(
        self,
        op: str,
        args: Mapping[str, Any] | None = None,
        *,
        password: str | None = None,
        operator: str | None = None,
    ) -> Any:
        """Send one request and return its ``result``; a failure raises ProtocolError."""
        request_id = self.send(op, args, password=password, operator=operator)
        while True:
            message = self.receive()
            refusal = _hang_up(message)
            if refusal is not None:
                raise refusal
            if message.get("id") != request_id:
                continue  # a streamed item of an earlier subscription
            if message.get("ok"):
                return message.get("result")
            raise ProtocolError.from_json(message.get("error"))

    def stream(
        self,
        op: str,
        args: Mapping[str, Any] | None = None,
        *,
        password: str | None = None,
        operator: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Start a streaming op and yield each streamed message until the daemon closes."""
        self.request(op, args, password=password, operator=operator)
        self._sock.settimeout(None)
        while True:
            try:
                yield self.receive()
            except DaemonNotRunning:
                return


def _hang_up(message: Mapping[str, Any]) -> ProtocolError | None:
    """The daemon's refusal of the connection itself (``"id": null, "ok": false``)."""
    if "id" in message and message["id"] is None and message.get("ok") is False:
        return ProtocolError.from_json(message.get("error"))
    return None


def request(
    op: str,
    args: Mapping[str, Any] | None = None,
    *,
    address: str | None = None,
    password: str | None = None,
    operator: str | None = None,
    timeout: float | None = 30.0,
) -> Any:
    """One request on a fresh connection."""
    with Connection(address, timeout=timeout) as connection:
        return connection.request(op, args, password=password, operator=operator)


__all__ = [
    "SOCKET_ENV",
    "SYSTEM_SOCKET",
    "Connection",
    "DaemonNotRunning",
    "SocketDenied",
    "default_address",
    "request",
]
