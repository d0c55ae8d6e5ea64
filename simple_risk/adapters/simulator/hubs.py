"""The SignalR hubs ``/hubs/user`` and ``/hubs/market``: negotiate, WebSocket, JSON protocol.

A minimal ASP.NET Core SignalR server, written to the protocol (reference §9) rather than to
one client's tolerance: negotiate v0 and v1, skip-negotiation connects with any ``id``, the
token from the ``access_token`` query or an ``Authorization: Bearer`` header, the JSON
handshake in version 0 or 1 (signalrcore 1.0.2 sends 0), several records per frame, a
Completion for every invocation that carries an id (an error one for unknown methods or
arguments that do not bind), ``headers`` ignored, ``{"type":6}`` pings on an interval and never
WebSocket-level ping frames (signalrcore 1.0.2 chokes on them), a Close message before the
socket closes. Subscriptions live on the connection and die with it.

Each connection has one writer task fed by a queue, so events reach the client in exactly the
order the venue produced them.

Live faults the controls can stage (reference §14.4): a ``GatewayLogout`` invocation on the
hubs (its meaning is undocumented; real clients register it), and reconnects refused with
HTTP 404 "The connection could not be found on the server", the error a restarting live client
can meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from aiohttp import WSMsgType, web

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.guards import RecordedRequest, TokenStore, remember
from simple_risk.adapters.simulator.records import (
    Account,
    MarketEvent,
    Order,
    Position,
    Trade,
    UserEvent,
    VenueError,
    VenueEvent,
)
from simple_risk.adapters.simulator.rest import bearer
from simple_risk.adapters.simulator.shapes import Shapes
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.adapters.simulator.wan import WanDelay

log = logging.getLogger("simple_risk.sim")

RS = "\x1e"
#: what a refused reconnect answers (§14.4)
CONNECTION_NOT_FOUND = "The connection could not be found on the server."
#: the Close error of a live hub that ends a connection on its side (§14.4)
CLOSED_WITH_AN_ERROR = "Connection closed with an error."
#: seconds a client has to send its handshake after the upgrade (ASP.NET Core's default)
HANDSHAKE_TIMEOUT = 15.0
Hub = Literal["user", "market"]
HUBS: tuple[Hub, ...] = ("user", "market")

#: hub method (lower case) -> (subscription kind, subscribe?, argument type or None)
_USER_METHODS: dict[str, tuple[str, bool, type | None]] = {
    "subscribeaccounts": ("accounts", True, None),
    "unsubscribeaccounts": ("accounts", False, None),
    "subscribeorders": ("orders", True, int),
    "unsubscribeorders": ("orders", False, int),
    "subscribepositions": ("positions", True, int),
    "unsubscribepositions": ("positions", False, int),
    "subscribetrades": ("trades", True, int),
    "unsubscribetrades": ("trades", False, int),
}
_MARKET_METHODS: dict[str, tuple[str, bool, type | None]] = {
    "subscribecontractquotes": ("quotes", True, str),
    "unsubscribecontractquotes": ("quotes", False, str),
    "subscribecontracttrades": ("trades", True, str),
    "unsubscribecontracttrades": ("trades", False, str),
    "subscribecontractmarketdepth": ("depth", True, str),
    "unsubscribecontractmarketdepth": ("depth", False, str),
}
_MARKET_KINDS = {"GatewayQuote": "quotes", "GatewayTrade": "trades", "GatewayDepth": "depth"}
_USER_KINDS: dict[type, str] = {
    Account: "accounts",
    Order: "orders",
    Position: "positions",
    Trade: "trades",
}


#: told as a queued record is written to its socket, with the seconds a simulated WAN held it
#: back (the frame left the venue that long before it reached the socket)
Departure = Callable[[float], None]


def record(message: dict[str, object]) -> str:
    """One hub-protocol record: compact JSON, nulls omitted, terminated by 0x1E."""
    return wire.dumps(message, "hub") + RS


@dataclass(eq=False)
class Connection:
    """One client connection: its hub, its subscriptions and its outgoing queue."""

    hub: Hub
    ws: web.WebSocketResponse
    username: str
    connection_id: str
    #: (the monotonic time it may leave, the record, told when it leaves); a None record ends
    #: the connection
    queue: asyncio.Queue[tuple[float, str | None, Departure | None]] = field(
        default_factory=asyncio.Queue
    )
    subscriptions: set[tuple[str, object]] = field(default_factory=set)
    closing: bool = False
    handshaken: bool = False
    #: holds every frame back by a simulated WAN's delay (None: sent at once)
    wan: WanDelay | None = None

    def send(self, text: str, departure: Departure | None = None) -> None:
        """Queue a record; ``departure`` is told when it is written to the socket."""
        if not self.closing:
            self.queue.put_nowait((self._due(), text, departure))

    def close(self, message: dict[str, object]) -> None:
        """Queue a Close message, then the end of the connection."""
        if not self.closing:
            self.queue.put_nowait((self._due(), record(message), None))
            self.end()

    def end(self) -> None:
        """Queue the end of the connection (after everything queued before it)."""
        self.closing = True
        self.queue.put_nowait((self._due(), None, None))

    def _due(self) -> float:
        return time.monotonic() + (self.wan.sample() if self.wan is not None else 0.0)


class Hubs:
    """Both hubs: connection bookkeeping, protocol handling and event fan-out."""

    def __init__(
        self,
        venue: Venue,
        tokens: TokenStore,
        requests: list[RecordedRequest],
        clock: Callable[[], datetime],
        ping_interval: float,
        shapes: Shapes | None = None,
        wan: WanDelay | None = None,
    ) -> None:
        self.shapes = shapes or Shapes()
        self.wan = wan
        self.venue = venue
        self.tokens = tokens
        self.requests = requests
        self.clock = clock
        self.ping_interval = ping_interval
        self.connections: set[Connection] = set()
        self.refuse_until = 0.0
        #: how many more connection attempts get "connection could not be found"
        self.lost_connections = 0
        #: how many more subscription invocations are answered with an error Completion
        self.refused_subscriptions = 0
        #: how many more handshakes are answered with an error (the connection then ends)
        self.refused_handshakes = 0
        #: how many more connections are closed with an error right after their handshake
        self.closed_after_handshake = 0
        #: the market hub publishes nothing while set (its connections stay up and pinged):
        #: a live market hub that lost its subscriptions, or the quotes of an outage
        self.market_muted = False
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        #: connection handlers still running (shutdown waits for them to flush their Close)
        self.handlers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        venue.add_listener(self.on_venue_event)

    # -- HTTP side -----------------------------------------------------------------------------

    def _record(self, request: web.Request, status: int) -> None:
        remember(
            self.requests,
            RecordedRequest(
                self.clock(), request.method, request.path, request.query_string, None, status
            ),
        )
        log.info("%s %s -> %d", request.method, request.path, status)

    def _refused(self) -> bool:
        return time.monotonic() < self.refuse_until

    def _not_found(self, request: web.Request) -> web.Response | None:
        """Spend one staged "connection could not be found" refusal, if any is left."""
        if self.lost_connections <= 0:
            return None
        self.lost_connections -= 1
        self._record(request, 404)
        return web.Response(status=404, text=CONNECTION_NOT_FOUND)

    def _authenticate(self, request: web.Request) -> str | None:
        token = request.query.get("access_token") or bearer(request)
        session = self.tokens.check(token)
        return None if session is None else session.username

    async def negotiate(self, request: web.Request, hub: Hub) -> web.StreamResponse:
        if request.method != "POST":
            self._record(request, 405)
            return web.Response(status=405)
        if self._refused():
            self._record(request, 503)
            return web.Response(status=503)
        not_found = self._not_found(request)
        if not_found is not None:
            return not_found
        if self._authenticate(request) is None:
            self._record(request, 401)
            return web.Response(status=401)
        try:
            version = int(request.query.get("negotiateVersion", "0"))
        except ValueError:
            version = 0
        connection_id = secrets.token_urlsafe(16)
        body: dict[str, object] = {
            "negotiateVersion": 1 if version >= 1 else 0,
            "connectionId": connection_id,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}
            ],
        }
        if version >= 1:
            body["connectionToken"] = secrets.token_urlsafe(16)
        self._record(request, 200)
        return web.json_response(body)

    async def connect(self, request: web.Request, hub: Hub) -> web.StreamResponse:
        # heartbeat=None: no WebSocket-level pings (signalrcore 1.0.2 cannot take them); autoping
        # answers the client's pings (pysignalr sends them); a short close timeout because
        # signalrcore never answers a close frame.
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, timeout=1.0)
        if not ws.can_prepare(request).ok:
            self._record(request, 400)
            return web.Response(status=400, text="Connection ID required")
        if self._refused():
            self._record(request, 503)
            return web.Response(status=503)
        not_found = self._not_found(request)
        if not_found is not None:
            return not_found
        username = self._authenticate(request)
        if username is None:
            self._record(request, 401)
            return web.Response(status=401)
        self._record(request, 101)
        await ws.prepare(request)
        connection = Connection(hub, ws, username, request.query.get("id", ""), wan=self.wan)
        writer = asyncio.create_task(self._write(connection))
        pinger: asyncio.Task[None] | None = None
        self.connections.add(connection)
        self.handlers += 1
        try:
            handshaken = False
            buffer = ""
            while True:
                try:
                    message = await ws.receive(None if handshaken else self.handshake_timeout)
                except TimeoutError:
                    connection.close({"error": "Handshake was canceled."})
                    break
                if message.type == WSMsgType.TEXT:
                    buffer += message.data
                elif message.type == WSMsgType.BINARY:
                    buffer += message.data.decode("utf-8", "replace")
                else:
                    break
                *records, buffer = buffer.split(RS)
                for text in records:
                    if not handshaken:
                        if not self._handshake(connection, text):
                            break
                        handshaken = connection.handshaken = True
                        if self.closed_after_handshake > 0:
                            self.closed_after_handshake -= 1
                            connection.close({"type": 7, "error": CLOSED_WITH_AN_ERROR})
                            break
                        pinger = asyncio.create_task(self._ping(connection))
                        continue
                    self._dispatch(connection, text)
                if connection.closing:
                    break
        finally:
            self.handlers -= 1
            self.connections.discard(connection)
            if pinger is not None:
                pinger.cancel()
            if not connection.closing:
                connection.end()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer, 2.0)
            if not ws.closed:
                await ws.close()
        return ws

    async def _write(self, connection: Connection) -> None:
        """Send queued records in order; ``None`` ends the connection with a close frame."""
        ws = connection.ws
        while True:
            due, text, departure = await connection.queue.get()
            wait = due - time.monotonic()
            if wait > 0:  # a simulated WAN; a frame never overtakes an earlier one
                await asyncio.sleep(wait)
            if text is None:
                break
            if departure is not None:
                departure(max(wait, 0.0))
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                break
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()

    async def _ping(self, connection: Connection) -> None:
        while not connection.closing:
            await asyncio.sleep(self.ping_interval)
            connection.send(record({"type": 6}))

    # -- protocol ------------------------------------------------------------------------------

    def _handshake(self, connection: Connection, text: str) -> bool:
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            connection.close({"error": "Handshake request is not a JSON object."})
            return False
        protocol, version = request.get("protocol"), request.get("version")
        if self.refused_handshakes > 0:
            self.refused_handshakes -= 1
            error = "Handshake was canceled."
        elif protocol != "json":
            error = f"The protocol '{protocol}' is not supported."
        elif isinstance(version, bool) or version not in (0, 1):
            error = f"The server does not support version {version} of the 'json' protocol."
        else:
            connection.send("{}" + RS)
            return True
        connection.send(json.dumps({"error": error}) + RS)
        connection.end()
        return False

    def _dispatch(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), int):
            connection.close({"type": 7, "error": "Connection closed with an error."})
            return
        kind = message["type"]
        invocation_id = message.get("invocationId")
        if kind == 1:
            self._invoke(connection, message, invocation_id)
        elif kind == 4:
            self._complete(connection, invocation_id, "Streaming is not supported.")
        elif kind == 7:
            connection.end()
        # 6 (ping), 5 (cancel), 2 (stream item) and anything newer need no answer

    def _complete(self, connection: Connection, invocation_id: object, error: str | None) -> None:
        if not isinstance(invocation_id, str):
            return
        message: dict[str, object] = {"type": 3, "invocationId": invocation_id}
        if error is not None:
            message["error"] = error
        connection.send(record(message))

    def _invoke(
        self, connection: Connection, message: dict[str, object], invocation_id: object
    ) -> None:
        target = message.get("target")
        arguments = message.get("arguments")
        methods = _USER_METHODS if connection.hub == "user" else _MARKET_METHODS
        spec = methods.get(target.lower()) if isinstance(target, str) else None
        if spec is None:
            self._complete(connection, invocation_id, f"Unknown hub method '{target}'")
            return
        kind, subscribe, arg_type = spec
        expected = 0 if arg_type is None else 1
        args = arguments if isinstance(arguments, list) else []
        bad = len(args) != expected or (
            arg_type is not None
            and (isinstance(args[0], bool) or not isinstance(args[0], arg_type))
        )
        if bad:
            self._complete(
                connection,
                invocation_id,
                f"Failed to invoke '{target}' due to an error on the server. "
                "InvalidDataException: Error binding arguments. Make sure that the types of "
                "the provided values match the types of the hub method being invoked.",
            )
            return
        if subscribe and self.refused_subscriptions > 0:
            self.refused_subscriptions -= 1
            self._complete(
                connection,
                invocation_id,
                f"Failed to invoke '{target}' due to an error on the server.",
            )
            return
        key = (kind, args[0] if args else None)
        if subscribe:
            connection.subscriptions.add(key)
        else:
            connection.subscriptions.discard(key)
        self._complete(connection, invocation_id, None)
        if subscribe and connection.hub == "market":
            self._snapshot(connection, kind, str(args[0]))

    def _snapshot(self, connection: Connection, kind: str, contract_id: str) -> None:
        """A new depth subscriber first gets the current book; a quote subscriber gets the full
        quote only in the older shape (no live source shows one, §14.4)."""
        try:
            if kind == "quotes" and self.shapes.quote_snapshot:
                data: object = self.venue.quote(contract_id)
                target = "GatewayQuote"
            elif kind == "depth":
                data, target = self.venue.depth(contract_id), "GatewayDepth"
            else:
                return
        except VenueError:
            return
        connection.send(record({"type": 1, "target": target, "arguments": [contract_id, data]}))

    # -- fan-out -------------------------------------------------------------------------------

    def on_venue_event(self, event: VenueEvent) -> None:
        """Venue listener: send the event to every connection subscribed to it."""
        if isinstance(event, UserEvent):
            kind = _USER_KINDS[type(event.entity)]
            key: tuple[str, object] = (kind, None if kind == "accounts" else event.account_id)
            arguments: list[object] = [
                {"action": event.action, "data": wire.entity_model(event.entity)}
            ]
            self._fan_out("user", key, event.target, arguments)
        elif isinstance(event, MarketEvent):
            self._fan_out(
                "market",
                (_MARKET_KINDS[event.target], event.contract_id),
                event.target,
                [event.contract_id, event.data],
            )

    def _fan_out(self, hub: Hub, key: tuple[str, object], target: str, args: list[object]) -> None:
        if hub == "market" and self.market_muted:
            return
        text: str | None = None
        for connection in list(self.connections):
            if connection.hub == hub and key in connection.subscriptions:
                text = text or record({"type": 1, "target": target, "arguments": args})
                connection.send(text)

    def emit_raw(
        self,
        hub: Hub,
        target: str,
        arguments: list[object],
        about: object,
        departure: Departure | None = None,
        *,
        cut: int | None = None,
    ) -> int:
        """Send an arbitrary event; ``about`` (account or contract id) limits it to connections
        subscribed to anything about it; ``departure`` is told as each copy is written. Returns
        how many connections got it. ``cut``: the record goes as two WebSocket messages, cut
        after that many characters (a server that flushes mid-record)."""
        text = record({"type": 1, "target": target, "arguments": arguments})
        pieces = [text] if cut is None else [text[:cut], text[cut:]]
        sent = 0
        for connection in list(self.connections):
            if connection.hub != hub:
                continue
            if about is not None and not any(
                value == about or kind == "accounts" for kind, value in connection.subscriptions
            ):
                continue
            for piece in pieces[:-1]:
                connection.send(piece)
            connection.send(pieces[-1], departure)
            sent += 1
        return sent

    def logout(self, hub: Hub | None) -> int:
        """Send ``GatewayLogout`` (no arguments) on one hub or both; returns how many got it."""
        text = record({"type": 1, "target": "GatewayLogout", "arguments": []})
        sent = 0
        for connection in list(self.connections):
            if connection.handshaken and (hub is None or connection.hub == hub):
                connection.send(text)
                sent += 1
        return sent

    def drop_all(self, error: str | None, allow_reconnect: bool) -> int:
        """Close every connection with a Close message (the control API and shutdown)."""
        message: dict[str, object] = {"type": 7, "error": error}
        if allow_reconnect:
            message["allowReconnect"] = True
        dropped = 0
        for connection in list(self.connections):
            connection.close(message)
            self.connections.discard(connection)
            dropped += 1
        return dropped
