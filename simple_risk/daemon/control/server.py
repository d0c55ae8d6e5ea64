"""The status server inside the daemon: a Unix socket (and optionally loopback TCP).

Transport only — the operations themselves are in :mod:`simple_risk.daemon.control.ops`:

* **Listening.** The Unix socket is created in a parent directory that is created 0700 when
  it does not exist (0750 and handed to ``status_socket_group`` when one is configured), a
  stale socket file (nothing answers) is replaced, and a live daemon answering on it is a
  :class:`ServerError` — two daemons must never share one socket. The socket gets
  ``status_socket_mode`` (0600 by default: only the daemon's user) and the configured group.
  ``status_tcp`` adds a loopback-only TCP listener with exactly the same rules.
* **Connections.** One thread per connection reads newline-delimited JSON requests and
  answers them in order; peers are identified by ``SO_PEERCRED`` (Unix) or address (TCP).
  Who may hold a connection is :mod:`~simple_risk.daemon.control.admission`'s call
  (per-user caps, slots kept for admin operations); a refused one gets one ``busy`` line. A
  connection that sends no request for ``status_limits.idle_timeout`` seconds is closed
  with an ``unavailable`` line saying so, and so is one that does not read what it is sent
  for as long (a stream to a monitor that stopped reading). Work on the engine thread goes
  through :mod:`~simple_risk.daemon.control.gate`, which bounds it.
* **Streams.** ``subscribe`` and ``logs --follow`` turn the connection into a stream fed by a
  bounded per-client queue. The engine thread only ever *offers* a message to that queue;
  when a client reads too slowly the newest messages are dropped and the client later gets
  one ``dropped`` message with the count. The daemon never waits for a monitor.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import grp
import ipaddress
import logging
import os
import select
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from simple_risk.daemon.control.admission import PROBATION, Admission, Refused, Slot
from simple_risk.daemon.control.auth import tcp_peer, unix_peer
from simple_risk.daemon.control.gate import Encoded
from simple_risk.daemon.control.protocol import (
    ADMIN_OPS,
    MAX_LINE,
    MAX_OPEN_LINE,
    ErrorCode,
    ProtocolError,
    decode,
    encode,
    encode_answer,
    is_http_request,
)

if TYPE_CHECKING:
    from simple_risk.daemon.control.auth import Peer
    from simple_risk.daemon.control.ops import Operations
    from simple_risk.daemon.control.target import ControlTarget

log = logging.getLogger(__name__)

#: the longest path a Unix socket address holds on Linux (sun_path is 108 bytes with the NUL)
MAX_SOCKET_PATH = 107
#: seconds between two log lines about refused connections of one user
REFUSAL_LOG_INTERVAL = 60.0
#: refused connections per second, and in one burst, before the accept loop slows down
REFUSALS_PER_SECOND = 100.0
REFUSAL_BURST = 50.0
#: accept() errors that mean "not now" (descriptors or memory used up), not a closed listener
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: seconds between two accepts while out of descriptors or memory
RESOURCE_RETRY = 0.1
#: bytes of a request line that count as one request for pacing (:meth:`StatusServer._pace`)
PACED_BYTES = 1024


class ServerError(Exception):
    """The status server cannot start (another daemon answers, bad path, permissions)."""


class ListenerUnavailable(ServerError):
    """A loopback port cannot be bound (another program holds it): the daemon guards
    without that listener rather than not at all — any local user may take a port first."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Knobs of the server (tests shrink the waits)."""

    #: how long a request waits for the engine thread before answering ``unavailable``
    engine_timeout: float = 10.0
    #: messages a monitor client may have waiting before newer ones are dropped
    subscriber_queue: int = 2000
    #: the first throttling delay after a wrong password (doubling, capped)
    throttle_base: float = 1.0
    throttle_cap: float = 300.0
    #: bcrypt cost of a password set through ``set_password``
    bcrypt_rounds: int = 12
    #: seconds between the end of one read on the engine thread and the start of the next
    #: (``status``, ``explain``; concurrent identical reads share one): bounds what a flood of
    #: status requests can take from the engine
    engine_read_spacing: float = 0.05
    #: requests one user (a Unix uid; TCP as one) may send a second, after a burst: answering
    #: even ``hello`` tens of thousands of times a second takes the interpreter from the engine
    requests_per_second: float = 200.0
    request_burst: int = 200


# -- monitor fan-out ---------------------------------------------------------------------------


class Subscriber:
    """One streaming client's bounded queue of encoded lines."""

    def __init__(self, kinds: Iterable[str] | None, capacity: int) -> None:
        self.kinds = frozenset(kinds) if kinds else None
        self.capacity = capacity
        self.dropped_total = 0
        self._items: deque[bytes] = deque()
        self._gap = 0
        self._cond = threading.Condition()

    def wants(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def offer(self, line: bytes) -> None:
        """Queue a line without ever waiting; when full, count it as dropped."""
        with self._cond:
            if len(self._items) >= self.capacity:
                self._gap += 1
                self.dropped_total += 1
                return
            self._items.append(line)
            self._cond.notify()

    def take(self, timeout: float) -> list[bytes]:
        """Everything waiting (after up to ``timeout`` s), then a ``dropped`` notice for the
        messages that did not fit — in the place they would have had."""
        with self._cond:
            if not self._items and not self._gap:
                self._cond.wait(timeout)
            lines = list(self._items)
            self._items.clear()
            if self._gap:
                lines.append(
                    encode(
                        {
                            "stream": "monitor",
                            "type": "dropped",
                            "severity": "warning",
                            "text": f"{self._gap} message(s) skipped: the client read too slowly",
                            "data": {"count": self._gap},
                        }
                    )
                )
                self._gap = 0
            return lines

    def close(self) -> None:
        with self._cond:
            self._cond.notify_all()


class Broadcaster:
    """Fans monitor messages out to every subscriber; publishing costs nothing without one."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, kinds: Iterable[str] | None, capacity: int) -> Subscriber:
        subscriber = Subscriber(kinds, capacity)
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s is not subscriber]
        subscriber.close()

    def publish(self, kind: str, message: dict[str, Any]) -> None:
        """Offer one message of ``kind`` (``event``, ``firing``, ...) to every subscriber.

        Encoded once; never blocks (see :meth:`Subscriber.offer`)."""
        subscribers = self._subscribers
        wanted = [s for s in subscribers if s.wants(kind)]
        if not wanted:
            return
        line = encode({"stream": "monitor", "type": kind, **message})
        for subscriber in wanted:
            subscriber.offer(line)


class Source(Protocol):
    """What a streaming connection drains (a :class:`Subscriber`, a log follower)."""

    def take(self, timeout: float) -> list[bytes]: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Streaming:
    """An op's answer that turns the connection into a stream once the response is sent."""

    result: dict[str, Any]
    source: Source


@dataclass(slots=True)
class ThenRun:
    """An op's answer with something to do once it has been sent (``stop``: the client
    gets its answer before the daemon closes the connection)."""

    result: dict[str, Any]
    action: Callable[[], None]


# -- the server --------------------------------------------------------------------------------


class StatusServer:
    """Listens on the configured socket(s) and serves :class:`Operations` to each client."""

    def __init__(
        self,
        daemon: ControlTarget,
        options: ServerOptions | None = None,
        *,
        spawn: Callable[[str, Callable[[], None]], threading.Thread] | None = None,
    ) -> None:
        from simple_risk.daemon.control.ops import Operations

        self.daemon = daemon
        self.options = options or ServerOptions()
        #: starts each accept loop (the daemon's supervisor, which restarts a loop that
        #: fails); None: plain daemon threads
        self._spawn = spawn
        config = daemon.config
        self.path = Path(config.status_socket)
        self.mode = config.status_socket_mode
        self.group = config.status_socket_group
        self.tcp = config.status_tcp
        self.tcp_address: tuple[str, int] | None = None
        #: listeners that could not be started (a port another program holds), in words
        self.unavailable: list[str] = []
        self.limits = config.status_limits
        self.admission = Admission(self.limits)
        self.ops: Operations = Operations(daemon, self)
        self._listeners: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        #: per peer key: refusals not logged yet, and when the last line was logged
        self._refusals: dict[str, tuple[int, float]] = {}
        self._refusal_tokens = float(REFUSAL_BURST)
        self._refusal_at = time.monotonic()
        self._resources_logged_at = -REFUSAL_LOG_INTERVAL
        #: per peer key: request tokens left, and when they were counted (:meth:`_pace`)
        self._request_tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._inode: tuple[int, int] | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> StatusServer:
        """Bind and listen; raises :class:`ServerError` with a message the CLI prints."""
        try:
            self._listen_unix()
            if self.tcp is not None:
                try:
                    self._listen_tcp(*self.tcp)
                except ListenerUnavailable as exc:
                    self.unavailable.append(str(exc))
        except BaseException:
            self.stop()
            raise
        for listener in self._listeners:
            unix = listener.family == socket.AF_UNIX
            name = "status-accept" if unix else "status-accept-tcp"
            if self._spawn is not None:
                thread = self._spawn(name, functools.partial(self._accept_loop, listener))
            else:
                thread = threading.Thread(
                    target=self._accept_loop, args=(listener,), name=name, daemon=True
                )
                thread.start()
            self._threads.append(thread)
        where = str(self.path) + (f" and tcp:{self.address_tcp()}" if self.tcp_address else "")
        log.info("status server listening on %s", where)
        return self

    def address_tcp(self) -> str | None:
        if self.tcp_address is None:
            return None
        host, port = self.tcp_address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def addresses(self) -> list[str]:
        """Every address a client can use (``--socket`` / ``$SIMPLE_RISK_SOCKET`` form)."""
        found = [str(self.path)]
        if self.tcp_address is not None:
            found.append(f"tcp:{self.address_tcp()}")
        return found

    def close_listeners(self) -> None:
        """Accept no new connections and remove the socket file (if it is still ours)."""
        with self._lock:
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            with contextlib.suppress(OSError):
                # wakes the thread blocked in accept() (close alone does not, on Linux), so
                # a stop does not wait out the accept thread's join timeout
                listener.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                listener.close()
        if self._inode is not None:
            try:
                info = self.path.lstat()
                if (info.st_dev, info.st_ino) == self._inode:
                    self.path.unlink()
            except OSError:
                pass
            self._inode = None

    def stop(self) -> None:
        """Stop listening and close every connection (streams end; clients see EOF)."""
        self._stopping.set()
        self.close_listeners()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(2.0)
        self._threads = []

    # -- listening ------------------------------------------------------------------------------

    def _listen_unix(self) -> None:
        path = self.path
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise ServerError(
                f"the status socket path {path} is longer than {MAX_SOCKET_PATH} bytes; "
                "set status_socket to a shorter path"
            )
        self._prepare_directory(path.parent)
        self._replace_stale(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, self.mode)
            if self.group is not None:
                os.chown(path, -1, self._gid(self.group))
            listener.listen(32)
        except OSError as exc:
            listener.close()
            raise ServerError(
                f"cannot serve the status socket {path}: {exc.strerror or exc}"
            ) from None
        info = path.lstat()
        self._inode = (info.st_dev, info.st_ino)
        self._listeners.append(listener)

    def _gid(self, group: str) -> int:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise ServerError(f"status_socket_group {group!r} does not exist") from None

    def _prepare_directory(self, directory: Path) -> None:
        if directory.exists():
            return
        try:
            directory.mkdir(parents=True, mode=0o700)
            if self.group is not None:
                os.chmod(directory, 0o750)
                os.chown(directory, -1, self._gid(self.group))
        except OSError as exc:
            raise ServerError(f"cannot create {directory}: {exc.strerror or exc}") from None

    def _replace_stale(self, path: Path) -> None:
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ServerError(f"{path} exists and is not a socket; remove it or set status_socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(str(path))
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise ServerError(f"cannot check {path}: {exc.strerror or exc}") from None
            log.info("replacing the stale status socket %s", path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        finally:
            probe.close()
        pid = _hello_pid(path)
        owner = f" (pid {pid})" if pid is not None else ""
        raise ServerError(
            f"a daemon is already running on {path}{owner}; stop it first "
            '(simple-risk admin daemon stop --reason "…") or set another status_socket'
        )

    def _listen_tcp(self, host: str, port: int) -> None:
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ServerError(f"status_tcp must be a loopback address, not {host}")
        except ValueError:
            if host != "localhost":
                raise ServerError(f"status_tcp must be a loopback address, not {host}") from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(32)
        except OSError as exc:
            listener.close()
            raise ListenerUnavailable(
                f"cannot serve status_tcp {host}:{port}: {exc.strerror or exc}"
            ) from None
        bound = listener.getsockname()
        self.tcp_address = (str(bound[0]), int(bound[1]))
        self._listeners.append(listener)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                connection, address = listener.accept()
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES or self._stopping.is_set():
                    return  # closed by close_listeners
                # out of descriptors or memory (a flood of connections elsewhere): the
                # connection waits in the kernel's backlog; accept it once there is room
                self._out_of_resources(exc)
                continue
            peer = unix_peer(connection) if listener.family == socket.AF_UNIX else None
            if peer is None:
                peer = tcp_peer(address)
            try:
                slot = self.admission.admit(peer)
            except Refused as refusal:
                _refuse(connection, str(refusal))
                self._log_refusal(peer, refusal)
                self._pace_refusals()
                continue
            with self._lock:
                self._connections.add(connection)
            connection.settimeout(self.limits.idle_timeout)
            threading.Thread(
                target=self._serve,
                args=(connection, peer, slot),
                name="status-client",
                daemon=True,
            ).start()

    def _pace(self, peer: Peer, size: int) -> None:
        """Hold this connection's next request until its user may send one: at most
        ``requests_per_second`` per user (TCP as one) after a burst of ``request_burst``,
        a request of ``size`` bytes counting once per ``PACED_BYTES`` (parsing a long line
        costs the interpreter as much as many short ones). Only the asking connection
        waits; the engine and other users never do."""
        rate = self.options.requests_per_second
        burst = float(self.options.request_burst)
        cost = max(1.0, size / PACED_BYTES)
        with self._lock:
            now = time.monotonic()
            tokens, at = self._request_tokens.get(peer.key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate) - cost
            self._request_tokens[peer.key] = (tokens, now)
        if tokens < 0:
            self._stopping.wait(-tokens / rate)

    def _out_of_resources(self, exc: OSError) -> None:
        """Say so (at most one line a minute), then wait a little before accepting again."""
        now = time.monotonic()
        if now - self._resources_logged_at >= REFUSAL_LOG_INTERVAL:
            self._resources_logged_at = now
            log.error(
                "status server cannot accept a connection: %s; retrying until there is room",
                exc.strerror or exc,
            )
        self._stopping.wait(RESOURCE_RETRY)

    def _pace_refusals(self) -> None:
        """At most ``REFUSALS_PER_SECOND`` refusals (in bursts of ``REFUSAL_BURST``): a client
        reconnecting in a loop as fast as it is refused would otherwise keep this thread — and
        the interpreter lock the engine needs — busy. Beyond that rate the loop waits, and
        further connections wait in the kernel's backlog (the flood's own first)."""
        now = time.monotonic()
        tokens = min(
            REFUSAL_BURST, self._refusal_tokens + (now - self._refusal_at) * REFUSALS_PER_SECOND
        )
        self._refusal_at = now
        self._refusal_tokens = tokens - 1
        if self._refusal_tokens < 0:
            self._stopping.wait(-self._refusal_tokens / REFUSALS_PER_SECOND)

    def _log_refusal(self, peer: Peer, refusal: Refused) -> None:
        """Log the first refusal of a user, then at most one line a minute with the count: a
        flood of connections must not become a flood of log lines."""
        now = time.monotonic()
        count, logged_at = self._refusals.get(peer.key, (0, -REFUSAL_LOG_INTERVAL))
        count += 1
        if now - logged_at < REFUSAL_LOG_INTERVAL:
            self._refusals[peer.key] = (count, logged_at)
            return
        self._refusals[peer.key] = (0, now)
        log.warning(
            "status connection from %s refused (%d since the last such line): %s",
            peer.describe(),
            count,
            refusal,
        )

    # -- one connection ---------------------------------------------------------------------------

    def _serve(self, connection: socket.socket, peer: Peer, slot: Slot) -> None:
        reader = connection.makefile("rb")
        # on probation, hello does not buy time: the admin operation must come within one
        # idle timeout of connecting, or a silent user could keep a reserved slot with hellos
        probation_ends = time.monotonic() + self.limits.idle_timeout
        #: whether an admin operation has succeeded on this connection: only then is a line
        #: longer than MAX_OPEN_LINE read (parsing one holds the interpreter the engine needs)
        admin = False
        try:
            while not self._stopping.is_set():
                if slot.pool == PROBATION:
                    connection.settimeout(max(probation_ends - time.monotonic(), 0.001))
                limit = MAX_LINE if admin else MAX_OPEN_LINE
                try:
                    line = reader.readline(limit + 1)
                except TimeoutError:
                    idle = self.limits.idle_timeout
                    self._send(connection, _notice(f"closed: no request for {idle:g}s"))
                    return
                except OSError:
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                oversized = len(line) > limit and not line.endswith(b"\n")
                if oversized and not admin:
                    # unparsed, and nothing after it is read: it is no line of this protocol
                    _hang_up(connection, _LONG_LINE_REFUSAL)
                    return
                self._pace(peer, len(line))
                if is_http_request(line):
                    # a web page's request to the loopback port: hang up before its body,
                    # whose lines would otherwise be run for the page
                    _hang_up(connection, _HTTP_REFUSAL)
                    return
                if slot.pool == PROBATION:
                    answer, outcome, stay, proven = self._on_probation(connection, line, peer, slot)
                else:
                    answer, outcome, _, proven = self._answer(line, peer)
                    stay = True  # an ordinary or admin connection survives a refusal
                admin = admin or proven
                if not self._send(connection, answer):
                    return
                if oversized or not stay:
                    return  # an unframable line, or a reserved slot not proven the admin's
                if isinstance(outcome, Streaming):
                    self._stream(connection, outcome.source)
                    return
                if isinstance(outcome, ThenRun):
                    self.run_after(outcome.action)
        finally:
            self.admission.release(slot)
            with self._lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                reader.close()
            with contextlib.suppress(OSError):
                connection.close()

    def _on_probation(
        self, connection: socket.socket, line: bytes, peer: Peer, slot: Slot
    ) -> tuple[bytes, object, bool, bool]:
        """A connection in a slot kept for admin operations: ``hello`` is answered; the first
        other request must be an admin operation whose password is right — then the slot is
        the admin's for good — else it is answered and the connection closed."""
        try:
            message = decode(line)
        except ProtocolError as refusal:
            answer = encode({"id": None, "ok": False, "error": refusal.to_json()})
            return answer, None, False, False
        op = message.get("op")
        if op == "hello":
            return self._answer(line, peer)
        if op not in ADMIN_OPS:
            busy = ProtocolError(
                ErrorCode.BUSY.value,
                "the daemon is busy (too many connections): the free ones are kept for "
                "admin operations; try again shortly",
            )
            return (
                encode({"id": message.get("id"), "ok": False, "error": busy.to_json()}),
                None,
                False,
                False,
            )
        answer, outcome, ok, admin = self._answer(line, peer)
        if ok:
            self.admission.promote(slot)
            with contextlib.suppress(OSError):
                connection.settimeout(self.limits.idle_timeout)
        return answer, outcome, ok, admin

    def _answer(self, line: bytes, peer: Peer) -> tuple[bytes, object, bool, bool]:
        """The answer line, what to do after sending it, whether it succeeded, and whether
        it was an admin operation that succeeded (its password passed)."""
        request_id: Any = None
        try:
            message = decode(line)
            request_id = message.get("id")
            outcome = self.ops.handle(message, peer)
        except ProtocolError as refusal:
            error = encode({"id": request_id, "ok": False, "error": refusal.to_json()})
            return error, None, False, False
        except Exception as exc:  # a bug: logged, answered, the connection survives
            log.exception("status request failed")
            internal = ProtocolError(ErrorCode.INTERNAL.value, f"internal error: {exc}")
            error = encode({"id": request_id, "ok": False, "error": internal.to_json()})
            return error, None, False, False
        admin = message.get("op") in ADMIN_OPS
        if isinstance(outcome, Encoded):
            return encode_answer(request_id, outcome.data), None, True, admin
        if isinstance(outcome, Streaming | ThenRun):
            answer = encode({"id": request_id, "ok": True, "result": outcome.result})
            return answer, outcome, True, admin
        return encode({"id": request_id, "ok": True, "result": outcome}), None, True, admin

    def _send(self, connection: socket.socket, data: bytes) -> bool:
        try:
            connection.sendall(data)
        except OSError:
            return False
        return True

    def _stream(self, connection: socket.socket, source: Source) -> None:
        """Drain ``source`` into the connection until the client or the server goes away."""
        try:
            while not self._stopping.is_set():
                lines = source.take(0.5)
                if lines:
                    if not self._send(connection, b"".join(lines)):
                        return
                elif _peer_closed(connection):
                    return
        finally:
            source.close()

    def run_after(self, action: Callable[[], None]) -> None:
        """Run ``action`` on its own thread (used by ``stop``, after the answer is sent)."""
        threading.Thread(target=action, name="status-after", daemon=True).start()


#: the answer to an HTTP request line, before the connection is closed
_HTTP_REFUSAL = encode(
    {
        "id": None,
        "ok": False,
        "error": {
            "code": ErrorCode.BAD_REQUEST.value,
            "message": "an HTTP request: this socket speaks JSON lines (docs/status-protocol.md)",
        },
    }
)


#: the answer to a line longer than MAX_OPEN_LINE where no admin operation has succeeded
_LONG_LINE_REFUSAL = encode(
    {
        "id": None,
        "ok": False,
        "error": {
            "code": ErrorCode.BAD_REQUEST.value,
            "message": f"a line longer than {MAX_OPEN_LINE // 1024} KiB is read only on a "
            "connection where an admin operation has succeeded (send auth_check first)",
        },
    }
)


def _notice(message: str, code: ErrorCode = ErrorCode.UNAVAILABLE) -> bytes:
    """A line that answers no request (``"id": null``): why the daemon hangs up."""
    return encode({"id": None, "ok": False, "error": {"code": code.value, "message": message}})


def _refuse(connection: socket.socket, message: str) -> None:
    """Say ``busy`` and hang up, without ever blocking the accept loop: the line goes into a
    fresh socket's empty buffer, and what the client already sent is read away first so that
    closing does not reset the connection before the client reads the line (TCP)."""
    with contextlib.suppress(OSError):
        connection.setblocking(False)
        connection.sendall(_notice(message, ErrorCode.BUSY))
        connection.shutdown(socket.SHUT_WR)
        while connection.recv(65536):
            pass
    connection.close()


def _hang_up(connection: socket.socket, line: bytes) -> None:
    """Send ``line`` and end the connection so that the client reads it: what it sent
    meanwhile is read away (briefly, and at most 1 MiB) — closing with unread data would
    reset the connection and lose the line."""
    with contextlib.suppress(OSError):
        connection.sendall(line)
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(0.5)
        drained = 0
        while drained < 1 << 20 and (chunk := connection.recv(65536)):
            drained += len(chunk)


def _peer_closed(connection: socket.socket) -> bool:
    """Whether the client hung up (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return False
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (OSError, ValueError):
        return True


def _hello_pid(path: Path) -> int | None:
    """The pid a live daemon on ``path`` reports (for the refusal message), if it answers."""
    from simple_risk.daemon.control.client import Connection, DaemonNotRunning

    try:
        with Connection(str(path), timeout=2.0) as connection:
            hello = connection.request("hello")
    except (DaemonNotRunning, ProtocolError, OSError, ValueError):
        return None
    pid = hello.get("pid") if isinstance(hello, dict) else None
    return pid if isinstance(pid, int) else None


__all__ = [
    "MAX_SOCKET_PATH",
    "Broadcaster",
    "ListenerUnavailable",
    "ServerError",
    "ServerOptions",
    "StatusServer",
    "Streaming",
    "Subscriber",
    "ThenRun",
]
