"""The dashboard's web server: aiohttp on its own thread and event loop, loopback only.

Two threads do the work, so neither the engine nor a slow browser waits on the other:

* **The pump** subscribes to the daemon's monitor (the stream ``simple-risk monitor`` reads) and
  wakes on every message, or every ``interval`` seconds for the clocks. For each account with a
  page open, it has the page built on the engine thread (:meth:`ControlTarget.on_engine`, as the
  status socket does) and hands the result to the event loop.
* **The event loop** serves the page, its assets and one Server-Sent Events stream per open
  page. Each stream keeps only the newest picture: a browser that reads slowly skips pictures
  instead of holding the daemon's memory.

Everything is read-only (GET only). A request whose ``Host`` is not a loopback name is refused,
so a web page elsewhere cannot reach the dashboard through DNS rebinding. At most
``MAX_CONNECTIONS`` connections are served at once; one more is closed when it is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from simple_risk.daemon.control.protocol import ProtocolError, encode
from simple_risk.daemon.control.server import ListenerUnavailable, ServerError, Subscriber
from simple_risk.daemon.dashboard.view import account_page, index_entry

if TYPE_CHECKING:
    from simple_risk.daemon.control.target import ControlTarget

log = logging.getLogger(__name__)


def _not_the_clients_mistake(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse at ERROR with a traceback; such a request is
    answered 400 and is no bug of the daemon's — and any local user could send them in a
    loop until the rotating log had dropped everything else."""
    return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


#: the logger of the dashboard's HTTP connections (aiohttp's handler logs through it)
http_log = logging.getLogger(f"{__name__}.http")
http_log.addFilter(_not_the_clients_mistake)

#: where ``simple-risk demo`` and ``engine run --sim`` serve the dashboard
DEFAULT_ADDRESS = ("127.0.0.1", 8766)
STATIC = Path(__file__).parent / "static"
#: how often a page is rebuilt without any event (its countdowns tick in the browser anyway)
REFRESH_INTERVAL = 1.0
#: the shortest gap between two rebuilds when events arrive in a burst
MIN_GAP = 0.1
#: connections served at once (every local user can connect, each costs a descriptor)
MAX_CONNECTIONS = 64
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_loopback(host: str) -> None:
    """Refuse (:class:`ServerError`) to serve the dashboard on anything but loopback."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ServerError(f"the dashboard must listen on a loopback address, not {host}")


class DashboardServer:
    """Serves one live page per guarded account at ``http://HOST:PORT/account/ID``."""

    def __init__(
        self,
        daemon: ControlTarget,
        address: tuple[str, int],
        *,
        interval: float = REFRESH_INTERVAL,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        check_loopback(address[0])
        self.daemon = daemon
        self.address = address
        self.interval = interval
        self.max_connections = max_connections
        self.bound: tuple[str, int] | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: OSError | None = None
        self._closed: asyncio.Event | None = None
        self._streams: dict[int, set[asyncio.Queue[bytes | None]]] = {}
        self._latest: dict[int, bytes] = {}
        #: per account: when the newest picture's build began, and the picture
        self._built: dict[int, tuple[float, bytes]] = {}
        self._build_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._subscriber: Subscriber | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DashboardServer:
        """Bind and serve; raises :class:`ListenerUnavailable` when the address cannot be
        bound (another program holds the port)."""
        serving = threading.Thread(target=self._run, name="dashboard", daemon=True)
        serving.start()
        self._threads.append(serving)
        self._ready.wait(10.0)
        if self.bound is None:
            self.stop()
            reason = self._error.strerror if self._error is not None else "it did not start"
            host, port = self.address
            raise ListenerUnavailable(f"cannot serve the dashboard on {host}:{port}: {reason}")
        self._subscriber = self.daemon.monitor.subscribe(None, 256)
        pump = threading.Thread(target=self._pump, name="dashboard-pump", daemon=True)
        pump.start()
        self._threads.append(pump)
        log.info("dashboard on %s", self.url)
        return self

    @property
    def url(self) -> str:
        host, port = self.bound or self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def stop(self) -> None:
        """End every stream (browsers see the link drop), stop listening, join the threads."""
        self._stopping.set()
        if self._subscriber is not None:  # wakes the pump
            self.daemon.monitor.unsubscribe(self._subscriber)
        if not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._close)
        for thread in self._threads:
            thread.join(5.0)
        self._threads = []

    def _close(self) -> None:
        for streams in self._streams.values():
            for stream in streams:
                _offer(stream, None)
        if self._closed is not None:
            self._closed.set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._closed = asyncio.Event()
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, logger=http_log)
        await runner.setup()
        host, port = self.address
        server = runner.server
        assert server is not None  # made by setup()
        try:
            listening = await asyncio.get_running_loop().create_server(
                _Capped(server, self.max_connections), host, port, reuse_address=True
            )
        except OSError as exc:
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        bound = listening.sockets[0].getsockname()
        self.bound = (str(bound[0]), int(bound[1]))
        self._ready.set()
        if not self._stopping.is_set():
            await self._closed.wait()
        listening.close()
        await runner.cleanup()

    # -- the pump (its own thread) --------------------------------------------------------------

    def _pump(self) -> None:
        subscriber = self._subscriber
        assert subscriber is not None  # set by start
        while not self._stopping.is_set():
            started = time.monotonic()
            self._refresh()
            subscriber.take(self.interval)
            self._stopping.wait(max(0.0, MIN_GAP - (time.monotonic() - started)))

    def _refresh(self) -> None:
        for account in self.daemon.config.accounts:
            if not self._streams.get(account):
                continue  # no page open: the engine thread is not asked for anything
            data = self._build(account)
            if data is None:
                continue
            self._latest[account] = data
            with contextlib.suppress(RuntimeError):  # the loop closed: stopping
                self._loop.call_soon_threadsafe(self._fan_out, account, data)

    def _fresh(self, account: int) -> bytes | None:
        """A picture of ``account`` begun at most ``MIN_GAP`` s ago: the newest one if it is
        that recent, else a new one, built one at a time. A page's request is served like
        this — any local user may send them in a loop, and each build takes the engine
        thread — while the pump builds after each event (a picture must show it)."""
        with self._build_lock:
            newest = self._built.get(account)
            if newest is not None and time.monotonic() - newest[0] < MIN_GAP:
                return newest[1]
            return self._build(account)

    def _build(self, account: int) -> bytes | None:
        daemon = self.daemon
        if account not in daemon.engines:
            return None
        begun = time.monotonic()

        def build() -> bytes:
            page = account_page(daemon, account, daemon.clock.now())
            return encode(page).rstrip(b"\n")

        try:
            data = daemon.on_engine(build, timeout=5.0)
        except ProtocolError as exc:  # starting or stopping: the page says "connecting"
            log.debug("dashboard: no picture of %s: %s", account, exc)
            return None
        newest = self._built.get(account)
        if newest is None or newest[0] < begun:
            self._built[account] = (begun, data)
        return data

    def _fan_out(self, account: int, data: bytes) -> None:
        for stream in self._streams.get(account, ()):
            _offer(stream, data)

    # -- the web app (the event loop) -----------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/account/{account}", self._page)
        app.router.add_get("/api/account/{account}", self._snapshot)
        app.router.add_get("/api/account/{account}/events", self._events)
        app.router.add_static("/static/", STATIC, append_version=False)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Loopback names only in ``Host``; GET only; the same safe headers on every answer."""
        try:
            name = (request.url.host or "").strip("[]").lower()
        except ValueError:  # a Host that is no URL's host: the client's mistake, not a bug
            raise web.HTTPBadRequest(text="the Host header is not a host name") from None
        if name not in _LOOPBACK_NAMES and (self.bound is None or name != self.bound[0]):
            raise web.HTTPForbidden(text="the dashboard answers only to loopback addresses")
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        response = await handler(request)
        for header, value in _HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    def _account(self, request: web.Request) -> int:
        raw = request.match_info["account"]
        # ASCII digits only ('²' is a digit to isdigit(), not to int()), and no more than an
        # account id has (Python refuses to read thousands of digits)
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else None
        if number is not None and number in self.daemon.config.accounts:
            return number
        raise web.HTTPNotFound(text=f"this daemon does not guard account {raw[:40]}")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        accounts = self.daemon.config.accounts
        if len(accounts) == 1:
            raise web.HTTPFound(f"/account/{accounts[0]}")
        loop = asyncio.get_running_loop()
        entries = []
        for account in accounts:
            data = await loop.run_in_executor(None, self._fresh, account)
            entries.append(index_entry(account, None if data is None else json.loads(data)))
        links = "\n".join(entries)
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{accounts}}", links)
        return web.Response(text=page, content_type="text/html")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        self._account(request)
        return web.FileResponse(STATIC / "account.html")

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        account = self._account(request)
        data = await asyncio.get_running_loop().run_in_executor(None, self._fresh, account)
        if data is None:
            raise web.HTTPServiceUnavailable(text="the daemon is starting or stopping")
        return web.Response(body=data, content_type="application/json")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the newest picture now, then each new one as it is built."""
        account = self._account(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        for header, value in _HEADERS.items():
            response.headers[header] = value
        await response.prepare(request)
        stream: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        # with no page open, the pump left the account alone: its last picture may be old
        latest = self._latest.get(account) if self._streams.get(account) else None
        self._streams.setdefault(account, set()).add(stream)
        if latest is None:
            latest = await asyncio.get_running_loop().run_in_executor(None, self._fresh, account)
        if latest is not None and stream.empty():  # never over a newer one from the pump
            _offer(stream, latest)
        try:
            await response.write(b"retry: 1000\n\n")
            while (data := await stream.get()) is not None:
                await response.write(b"event: status\ndata: " + data + b"\n\n")
        except ConnectionResetError:
            pass  # the page was closed
        finally:
            self._streams[account].discard(stream)
        return response


class _Capped:
    """The listening socket's protocol factory: aiohttp's handler for each connection while
    fewer than ``limit`` are open, else one that closes the connection at once. Every local
    user may connect, and a connection held open costs the daemon a file descriptor: without a
    cap, idle connections could use up the descriptors the status socket, the store and the
    gateway need."""

    def __init__(self, server: Callable[[], asyncio.Protocol], limit: int) -> None:
        self._server = server
        self._limit = limit
        self.open = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._limit:
            return _Refused()
        self.open += 1
        return _Counted(self._server(), self)


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed as soon as it is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's handler of one connection, counted until the connection is lost."""

    def __init__(self, inner: asyncio.Protocol, cap: _Capped) -> None:
        self._inner = inner
        self._cap = cap
        self._counted = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self._cap.open -= 1
        self._inner.connection_lost(exc)


def _offer(stream: asyncio.Queue[bytes | None], data: bytes | None) -> None:
    """Put ``data`` in a one-slot queue, replacing a picture the browser has not read yet."""
    with contextlib.suppress(asyncio.QueueEmpty):
        if stream.full():
            stream.get_nowait()
    stream.put_nowait(data)


__all__ = [
    "DEFAULT_ADDRESS",
    "MAX_CONNECTIONS",
    "REFRESH_INTERVAL",
    "DashboardServer",
    "check_loopback",
]
