"""The ProjectX REST surface of the simulator (``/api/...``), as aiohttp handlers.

It reproduces what a client can observe on the live gateway (reference §1–§4): POST with JSON
bodies (``GET Status/ping``), paths matched case-insensitively, JSON property names matched
case-insensitively (ASP.NET's binder), the ``success``/``errorCode``/``errorMessage`` envelope
with each endpoint's own error enum, HTTP 200 for business errors, 401 (empty body) for a
missing, unknown or expired bearer token, 429 past the rate limits, and 400 with an ASP.NET
ProblemDetails body when the body does not bind. No input reaches a traceback: anything
unexpected becomes a 500 envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from aiohttp import web

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.guards import (
    FaultQueue,
    RateLimiter,
    RecordedRequest,
    Session,
    TokenStore,
    remember,
)
from simple_risk.adapters.simulator.history import MAX_BARS, BarWindow, history_bars
from simple_risk.adapters.simulator.records import (
    Bracket,
    PlaceRequest,
    Reason,
    VenueError,
)
from simple_risk.adapters.simulator.shapes import Shapes
from simple_risk.adapters.simulator.venue import Venue
from simple_risk.adapters.simulator.wan import WanDelay
from simple_risk.engine.events import OrderStatus, OrderType

log = logging.getLogger("simple_risk.sim")

MAX_SEARCH_RESULTS = 20


class BadRequest(Exception):
    """The body does not bind to the endpoint's request model (answered with HTTP 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Body:
    """A JSON request body with ASP.NET-like binding: case-insensitive names, typed getters."""

    def __init__(self, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise BadRequest("$", "The JSON value could not be converted to the request model.")
        self._values = {str(k).lower(): v for k, v in raw.items()}

    def _get(self, name: str, required: bool) -> object:
        value = self._values.get(name.lower())
        if value is None and required:
            raise BadRequest(name, f"The {name} field is required.")
        return value

    def _wrong(self, name: str) -> BadRequest:
        return BadRequest(name, f"The JSON value could not be converted for {name}.")

    def integer(self, name: str, *, required: bool = True, bits: int = 32) -> int | None:
        """An int32 (ids of orders and trades: ``bits=64``); anything else does not bind."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self._wrong(name)
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise self._wrong(name)
            value = int(value)
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise self._wrong(name)
        return value

    def req_integer(self, name: str, bits: int = 32) -> int:
        value = self.integer(name, bits=bits)
        assert value is not None
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(name)
        return value

    def req_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def flag(self, name: str, *, required: bool = True) -> bool | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._wrong(name)
        return value

    def number(self, name: str) -> Decimal | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self._wrong(name)
        result = Decimal(value)
        if not result.is_finite():
            raise self._wrong(name)
        return result

    def timestamp(self, name: str, *, required: bool = True) -> datetime | None:
        text = self.text(name, required=required)
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self._wrong(name) from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def bracket(self, name: str) -> Bracket | None:
        value = self._get(name, False)
        if value is None:
            return None
        inner = Body(value)
        ticks = inner.integer("ticks")
        otype = inner.integer("type")
        assert ticks is not None and otype is not None
        try:
            return Bracket(ticks, OrderType(otype))
        except ValueError:
            raise self._wrong(name) from None


#: Per-endpoint errorCode for each venue refusal (reference §3.2). A reason an endpoint has no
#: code for falls back to that endpoint's UnknownError.
ERROR_CODES: dict[str, dict[Reason, int]] = {
    "order/search": {Reason.ACCOUNT_NOT_FOUND: 1},
    "order/searchopen": {Reason.ACCOUNT_NOT_FOUND: 1},
    "order/place": {
        Reason.ACCOUNT_NOT_FOUND: 1,
        Reason.ORDER_REJECTED: 2,
        Reason.ACCOUNT_VIOLATION: 4,
        Reason.CONTRACT_NOT_FOUND: 8,
        Reason.CONTRACT_NOT_ACTIVE: 9,
    },
    "order/cancel": {
        Reason.ACCOUNT_NOT_FOUND: 1,
        Reason.ORDER_NOT_FOUND: 2,
        Reason.ORDER_REJECTED: 3,
    },
    "order/modify": {
        Reason.ACCOUNT_NOT_FOUND: 1,
        Reason.ORDER_NOT_FOUND: 2,
        Reason.ORDER_REJECTED: 3,
        Reason.CONTRACT_NOT_FOUND: 7,
    },
    "position/searchopen": {Reason.ACCOUNT_NOT_FOUND: 1},
    "position/closecontract": {
        Reason.ACCOUNT_NOT_FOUND: 1,
        Reason.POSITION_NOT_FOUND: 2,
        Reason.CONTRACT_NOT_FOUND: 3,
        Reason.CONTRACT_NOT_ACTIVE: 4,
        Reason.ORDER_REJECTED: 5,
        Reason.ACCOUNT_VIOLATION: 8,
    },
    "position/partialclosecontract": {
        Reason.ACCOUNT_NOT_FOUND: 1,
        Reason.POSITION_NOT_FOUND: 2,
        Reason.CONTRACT_NOT_FOUND: 3,
        Reason.CONTRACT_NOT_ACTIVE: 4,
        Reason.INVALID_CLOSE_SIZE: 5,
        Reason.ORDER_REJECTED: 6,
        Reason.ACCOUNT_VIOLATION: 9,
    },
    "trade/search": {Reason.ACCOUNT_NOT_FOUND: 1},
    "contract/searchbyid": {Reason.CONTRACT_NOT_FOUND: 1},
    "history/retrievebars": {Reason.CONTRACT_NOT_FOUND: 1},
}
UNKNOWN_ERROR: dict[str, int] = {
    "order/place": 7,
    "order/cancel": 5,
    "order/modify": 5,
    "position/closecontract": 7,
    "position/partialclosecontract": 8,
    "auth/validate": 4,
    "auth/logout": 2,
    "auth/loginkey": 8,
}

Envelope = dict[str, object]
Handler = Callable[["RestContext", Body], Envelope]


def ok(**payload: object) -> Envelope:
    return {**payload, "success": True, "errorCode": 0, "errorMessage": None}


def failed(code: int, message: str | None, **payload: object) -> Envelope:
    return {**payload, "success": False, "errorCode": code, "errorMessage": message}


@dataclass
class RestContext:
    """What an endpoint handler may use: the venue, the caller's session and token."""

    venue: Venue
    tokens: TokenStore
    session: Session | None
    token: str | None
    credentials: dict[str, str]
    seed: int
    now: datetime
    shapes: Shapes


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    method: Literal["GET", "POST"] = "POST"
    auth: bool = True
    bucket: Literal["general", "bars"] = "general"
    payload: str | None = None


# -- handlers ----------------------------------------------------------------------------------


def login_key(ctx: RestContext, body: Body) -> Envelope:
    username = body.req_text("userName")
    api_key = body.req_text("apiKey")
    if ctx.credentials.get(username) != api_key:
        return failed(3, "Invalid credentials.", token=None)
    return ok(token=ctx.tokens.issue(username))


def validate(ctx: RestContext, body: Body) -> Envelope:
    assert ctx.session is not None
    return ok(newToken=ctx.tokens.issue(ctx.session.username))


def logout(ctx: RestContext, body: Body) -> Envelope:
    assert ctx.token is not None
    ctx.tokens.revoke(ctx.token)
    return ok()


def account_search(ctx: RestContext, body: Body) -> Envelope:
    only_active = body.flag("onlyActiveAccounts")
    accounts = ctx.venue.accounts(only_active=bool(only_active))
    return ok(accounts=[wire.account_model(a) for a in accounts])


def contract_search(ctx: RestContext, body: Body) -> Envelope:
    text = (body.text("searchText", required=False) or "").lower()
    body.flag("live")
    found = [
        c
        for c in ctx.venue.contracts()
        if c.active and any(text in f.lower() for f in (c.id, c.name, c.description, c.symbol_id))
    ]
    return ok(contracts=[wire.contract_model(c) for c in found[:MAX_SEARCH_RESULTS]])


def contract_search_by_id(ctx: RestContext, body: Body) -> Envelope:
    contract = ctx.venue.contract(body.req_text("contractId"))
    return ok(contract=wire.contract_model(contract))


def contract_available(ctx: RestContext, body: Body) -> Envelope:
    body.flag("live")
    return ok(contracts=[wire.contract_model(c) for c in ctx.venue.contracts() if c.active])


def retrieve_bars(ctx: RestContext, body: Body) -> Envelope:
    contract = ctx.venue.contract(body.req_text("contractId"))
    body.flag("live")
    start = body.timestamp("startTime")
    end = body.timestamp("endTime")
    unit = body.req_integer("unit")
    number = body.req_integer("unitNumber")
    limit = body.req_integer("limit")
    partial = body.flag("includePartialBar")
    assert start is not None and end is not None
    if unit not in range(1, 7):
        return failed(2, "Invalid unit.", bars=None)
    if number <= 0:
        return failed(3, "Invalid unit number.", bars=None)
    if not 0 < limit <= MAX_BARS:
        return failed(4, "Invalid limit.", bars=None)
    market = ctx.venue.market(contract.id) if contract.active else None
    window = BarWindow(start, end, unit, number, limit, bool(partial))
    return ok(bars=history_bars(ctx.seed, contract, market, window, ctx.now))


def order_search(ctx: RestContext, body: Body) -> Envelope:
    """Orders of a period; suspended bracket children are not shown (§14.3: between the place
    and the fill the stream is the only place they exist)."""
    account_id = body.req_integer("accountId")
    start = body.timestamp("startTimestamp")
    end = body.timestamp("endTimestamp", required=False)
    orders = ctx.venue.orders(account_id, start, end)
    return ok(orders=[wire.order_model(o) for o in orders if o.status != OrderStatus.SUSPENDED])


def order_search_open(ctx: RestContext, body: Body) -> Envelope:
    orders = ctx.venue.open_orders(body.req_integer("accountId"))
    return ok(orders=[wire.order_model(o) for o in orders])


def order_place(ctx: RestContext, body: Body) -> Envelope:
    request = PlaceRequest(
        account_id=body.req_integer("accountId"),
        contract_id=body.req_text("contractId"),
        type=body.req_integer("type"),
        side=body.req_integer("side"),
        size=body.req_integer("size"),
        limit_price=body.number("limitPrice"),
        stop_price=body.number("stopPrice"),
        trail_price=body.number("trailPrice"),
        custom_tag=body.text("customTag", required=False),
        stop_loss=body.bracket("stopLossBracket"),
        take_profit=body.bracket("takeProfitBracket"),
    )
    return ok(orderId=ctx.venue.place(request))


def order_cancel(ctx: RestContext, body: Body) -> Envelope:
    ctx.venue.cancel(body.req_integer("accountId"), body.req_integer("orderId", bits=64))
    return ok()


def order_modify(ctx: RestContext, body: Body) -> Envelope:
    ctx.venue.modify(
        body.req_integer("accountId"),
        body.req_integer("orderId", bits=64),
        size=body.integer("size", required=False),
        limit_price=body.number("limitPrice"),
        stop_price=body.number("stopPrice"),
        trail_price=body.number("trailPrice"),
    )
    return ok()


def position_search_open(ctx: RestContext, body: Body) -> Envelope:
    positions = ctx.venue.open_positions(body.req_integer("accountId"))
    return ok(positions=[wire.position_model(p) for p in positions])


def position_close(ctx: RestContext, body: Body) -> Envelope:
    ctx.venue.close_position(body.req_integer("accountId"), body.req_text("contractId"))
    return ok()


def position_partial_close(ctx: RestContext, body: Body) -> Envelope:
    ctx.venue.close_position(
        body.req_integer("accountId"), body.req_text("contractId"), body.req_integer("size")
    )
    return ok()


def trade_search(ctx: RestContext, body: Body) -> Envelope:
    account_id = body.req_integer("accountId")
    start = body.timestamp("startTimestamp", required=False)
    end = body.timestamp("endTimestamp", required=False)
    trades = ctx.venue.trades(account_id, start, end)
    commissions = ctx.shapes.rest_commissions
    return ok(trades=[wire.trade_model(t, commissions=commissions) for t in trades])


ENDPOINTS: dict[str, Endpoint] = {
    "auth/loginkey": Endpoint(login_key, auth=False, payload="token"),
    "auth/validate": Endpoint(validate, payload="newToken"),
    "auth/logout": Endpoint(logout),
    "account/search": Endpoint(account_search, payload="accounts"),
    "contract/search": Endpoint(contract_search, payload="contracts"),
    "contract/searchbyid": Endpoint(contract_search_by_id, payload="contract"),
    "contract/available": Endpoint(contract_available, payload="contracts"),
    "history/retrievebars": Endpoint(retrieve_bars, bucket="bars", payload="bars"),
    "order/search": Endpoint(order_search, payload="orders"),
    "order/searchopen": Endpoint(order_search_open, payload="orders"),
    "order/place": Endpoint(order_place, payload="orderId"),
    "order/cancel": Endpoint(order_cancel),
    "order/modify": Endpoint(order_modify),
    "position/searchopen": Endpoint(position_search_open, payload="positions"),
    "position/closecontract": Endpoint(position_close),
    "position/partialclosecontract": Endpoint(position_partial_close),
    "trade/search": Endpoint(trade_search, payload="trades"),
}


def _problem(field: str, message: str) -> web.Response:
    """ASP.NET Core's ValidationProblemDetails for a body that does not bind."""
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {field: [message]},
    }
    return web.Response(status=400, text=json.dumps(body), content_type="application/problem+json")


def _envelope(envelope: Envelope, style: wire.Style = "rest") -> web.Response:
    return web.Response(text=wire.dumps(envelope, style), content_type="application/json")


def bearer(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class RestApi:
    """Serves ``/api/...``; every ProjectX request also lands in the request log."""

    def __init__(
        self,
        venue: Venue,
        tokens: TokenStore,
        limiter: RateLimiter,
        faults: FaultQueue,
        credentials: dict[str, str],
        seed: int,
        clock: Callable[[], datetime],
        requests: list[RecordedRequest],
        shapes: Shapes | None = None,
        wan: WanDelay | None = None,
    ) -> None:
        self.shapes = shapes or Shapes()
        #: holds every answer back by a simulated WAN's delay (the venue acts on arrival)
        self.wan = wan
        self.style: wire.Style = "rest" if self.shapes.trimmed_rest_timestamps else "rest6"
        self.venue = venue
        self.tokens = tokens
        self.limiter = limiter
        self.faults = faults
        self.credentials = credentials
        self.seed = seed
        self.clock = clock
        self.requests = requests

    async def handle(
        self, request: web.Request, arrived: datetime | None = None
    ) -> web.StreamResponse:
        """Answer one ProjectX request and log it, stamped ``arrived`` (when its bytes reached
        the simulator: see ``arrivals.py``) or, unknown, now: never when it was answered."""
        if arrived is None:
            arrived = self.clock()
        raw = await request.read()
        try:
            body: object = json.loads(raw, parse_float=Decimal) if raw.strip() else None
            parse_error = False
        except (ValueError, UnicodeDecodeError):
            body, parse_error = raw.decode("utf-8", "replace"), True
        late = self.faults.take_late(request.path.lower().rstrip("/").removeprefix("/api/"))
        response = await self._respond(request, body, parse_error)
        if late:
            await asyncio.sleep(late)  # the venue acted: only the answer is late
        recorded_body = json.loads(raw) if raw.strip() and not parse_error else body
        remember(
            self.requests,
            RecordedRequest(
                arrived,
                request.method,
                request.path,
                request.query_string,
                recorded_body,
                response.status,
            ),
        )
        log.info("%s %s -> %d", request.method, request.path, response.status)
        if self.wan is not None:
            await asyncio.sleep(self.wan.sample())
        return response

    async def _respond(
        self, request: web.Request, body: object, parse_error: bool
    ) -> web.StreamResponse:
        path = request.path.lower().rstrip("/")
        if not path.startswith("/api/"):
            return web.Response(status=404)
        name = path[len("/api/") :]
        taken = self.faults.take()
        if taken is not None:
            fault, retry_after = taken
            if fault == "timeout":
                await asyncio.sleep(self.faults.timeout_seconds)
                return web.Response(status=504)
            headers = {} if retry_after is None else {"Retry-After": retry_after}
            return web.Response(status=fault, headers=headers)
        if name == "status/ping":
            if not self.limiter.allow("general"):
                return web.Response(status=429)
            return web.Response(text="pong", content_type="text/plain")
        endpoint = ENDPOINTS.get(name)
        if endpoint is None:
            return web.Response(status=404)
        if request.method != endpoint.method:
            return web.Response(status=405)
        if not self.limiter.allow(endpoint.bucket):
            return web.Response(status=429)
        token = bearer(request)
        session = self.tokens.check(token)
        if endpoint.auth and session is None:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        if parse_error:
            return _problem("$", "The request body is not valid JSON.")
        ctx = RestContext(
            self.venue,
            self.tokens,
            session,
            token,
            self.credentials,
            self.seed,
            self.clock(),
            self.shapes,
        )
        try:
            return _envelope(endpoint.handler(ctx, Body(body)), self.style)
        except BadRequest as exc:
            return _problem(exc.field, exc.message)
        except VenueError as exc:
            code = ERROR_CODES.get(name, {}).get(exc.reason, UNKNOWN_ERROR.get(name, 1))
            payload: dict[str, object] = {}
            if endpoint.payload is not None:
                payload[endpoint.payload] = exc.order_id if name == "order/place" else None
            return _envelope(failed(code, exc.message, **payload), self.style)
        except Exception:
            log.exception("simulator error on %s", request.path)
            return web.Response(
                status=500,
                text=wire.dumps(failed(UNKNOWN_ERROR.get(name, 1), "Internal error."), "rest"),
                content_type="application/json",
            )
