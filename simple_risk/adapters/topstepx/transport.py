"""How the REST client's POSTs reach the gateway, each bounded by its call's total deadline.

Every call of :class:`~simple_risk.adapters.topstepx.rest.RestClient` has a total deadline: a
gateway that trickles its status line, headers or body (each read well within the per-read
timeout) must not hold an enforcing call past it. Two transports keep that promise:

* :class:`DirectTransport` (the default) sends on the **caller's own thread** through a
  ``urllib3`` connection pool, and a :class:`DeadlineWatch` shuts the socket of an exchange
  still open when its deadline passes, which ends the blocked read at once. This is the
  enforcement path: no hand-off to another thread and none of ``requests``' per-call
  preparation (merging settings, cookies, hooks), which measured about 0.3 ms of a 0.5 ms
  loopback call on a warm machine and three times that on an idle one
  (``python -m bench.latency --stages``).
  An enforcing call can also be **sent by one thread and answered on another**
  (:meth:`DirectTransport.send`, :class:`Sent`): the daemon's engine thread puts the request
  on a kept-alive connection the moment it plans it, and the executor's lane, woken
  meanwhile, reads the answer. Only a connection that is open and idle is used, so the
  sending thread never connects, never waits for a pool slot and never reads.
* :class:`SessionTransport` sends through a caller-supplied ``requests.Session`` (or one that
  needs a proxy or a client certificate, which ``requests`` handles and this module does not
  re-implement), on one of a small pool of HTTP threads the caller waits on up to the
  deadline; an answer that arrives after the caller gave up is closed.

Both answer an :class:`Answer` (status, body and the ``Retry-After`` header) or raise
:class:`DeadlinePassed` or :class:`ExchangeFailed`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)

#: how long putting a request on an idle connection may take on the sending thread (a small
#: request fits its socket's buffer at once: this bounds a connection gone bad, never a wait)
SEND_TIMEOUT = 0.05

#: every connection's socket options: urllib3's own (no Nagle delay) and TCP keepalive
#: probes after 15 s idle, every 5 s, 3 unanswered ending it. A kept-alive connection a load
#: balancer or NAT dropped without a word would otherwise take the next enforcing call with it
#: until the call's deadline (4 s); probed, it is either kept alive (a probe resets the
#: balancer's idle timer) or found dead and closed before it is handed out again.
KEEPALIVE_OPTIONS: list[tuple[int, int, int]] = [
    *HTTPConnection.default_socket_options,
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    *(
        (socket.IPPROTO_TCP, getattr(socket, name), value)
        for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
        if hasattr(socket, name)
    ),
]

#: how often the deadline watch looks at the open exchanges: a trickling answer is cut at most
#: this long after its deadline (the enforcement deadline is 4 s, the default 30 s)
WATCH_INTERVAL = 0.05


class DeadlinePassed(Exception):
    """The call's total deadline passed while its answer was still arriving."""


class ExchangeFailed(Exception):
    """The request could not be sent or its answer not read (connection refused, reset,
    timed out, malformed HTTP): transient, worth a retry."""


class Answer(NamedTuple):
    """A whole answer: its status, its body and its ``Retry-After`` header, if it has one
    (how long the gateway asks to be left alone after a 429 or a 503)."""

    status: int
    body: bytes
    retry_after: str | None = None


def _retry_after(headers: Any) -> str | None:
    value = headers.get("Retry-After") if headers is not None else None
    return value if isinstance(value, str) else None


class Transport(Protocol):
    """Sends one POST and reads its whole answer, by ``deadline`` (on the monotonic clock)."""

    def exchange(
        self, url: str, payload: bytes, headers: Mapping[str, str], deadline: float
    ) -> Answer: ...

    def close(self) -> None: ...


# -- the deadline watch ------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Exchange:
    """One POST in flight on some thread: its deadline and, once sent, its connection."""

    deadline: float
    connection: HTTPConnection | None = None
    cut: bool = False


#: the exchange the current thread is sending, for the pool's connections to attach to
_current = threading.local()


class DeadlineWatch:
    """Cuts exchanges still open past their deadline by shutting their socket down.

    One thread for the whole client, looking every ``interval`` seconds: arming and releasing
    an exchange is a dictionary update under a lock, so the caller's thread never waits for
    (or wakes) the watch. The thread starts with the first exchange and ends with
    :meth:`close`; a failure inside it is logged and the watch goes on (it must not stop
    bounding calls)."""

    def __init__(
        self, interval: float = WATCH_INTERVAL, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._open: set[_Exchange] = set()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.cuts = 0  # exchanges cut at their deadline, for tests and status

    def open(self, deadline: float) -> _Exchange:
        """Watch a new exchange of the current thread (its connection attaches when sent)."""
        exchange = self.watching(deadline, None)
        _current.exchange = exchange
        return exchange

    def watching(self, deadline: float, connection: HTTPConnection | None) -> _Exchange:
        """Watch an exchange already on ``connection``, whichever thread reads its answer
        (not the current thread's own exchange: see :class:`Sent`)."""
        exchange = _Exchange(deadline, connection)
        with self._lock:
            self._open.add(exchange)
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="rest-deadline-watch", daemon=True
                )
                self._thread.start()
        return exchange

    def release(self, exchange: _Exchange) -> bool:
        """Stop watching; True if the watch cut the exchange (its answer is lost)."""
        if getattr(_current, "exchange", None) is exchange:
            _current.exchange = None
        with self._lock:
            self._open.discard(exchange)
            return exchange.cut

    def close(self) -> None:
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)

    def _run(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.cut_overdue()
            except Exception:  # never stop bounding calls over one bad socket
                log.exception("the REST deadline watch failed; it goes on")

    def cut_overdue(self) -> int:
        """Shut the socket of every exchange past its deadline; how many were cut."""
        now = self._monotonic()
        cut = 0
        with self._lock:
            for exchange in self._open:
                if exchange.cut or now < exchange.deadline or exchange.connection is None:
                    continue
                sock = exchange.connection.sock
                exchange.cut = True
                cut += 1
                if sock is not None:
                    # already closed by its owner: nothing left to end
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self.cuts += cut
        return cut


#: told when the current thread's request is on the wire (see :func:`telling_when_sent`)
_WHEN_SENT: ContextVar[Callable[[], None] | None] = ContextVar("when_sent", default=None)


@contextlib.contextmanager
def telling_when_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Within the block, ``callback`` runs each time a request of this thread has been sent in
    full and its answer is awaited (handed to an HTTP thread, for :class:`SessionTransport`).

    The executor's lanes use it to tell the engine thread that an enforcing call is on its
    way, so the engine thread can give the interpreter up until then
    (:meth:`simple_risk.daemon.executor.Executor.submit`)."""
    token = _WHEN_SENT.set(callback)
    try:
        yield
    finally:
        _WHEN_SENT.reset(token)


def _tell_sent() -> None:
    callback = _WHEN_SENT.get()
    if callback is not None:
        callback()


_shared: DeadlineWatch | None = None
_shared_lock = threading.Lock()


def shared_watch() -> DeadlineWatch:
    """The process's one watch on ``time.monotonic``: every client on the real clock shares
    its thread, however many clients a process makes (tests, the demo's traders)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = DeadlineWatch()
        return _shared


def _attach(connection: HTTPConnection) -> None:
    """The connection's request is sent and it waits for the answer: the watch may cut it
    from now on, and whoever waits for the request to leave is told."""
    exchange: _Exchange | None = getattr(_current, "exchange", None)
    if exchange is not None:
        exchange.connection = connection
    _tell_sent()


class _WatchedHTTPConnection(HTTPConnection):
    """A connection that tells the current thread's exchange it carries it, so the watch can
    cut it while it waits for the answer; and can send a whole request in one write."""

    _held: list[bytes] | None = None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self)
        return super().getresponse(*args, **kwargs)

    def send(self, data: Any) -> None:
        held = self._held
        if held is None:
            super().send(data)
        else:
            held.append(bytes(data))

    def send_whole(self, path: str, body: bytes, headers: Mapping[str, str]) -> None:
        """POST ``body`` to ``path`` in one write: ``request`` writes the head and the body
        separately, two system calls, each of which gives up the interpreter lock the calling
        thread must then win back (:meth:`DirectTransport.send`)."""
        self._held = []
        try:
            self.request("POST", path, body=body, headers=headers, preload_content=False)
            whole = b"".join(self._held)
        finally:
            self._held = None
        super().send(whole)


class _WatchedHTTPSConnection(HTTPSConnection, _WatchedHTTPConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def read_until(response: Any, deadline: float, monotonic: Callable[[], float]) -> bytes:
    """A streamed answer's body, read as it arrives, up to ``deadline``.

    Each read also waits at most the per-read timeout. Raises :class:`DeadlinePassed`, or
    :class:`ExchangeFailed` when the connection breaks. The connection goes back to its pool
    either way: alive after a whole answer, closed after a broken one."""
    chunks: list[bytes] = []
    complete = False
    try:
        while True:
            if monotonic() >= deadline:
                raise DeadlinePassed
            chunk = response.read1(65536, decode_content=True)
            if not chunk:
                complete = True
                return b"".join(chunks)
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise ExchangeFailed(f"{type(error).__name__}: {error}") from None
    finally:
        if not complete:
            response.close()  # a half-read answer: its connection is never reused
        response.release_conn()  # a whole one: kept alive for the next call


# -- a request sent on one thread, answered on another ----------------------------------------


#: what reading an answer straight from a connection may raise when it breaks (``urlopen``
#: wraps ``http.client``'s own exceptions; :meth:`Sent.answer` reads below it)
_BROKEN = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


@dataclass(eq=False, slots=True)
class Sent:
    """A POST already on the wire whose answer is still to be read, by any thread.

    Made by :meth:`DirectTransport.send`; :meth:`answer` reads it (once) and gives the
    connection back to its pool. The deadline watch bounds it from the moment it was sent."""

    pool: HTTPConnectionPool
    connection: HTTPConnection
    exchange: _Exchange
    watch: DeadlineWatch
    monotonic: Callable[[], float]

    @property
    def deadline(self) -> float:
        """When the whole call must be over, on the monotonic clock."""
        return self.exchange.deadline

    def answer(self) -> Answer:
        """The whole answer, or :class:`DeadlinePassed` / :class:`ExchangeFailed`."""
        connection = self.connection
        try:
            try:
                response = connection.getresponse()
            except _BROKEN as error:
                connection.close()
                _give_back(self.pool, connection)
                if self.exchange.cut:
                    raise DeadlinePassed from None
                raise ExchangeFailed(f"{type(error).__name__}: {error}") from None
            _belongs_to(response, self.pool, connection)
            try:
                body = read_until(response, self.deadline, self.monotonic)
            except ExchangeFailed:
                if self.exchange.cut:
                    raise DeadlinePassed from None
                raise
            return Answer(response.status, body, _retry_after(response.headers))
        finally:
            if self.watch.release(self.exchange):
                connection.close()  # cut: never handed out again


def _idle_connection(pool: HTTPConnectionPool) -> _WatchedHTTPConnection | None:
    """A kept-alive connection of ``pool`` that is open and idle now, taken out of the pool;
    None when there is none (making one would mean connecting on the caller's thread).

    This is the pool's own hand-out (a pool of ``block=False`` never waits for a slot, and it
    checks that the server has not closed the connection); ``urlopen`` takes its connections
    the same way."""
    connection = pool._get_conn()
    if isinstance(connection, _WatchedHTTPConnection) and not connection.is_closed:
        return connection
    pool._put_conn(connection)
    return None


def _give_back(pool: HTTPConnectionPool, connection: HTTPConnection) -> None:
    """Return a connection taken by :func:`_idle_connection` (alive or closed) to its pool."""
    pool._put_conn(connection)


def _belongs_to(response: Any, pool: HTTPConnectionPool, connection: HTTPConnection) -> None:
    """Tie an answer read straight from ``connection`` to its pool, as ``urlopen`` does, so
    that :func:`read_until` gives the connection back (or closes it) when done."""
    response._connection = connection
    response._pool = pool


# -- the two transports ------------------------------------------------------------------------


class DirectTransport:
    """POSTs on the caller's thread through ``urllib3``, cut by a :class:`DeadlineWatch`.

    TLS follows the session it is made from: its ``verify`` (a CA bundle file or directory,
    or ``False``), with ``requests``' own CA bundle by default. Its headers (content type,
    user agent, accepted encodings) go with every request."""

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: float,
        maxsize: int,
        monotonic: Callable[[], float] = time.monotonic,
        watch: DeadlineWatch | None = None,
    ) -> None:
        self._timeout = timeout
        self._monotonic = monotonic
        #: the process's watch on the real clock (one thread for every client); a client on
        #: a clock of its own (tests) has a watch of its own, ended with it
        self._own_watch = watch is None and monotonic is not time.monotonic
        self.watch = watch or (
            DeadlineWatch(monotonic=monotonic) if self._own_watch else shared_watch()
        )
        self._headers = {str(k): str(v) for k, v in session.headers.items()}
        verify = session.verify
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {}
        if verify is not False:
            where = verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
            tls = {"cert_reqs": "CERT_REQUIRED"}
            tls["ca_cert_dir" if os.path.isdir(where) else "ca_certs"] = where
        self._pools = urllib3.PoolManager(
            maxsize=maxsize, block=False, socket_options=KEEPALIVE_OPTIONS, **tls
        )
        self._pools.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        #: url → (its pool, its request path), for :meth:`send` (a handful of endpoints)
        self._routes: dict[str, tuple[HTTPConnectionPool, str]] = {}

    def exchange(
        self, url: str, payload: bytes, headers: Mapping[str, str], deadline: float
    ) -> Answer:
        per_read = min(self._timeout, max(deadline - self._monotonic(), 0.01))
        exchange = self.watch.open(deadline)
        try:
            try:
                response = self._pools.urlopen(
                    "POST",
                    url,
                    body=payload,
                    headers={**self._headers, **headers},
                    timeout=urllib3.Timeout(connect=per_read, read=per_read),
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
            except (urllib3.exceptions.HTTPError, OSError) as error:
                if exchange.cut:
                    raise DeadlinePassed from None
                raise ExchangeFailed(f"{type(error).__name__}: {error}") from None
            try:
                body = read_until(response, deadline, self._monotonic)
            except ExchangeFailed:
                if exchange.cut:
                    raise DeadlinePassed from None
                raise
            return Answer(response.status, body, _retry_after(response.headers))
        finally:
            if self.watch.release(exchange) and exchange.connection is not None:
                exchange.connection.close()  # cut: never handed out again

    def send(
        self,
        url: str,
        payload: bytes,
        headers: Mapping[str, str],
        deadline: float,
        permit: Callable[[], bool],
    ) -> Sent | None:
        """Put a POST on the wire now, on the caller's thread, and leave its answer to whoever
        calls :meth:`Sent.answer`; None (nothing sent) when that would mean waiting.

        Only a kept-alive connection that is open and idle is used: the caller never
        connects or reads. ``permit`` (the rate limiter, asked without waiting) is asked once
        such a connection is in hand; when it says no, nothing is sent. A send that fails
        (the server closed the connection as it went out) sends nothing either: the call is
        then made the ordinary way, by :meth:`exchange`."""
        pool, path = self._route(url)
        try:
            connection = _idle_connection(pool)
        except urllib3.exceptions.ClosedPoolError:
            self._routes.pop(url, None)  # the manager let the pool go: find it again next time
            return None
        if connection is None:
            return None
        if not permit():
            _give_back(pool, connection)
            return None
        exchange = self.watch.watching(deadline, connection)
        connection.timeout = SEND_TIMEOUT
        try:
            connection.send_whole(path, payload, {**self._headers, **headers})
        except _BROKEN as error:
            log.info("a request could not go out on a kept-alive connection (%s)", error)
            self.watch.release(exchange)
            connection.close()
            _give_back(pool, connection)
            return None
        connection.timeout = min(self._timeout, max(deadline - self._monotonic(), 0.01))
        return Sent(pool, connection, exchange, self.watch, self._monotonic)

    def _route(self, url: str) -> tuple[HTTPConnectionPool, str]:
        """The pool and request path of ``url``, remembered: finding them costs ``urlopen``
        a URL parse and a pool-key lookup per call (0.05–0.1 ms of an idle machine)."""
        route = self._routes.get(url)
        if route is None:
            target = urllib3.util.parse_url(url)
            pool = self._pools.connection_from_host(
                target.host, port=target.port, scheme=target.scheme
            )
            route = self._routes[url] = (pool, target.request_uri)
        return route

    def close(self) -> None:
        if self._own_watch:
            self.watch.close()
        self._routes.clear()
        self._pools.clear()


class SessionTransport:
    """POSTs through a ``requests.Session`` on an HTTP thread, the caller waiting up to the
    deadline (see the module's docstring for when this one is used)."""

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: float,
        threads: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._monotonic = monotonic
        self._http = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="rest-http"
        )

    def exchange(
        self, url: str, payload: bytes, headers: Mapping[str, str], deadline: float
    ) -> Answer:
        per_read = min(self._timeout, max(deadline - self._monotonic(), 0.01))
        future = self._http.submit(
            self._session.post,
            url,
            data=payload,
            headers=dict(headers),
            timeout=per_read,
            stream=True,
        )
        _tell_sent()
        try:
            response = future.result(timeout=max(deadline - self._monotonic(), 0.0))
        except concurrent.futures.TimeoutError:
            future.add_done_callback(_close_abandoned)
            raise DeadlinePassed from None
        except requests.RequestException as error:
            raise ExchangeFailed(type(error).__name__) from None
        body = read_until(response.raw, deadline, self._monotonic)
        return Answer(response.status_code, body, _retry_after(response.headers))

    def close(self) -> None:
        self._http.shutdown(wait=False, cancel_futures=True)


def _close_abandoned(future: concurrent.futures.Future[requests.Response]) -> None:
    """An answer that came after its caller gave up: give its connection back."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def transport_for(
    session: requests.Session | None,
    made: requests.Session,
    *,
    timeout: float,
    threads: int,
    monotonic: Callable[[], float] = time.monotonic,
) -> Transport:
    """The direct transport for the client's own session, unless it needs a proxy or a client
    certificate; the session transport for a session the caller supplied (``session``)."""
    if session is None and not made.proxies and made.cert is None:
        return DirectTransport(made, timeout=timeout, maxsize=threads, monotonic=monotonic)
    return SessionTransport(session or made, timeout=timeout, threads=threads, monotonic=monotonic)


__all__ = [
    "KEEPALIVE_OPTIONS",
    "SEND_TIMEOUT",
    "WATCH_INTERVAL",
    "Answer",
    "DeadlinePassed",
    "DeadlineWatch",
    "DirectTransport",
    "ExchangeFailed",
    "Sent",
    "SessionTransport",
    "Transport",
    "read_until",
    "shared_watch",
    "telling_when_sent",
    "transport_for",
]
