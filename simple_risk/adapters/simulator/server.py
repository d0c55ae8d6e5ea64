"""The :class:`Simulator` handle: the whole gateway simulator on its own thread and loop.

Tests and the ``simple-risk sim`` command both use it. It owns one aiohttp application that
serves the ProjectX REST API (``/api/...``), the two SignalR hubs (``/hubs/user``,
``/hubs/market``) and the control API (``/sim/...``) on one port, plus a task that steps the
seeded price path. All simulator state lives on that loop's thread; the handle's control
methods marshal each call there and wait for it, so they are safe from any thread (but must not
be called from the simulator's own loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import UTC, date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from simple_risk.adapters.simulator.arrivals import ArrivalRunner, Arrivals
from simple_risk.adapters.simulator.contracts import catalogue
from simple_risk.adapters.simulator.control import Control
from simple_risk.adapters.simulator.guards import (
    Fault,
    FaultQueue,
    RateLimiter,
    RateLimits,
    RecordedRequest,
    TokenStore,
)
from simple_risk.adapters.simulator.hubs import HUBS, Hubs
from simple_risk.adapters.simulator.prices import PricePath
from simple_risk.adapters.simulator.records import DEFAULT_ACCOUNTS, AccountSpec
from simple_risk.adapters.simulator.rest import RestApi
from simple_risk.adapters.simulator.shapes import Shapes
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.adapters.simulator.wan import WanDelay

log = logging.getLogger("simple_risk.sim")

T = TypeVar("T")

DEFAULT_PORT = 8700
DEFAULT_USERNAME = "demo"
DEFAULT_API_KEY = "demo-api-key"
DAY = 24 * 3600.0


def _now() -> datetime:
    return datetime.now(UTC)


class Simulator:
    """A local ProjectX Gateway: ``start()`` it, point any ProjectX client at ``base_url``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        seed: int = 0,
        accounts: Iterable[AccountSpec] = DEFAULT_ACCOUNTS,
        username: str = DEFAULT_USERNAME,
        api_key: str = DEFAULT_API_KEY,
        token_lifetime: float = DAY,
        rate_limits: RateLimits | None = None,
        ping_interval: float = 15.0,
        price_interval: float | None = 1.0,
        timeout_seconds: float = 30.0,
        today: date | None = None,
        clock: Callable[[], datetime] | None = None,
        shapes: Shapes | None = None,
        wan: WanDelay | None = None,
    ) -> None:
        self.host = host
        self.shapes = shapes or Shapes()
        self.port = port
        self.seed = seed
        self.username = username
        self.api_key = api_key
        self.price_interval = price_interval
        #: the venue's wall clock (timestamps of orders, fills, quotes); tests pin the weekday
        self.clock = clock or _now
        contracts = catalogue(today or self.clock().date())
        self.venue = Venue(
            contracts, accounts, self.clock, shapes=self.shapes, schedule=self._schedule
        )
        self.tokens = TokenStore(token_lifetime)
        self.faults = FaultQueue(timeout_seconds=timeout_seconds)
        self.requests: list[RecordedRequest] = []
        #: when each request's bytes arrived (the request log's stamps)
        self.arrivals = Arrivals(self.clock)
        self.path = PricePath(contracts, seed)
        self.rest = RestApi(
            self.venue,
            self.tokens,
            RateLimiter(rate_limits or RateLimits()),
            self.faults,
            {username: api_key},
            seed,
            self.clock,
            self.requests,
            self.shapes,
            wan,
        )
        hub_wan = WanDelay(wan.mean, wan.jitter, wan.seed + 1) if wan is not None else None
        self.hubs = Hubs(
            self.venue, self.tokens, self.requests, self.clock, ping_interval, self.shapes, hub_wan
        )
        self.control = Control(
            self.venue,
            self.path,
            self.hubs,
            self.faults,
            self.requests,
            self.clock,
            self.rest.credentials,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    @staticmethod
    def _schedule(delay: float, action: Callable[[], None]) -> None:
        """The venue's delayed actions run on the simulator's loop (venue calls happen there;
        one made off the loop runs its action at once); a failing one is logged, never raised
        into the loop."""

        def run() -> None:
            try:
                action()
            except Exception:
                log.exception("delayed venue action failed")

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run()
            return
        loop.call_later(delay, run)

    # -- URLs ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The REST base: clients call ``base_url + "/api/Auth/loginKey"``."""
        return f"http://{self.host}:{self.port}"

    @property
    def user_hub_url(self) -> str:
        return f"{self.base_url}/hubs/user"

    @property
    def market_hub_url(self) -> str:
        return f"{self.base_url}/hubs/market"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve on a background thread; returns once it accepts requests."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        started: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="simple-risk-sim", daemon=True
        )
        self._thread.start()
        try:
            started.result(timeout=10)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        return self

    def _run(self, started: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._cleanup())
            loop.close()
            self._loop = None
            started.set_exception(exc)
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._cleanup())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = ArrivalRunner(app, self.arrivals, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break
        if self.price_interval:
            self._ticker = asyncio.create_task(self._tick(self.price_interval))

    async def _tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.control.paused:
                try:
                    self.control.step_prices(1)
                except Exception:
                    log.exception("price step failed")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """One route for everything, matched case-insensitively like ASP.NET."""
        arrived = self.arrivals.take(request)
        try:
            path = request.path.lower().rstrip("/")
            if path.startswith("/sim/"):
                return await self.control.handle(request)
            for hub in HUBS:
                if path == f"/hubs/{hub}":
                    return await self.hubs.connect(request, hub)
                if path == f"/hubs/{hub}/negotiate":
                    return await self.hubs.negotiate(request, hub)
            return await self.rest.handle(request, arrived)
        finally:
            self.arrivals.end(request)

    async def _shutdown(self) -> None:
        """Send Close to every hub client and let the writers flush it."""
        if self._ticker is not None:
            self._ticker.cancel()
        self.hubs.drop_all(None, allow_reconnect=False)
        for _ in range(50):
            if not self.hubs.handlers:
                break
            await asyncio.sleep(0.02)

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        """Close hub connections (with a Close message), stop serving, join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- thread-safe controls ------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the simulator's loop and return its result (or raise)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("simulator is not running")

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def set_price(self, contract_id: str, price: Decimal | int | str) -> None:
        """Move a contract's last price now (bid = price, ask = price + 1 tick)."""
        self._call(self.control.set_price, contract_id, Decimal(price))

    def script_prices(self, contract_id: str, prices: Iterable[Decimal | int | str]) -> None:
        """Queue exact prices used by the next steps of that contract's path."""
        self._call(self.control.script_prices, contract_id, [Decimal(p) for p in prices])

    def pause_prices(self) -> None:
        self._call(self.control.pause_prices)

    def resume_prices(self) -> None:
        self._call(self.control.resume_prices)

    def step_prices(self, steps: int = 1) -> None:
        self._call(self.control.step_prices, steps)

    def last_price(self, contract_id: str) -> Decimal:
        return self._call(lambda: self.venue.market(contract_id).last)

    def set_can_trade(self, account_id: int, can_trade: bool) -> None:
        self._call(self.control.set_can_trade, account_id, can_trade)

    def set_auto_oco(self, account_id: int, auto_oco: bool) -> None:
        self._call(self.control.set_auto_oco, account_id, auto_oco)

    def drop_connections(self) -> int:
        return self._call(self.control.drop_connections)

    def send_logout(self, hub: str | None = None) -> int:
        """Send ``GatewayLogout`` on ``"user"``, ``"market"`` or (None) both hubs."""
        return self._call(self.control.send_logout, hub)

    def mute_market(self, muted: bool = True) -> None:
        """The market hub publishes nothing while ``muted`` (connections up, pinged)."""
        self._call(self.control.mute_market, muted)

    def lose_connections(self, count: int = 1) -> None:
        """Refuse the next ``count`` hub connects with "connection could not be found"."""
        self._call(self.control.lose_connections, count)

    def refuse_subscriptions(self, count: int = 1) -> None:
        """Answer the next ``count`` hub subscriptions with an error Completion."""
        self._call(self.control.refuse_subscriptions, count)

    def refuse_handshakes(self, count: int = 1) -> None:
        """Answer the next ``count`` hub handshakes with an error and end their connections."""
        self._call(self.control.refuse_handshakes, count)

    def close_after_handshakes(self, count: int = 1) -> None:
        """Close the next ``count`` hub connections with an error right after their handshake."""
        self._call(self.control.close_after_handshakes, count)

    def fail_next(self, count: int, status: Fault = 429, retry_after: str | None = None) -> None:
        """The next ``count`` ProjectX REST calls fail with ``status``; ``retry_after``: the
        ``Retry-After`` header their answers carry (seconds, or an HTTP date)."""
        self._call(self.control.fail_next, count, status, retry_after)

    def answer_late(self, endpoint: str, seconds: float, count: int = 1) -> None:
        """The next ``count`` calls of ``endpoint`` (``"Position/closeContract"``) are carried
        out at once and answered ``seconds`` later."""
        self._call(self.control.answer_late, endpoint, seconds, count)

    def revoke_tokens(self) -> int:
        """Every session token issued so far is refused (401 on REST and hub connects)."""
        return self._call(self.control.revoke_tokens)

    def revoke_api_key(self, revoked: bool = True) -> None:
        """Logins are refused (errorCode 3) while the API key is revoked."""
        self._call(self.control.revoke_api_key, revoked)

    def refuse_hub_connections(self, seconds: float) -> None:
        self._call(self.control.refuse_hub_connections, seconds)

    def void_fill(self, trade_id: int) -> None:
        self._call(self.control.void_fill, trade_id)

    def emit_user_event(
        self,
        target: str,
        arguments: list[object],
        account_id: int | None = None,
        *,
        cut: int | None = None,
    ) -> int:
        """Send a user-hub event as written; ``cut``: in two WebSocket messages, cut after
        that many characters (a server that flushes mid-record)."""
        return self._call(
            lambda: self.control.emit_user_event(target, arguments, account_id, cut=cut)
        )

    def emit_market_event(
        self, target: str, arguments: list[object], contract_id: str | None = None
    ) -> int:
        return self._call(self.control.emit_market_event, target, arguments, contract_id)

    def requests_log(self) -> list[RecordedRequest]:
        return self._call(self.control.requests_log)

    def clear_requests(self) -> None:
        self._call(self.control.clear_requests)

    def hub_connections(self) -> int:
        return self._call(lambda: len(self.hubs.connections))

    def market_subscribers(self, contract_id: str, kind: str = "quotes") -> int:
        """How many market-hub connections subscribe to a contract's ``quotes``, ``trades`` or
        ``depth``: live hubs push nothing on subscribe, so a test that moves a price for a
        client to see waits for the subscription first."""
        return self._call(
            lambda: sum(
                1
                for c in self.hubs.connections
                if c.hub == "market" and (kind, contract_id) in c.subscriptions
            )
        )
