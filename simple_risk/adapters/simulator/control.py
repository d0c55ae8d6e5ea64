"""The simulator's control surface: what tests and demos may do that no gateway offers.

Kept apart from the ProjectX surface on purpose — its routes live under ``/sim/`` and never
appear in the request log — so a client under test cannot use it by accident. The same
:class:`Control` object backs both the HTTP routes and the in-process
:class:`~simple_risk.adapters.simulator.server.Simulator` handle. It must only be used on the
server's event loop thread (the handle marshals calls there).

HTTP routes (JSON bodies, JSON answers, 400 ``{"error": ...}`` on bad input)::

    GET    /sim/state                 accounts, prices, open connections, paused flag
    POST   /sim/price                 {"contractId", "price"}
    POST   /sim/prices/script         {"contractId", "prices": [...]}
    POST   /sim/prices/pause | /sim/prices/resume
    POST   /sim/prices/step           {"steps": n}
    POST   /sim/account               {"accountId", "canTrade"?, "autoOco"?}
    POST   /sim/hubs/drop             close every hub connection (clients may reconnect)
    POST   /sim/hubs/refuse           {"seconds"}: answer 503 to hub connects meanwhile
    POST   /sim/hubs/logout           {"hub"?: "user" | "market"}: send GatewayLogout (both hubs
                                      when no hub is named)
    POST   /sim/hubs/mute-market      {"muted": bool}: the market hub publishes no quote, trade or
                                      depth while muted (its connections stay up, pinged)
    POST   /sim/hubs/lose-connections {"count"}: the next count hub negotiates/connects get 404
                                      "The connection could not be found on the server."
    POST   /sim/fail-next             {"count", "status": 429 | 500 | 503 | "timeout",
                                      "retryAfter"?: the answers' Retry-After header}
    POST   /sim/answer-late           {"endpoint", "seconds", "count"?}: the next count calls of
                                      the endpoint (e.g. "Position/closeContract") are carried
                                      out at once and answered that many seconds later
    POST   /sim/auth/revoke-tokens    every session token issued so far is refused (401)
    POST   /sim/auth/api-key          {"revoked": bool}: logins are refused (errorCode 3) while
                                      the API key is revoked
    POST   /sim/void-fill             {"tradeId"}
    POST   /sim/emit/user             {"target", "arguments", "accountId"?}: {"sent": how many
                                      connections got it, "at": the venue's time it left for
                                      the socket — answered once every copy has}
    POST   /sim/emit/market           {"target", "arguments", "contractId"?}: the same answer
    GET    /sim/requests              every ProjectX request received; DELETE clears it
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import cast

from aiohttp import web

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.guards import Fault, FaultQueue, RecordedRequest
from simple_risk.adapters.simulator.hubs import Departure, Hub, Hubs
from simple_risk.adapters.simulator.prices import PricePath
from simple_risk.adapters.simulator.records import VenueError
from simple_risk.adapters.simulator.venue import Venue

#: how long an emit's answer waits for its copies to leave (a connection may close first)
EMIT_WAIT = 5.0


class ControlError(Exception):
    """Bad control input; answered with HTTP 400 and raised as-is to in-process callers."""


class Control:
    """Every control operation, on live simulator state."""

    def __init__(
        self,
        venue: Venue,
        path: PricePath,
        hubs: Hubs,
        faults: FaultQueue,
        requests: list[RecordedRequest],
        clock: Callable[[], datetime],
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.venue = venue
        #: username -> API key, as the REST API checks logins (a revoked key is removed)
        self.credentials = credentials if credentials is not None else {}
        self._revoked_keys: dict[str, str] = {}
        #: the venue's wall clock: an emit's answer says when the event left
        self.clock = clock
        self.path = path
        self.hubs = hubs
        self.faults = faults
        self.requests = requests
        self.paused = False

    # -- prices --------------------------------------------------------------------------------

    def set_price(self, contract_id: str, price: Decimal) -> None:
        """Move a contract to ``price`` now (fills whatever the new quote reaches)."""
        try:
            contract = self.venue.contract(contract_id)
            self.venue.update_price(contract.id, Decimal(price))
        except (VenueError, ValueError) as exc:
            raise ControlError(str(exc)) from None

    def script_prices(self, contract_id: str, prices: list[Decimal]) -> None:
        """Queue exact prices for the next steps of one contract."""
        try:
            contract = self.venue.contract(contract_id)
        except VenueError as exc:
            raise ControlError(str(exc)) from None
        if any(not contract.on_grid(Decimal(p)) or Decimal(p) <= 0 for p in prices):
            raise ControlError(
                f"every price must be positive and on the tick grid of {contract.id}"
            )
        self.path.script(contract.id, [Decimal(p) for p in prices])

    def pause_prices(self) -> None:
        self.paused = True

    def resume_prices(self) -> None:
        self.paused = False

    def step_prices(self, steps: int = 1) -> None:
        """Advance every active contract ``steps`` steps along its path (works while paused)."""
        for _ in range(steps):
            for contract_id in self.venue.active_contract_ids():
                last = self.venue.market(contract_id).last
                self.venue.update_price(contract_id, self.path.next_price(contract_id, last))

    # -- accounts and fills --------------------------------------------------------------------

    def set_can_trade(self, account_id: int, can_trade: bool) -> None:
        try:
            self.venue.set_can_trade(account_id, can_trade)
        except VenueError as exc:
            raise ControlError(f"account {account_id} not found") from exc

    def set_auto_oco(self, account_id: int, auto_oco: bool) -> None:
        try:
            self.venue.set_auto_oco(account_id, auto_oco)
        except VenueError as exc:
            raise ControlError(f"account {account_id} not found") from exc

    def void_fill(self, trade_id: int) -> None:
        try:
            self.venue.void_trade(trade_id)
        except VenueError as exc:
            raise ControlError(exc.message or str(exc)) from None

    # -- connections and faults ----------------------------------------------------------------

    def drop_connections(self) -> int:
        """Close every hub connection with a reconnectable Close; return how many."""
        return self.hubs.drop_all("Connection dropped by the simulator.", allow_reconnect=True)

    def refuse_hub_connections(self, seconds: float) -> None:
        self.hubs.refuse_until = time.monotonic() + seconds

    def send_logout(self, hub: str | None = None) -> int:
        """Send ``GatewayLogout`` on one hub (``"user"``/``"market"``) or both; how many got it."""
        if hub is not None and hub not in ("user", "market"):
            raise ControlError('hub must be "user" or "market"')
        return self.hubs.logout(cast(Hub | None, hub))

    def mute_market(self, muted: bool) -> None:
        """The market hub sends nothing (quotes, trades, depth) while ``muted``; its
        connections stay up and answer pings, as a live hub that lost its subscriptions does.
        The venue's prices still move (orders fill; ``History/retrieveBars`` shows them)."""
        self.hubs.market_muted = muted

    def lose_connections(self, count: int) -> None:
        """The next ``count`` hub connection attempts fail as a live reconnect can: HTTP 404
        "The connection could not be found on the server." """
        if count < 0:
            raise ControlError("count must not be negative")
        self.hubs.lost_connections = count

    def refuse_subscriptions(self, count: int) -> None:
        """The next ``count`` hub subscription invocations are answered with an error
        Completion ("Failed to invoke ... due to an error on the server.")."""
        if count < 0:
            raise ControlError("count must not be negative")
        self.hubs.refused_subscriptions = count

    def refuse_handshakes(self, count: int) -> None:
        """The next ``count`` hub handshakes are answered with an error ("Handshake was
        canceled.") and their connections end; the client may connect again."""
        if count < 0:
            raise ControlError("count must not be negative")
        self.hubs.refused_handshakes = count

    def close_after_handshakes(self, count: int) -> None:
        """The next ``count`` hub connections are closed with an error Close ("Connection
        closed with an error.") right after their handshake is accepted."""
        if count < 0:
            raise ControlError("count must not be negative")
        self.hubs.closed_after_handshake = count

    def fail_next(self, count: int, status: Fault, retry_after: str | None = None) -> None:
        if status not in (429, 500, 503, "timeout"):
            raise ControlError('status must be 429, 500, 503 or "timeout"')
        if count < 0:
            raise ControlError("count must not be negative")
        if retry_after is not None and (status == "timeout" or not retry_after.isprintable()):
            raise ControlError("retryAfter must be printable text, and not for a timeout")
        self.faults.add(count, status, retry_after)

    def answer_late(self, endpoint: str, seconds: float, count: int = 1) -> None:
        """The next ``count`` calls of ``endpoint`` act at once; their answers wait ``seconds``."""
        if count < 0 or seconds < 0:
            raise ControlError("count and seconds must not be negative")
        self.faults.add_late(endpoint.strip("/"), count, seconds)

    def revoke_tokens(self) -> int:
        """Every session token issued so far is refused from now on; how many were live."""
        return self.hubs.tokens.revoke_all()

    def revoke_api_key(self, revoked: bool) -> None:
        """Refuse every login (the API key was revoked), or accept it again."""
        if revoked:
            self._revoked_keys.update(self.credentials)
            self.credentials.clear()
        else:
            self.credentials.update(self._revoked_keys)
            self._revoked_keys.clear()

    def emit_user_event(
        self,
        target: str,
        arguments: list[object],
        account_id: int | None = None,
        *,
        cut: int | None = None,
    ) -> int:
        """Send a user-hub event as written; ``cut``: in two WebSocket messages, cut after
        that many characters."""
        return self.hubs.emit_raw("user", target, arguments, account_id, cut=cut)

    def emit_market_event(
        self, target: str, arguments: list[object], contract_id: str | None = None
    ) -> int:
        return self.hubs.emit_raw("market", target, arguments, contract_id)

    async def _emitted(self, emit: Callable[[Departure], int]) -> dict[str, object]:
        """Emit, then answer once every copy has left for its socket: how many connections got
        it, and when the first left the venue (a latency measured from the answer's ``at``
        starts as the event leaves, not while it waits behind this answer on the event loop)."""
        left: list[datetime] = []
        everyone = asyncio.get_running_loop().create_future()
        expected = 0

        def departed(held: float) -> None:
            left.append(self.clock() - timedelta(seconds=held))
            if len(left) >= expected and not everyone.done():
                everyone.set_result(None)

        queued = self.clock()
        expected = sent = emit(departed)  # no copy can leave before this coroutine waits
        if sent:
            with contextlib.suppress(TimeoutError):  # a connection closed before it left
                await asyncio.wait_for(asyncio.shield(everyone), EMIT_WAIT)
        return {"sent": sent, "at": min(left, default=queued).isoformat()}

    def requests_log(self) -> list[RecordedRequest]:
        return list(self.requests)

    def clear_requests(self) -> None:
        self.requests.clear()

    def state(self) -> dict[str, object]:
        return {
            "paused": self.paused,
            "connections": {
                hub: sum(1 for c in self.hubs.connections if c.hub == hub)
                for hub in ("user", "market")
            },
            "accounts": [
                {**wire.account_model(a), "autoOco": a.auto_oco} for a in self.venue.accounts()
            ],
            "prices": {
                cid: self.venue.market(cid).last for cid in self.venue.active_contract_ids()
            },
        }

    # -- HTTP ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one ``/sim/...`` request."""
        route = self._routes().get((request.method, request.path.lower().rstrip("/")))
        if route is None:
            return web.json_response({"error": "no such control route"}, status=404)
        try:
            raw = await request.read()
            body = json.loads(raw, parse_float=Decimal) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ControlError("the body must be a JSON object")
            result = await route(body)
        except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
            return web.json_response({"error": f"bad request: {exc!r}"}, status=400)
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.Response(
            text=wire.dumps({"ok": True, **result}, "hub"), content_type="application/json"
        )

    def _routes(
        self,
    ) -> dict[tuple[str, str], Callable[[dict[str, object]], Awaitable[dict[str, object]]]]:
        def need(body: dict[str, object], name: str, kind: type) -> object:
            value = body.get(name)
            if isinstance(value, bool) and kind is not bool:
                raise ControlError(f"{name} must be {kind.__name__}")
            if kind is Decimal and isinstance(value, int | Decimal):
                return Decimal(value)
            if kind is float and isinstance(value, int | Decimal):
                return float(value)
            if not isinstance(value, kind):
                raise ControlError(f"{name} must be {kind.__name__}")
            return value

        async def state(body: dict[str, object]) -> dict[str, object]:
            return self.state()

        async def price(body: dict[str, object]) -> dict[str, object]:
            self.set_price(
                cast(str, need(body, "contractId", str)),
                cast(Decimal, need(body, "price", Decimal)),
            )
            return {}

        async def script(body: dict[str, object]) -> dict[str, object]:
            prices = need(body, "prices", list)
            self.script_prices(
                cast(str, need(body, "contractId", str)),
                [cast(Decimal, need({"p": p}, "p", Decimal)) for p in cast(list[object], prices)],
            )
            return {}

        async def pause(body: dict[str, object]) -> dict[str, object]:
            self.pause_prices()
            return {}

        async def resume(body: dict[str, object]) -> dict[str, object]:
            self.resume_prices()
            return {}

        async def step(body: dict[str, object]) -> dict[str, object]:
            steps = cast(int, need(body, "steps", int)) if "steps" in body else 1
            self.step_prices(steps)
            return {}

        async def account(body: dict[str, object]) -> dict[str, object]:
            account_id = cast(int, need(body, "accountId", int))
            if "canTrade" in body:
                self.set_can_trade(account_id, cast(bool, need(body, "canTrade", bool)))
            if "autoOco" in body:
                self.set_auto_oco(account_id, cast(bool, need(body, "autoOco", bool)))
            return {}

        async def drop(body: dict[str, object]) -> dict[str, object]:
            return {"dropped": self.drop_connections()}

        async def refuse(body: dict[str, object]) -> dict[str, object]:
            self.refuse_hub_connections(cast(float, need(body, "seconds", float)))
            return {}

        async def logout(body: dict[str, object]) -> dict[str, object]:
            hub = cast(str, need(body, "hub", str)) if body.get("hub") is not None else None
            return {"sent": self.send_logout(hub)}

        async def mute(body: dict[str, object]) -> dict[str, object]:
            self.mute_market(cast(bool, need(body, "muted", bool)))
            return {}

        async def lose(body: dict[str, object]) -> dict[str, object]:
            self.lose_connections(cast(int, need(body, "count", int)))
            return {}

        async def refuse_subscriptions(body: dict[str, object]) -> dict[str, object]:
            self.refuse_subscriptions(cast(int, need(body, "count", int)))
            return {}

        async def refuse_handshakes(body: dict[str, object]) -> dict[str, object]:
            self.refuse_handshakes(cast(int, need(body, "count", int)))
            return {}

        async def close_after_handshakes(body: dict[str, object]) -> dict[str, object]:
            self.close_after_handshakes(cast(int, need(body, "count", int)))
            return {}

        async def fail(body: dict[str, object]) -> dict[str, object]:
            status = body.get("status")
            count = cast(int, need(body, "count", int))
            retry_after = cast(str, need(body, "retryAfter", str)) if "retryAfter" in body else None
            self.fail_next(count, cast(Fault, status), retry_after)
            return {}

        async def late(body: dict[str, object]) -> dict[str, object]:
            count = cast(int, need(body, "count", int)) if "count" in body else 1
            self.answer_late(
                cast(str, need(body, "endpoint", str)),
                cast(float, need(body, "seconds", float)),
                count,
            )
            return {}

        async def revoke_tokens(body: dict[str, object]) -> dict[str, object]:
            return {"revoked": self.revoke_tokens()}

        async def api_key(body: dict[str, object]) -> dict[str, object]:
            self.revoke_api_key(cast(bool, need(body, "revoked", bool)))
            return {}

        async def void(body: dict[str, object]) -> dict[str, object]:
            self.void_fill(cast(int, need(body, "tradeId", int)))
            return {}

        async def emit_user(body: dict[str, object]) -> dict[str, object]:
            account_id = body.get("accountId")
            target = cast(str, need(body, "target", str))
            arguments = cast(list[object], need(body, "arguments", list))
            about = cast(int, need(body, "accountId", int)) if account_id is not None else None
            return await self._emitted(
                lambda left: self.hubs.emit_raw("user", target, arguments, about, left)
            )

        async def emit_market(body: dict[str, object]) -> dict[str, object]:
            contract_id = body.get("contractId")
            target = cast(str, need(body, "target", str))
            arguments = cast(list[object], need(body, "arguments", list))
            about = cast(str, need(body, "contractId", str)) if contract_id is not None else None
            return await self._emitted(
                lambda left: self.hubs.emit_raw("market", target, arguments, about, left)
            )

        async def requests(body: dict[str, object]) -> dict[str, object]:
            return {"requests": [r.as_json() for r in self.requests]}

        async def clear(body: dict[str, object]) -> dict[str, object]:
            self.clear_requests()
            return {}

        return {
            ("GET", "/sim/state"): state,
            ("POST", "/sim/price"): price,
            ("POST", "/sim/prices/script"): script,
            ("POST", "/sim/prices/pause"): pause,
            ("POST", "/sim/prices/resume"): resume,
            ("POST", "/sim/prices/step"): step,
            ("POST", "/sim/account"): account,
            ("POST", "/sim/hubs/drop"): drop,
            ("POST", "/sim/hubs/refuse"): refuse,
            ("POST", "/sim/hubs/logout"): logout,
            ("POST", "/sim/hubs/mute-market"): mute,
            ("POST", "/sim/hubs/lose-connections"): lose,
            ("POST", "/sim/hubs/refuse-subscriptions"): refuse_subscriptions,
            ("POST", "/sim/hubs/refuse-handshakes"): refuse_handshakes,
            ("POST", "/sim/hubs/close-after-handshakes"): close_after_handshakes,
            ("POST", "/sim/fail-next"): fail,
            ("POST", "/sim/answer-late"): late,
            ("POST", "/sim/auth/revoke-tokens"): revoke_tokens,
            ("POST", "/sim/auth/api-key"): api_key,
            ("POST", "/sim/void-fill"): void,
            ("POST", "/sim/emit/user"): emit_user,
            ("POST", "/sim/emit/market"): emit_market,
            ("GET", "/sim/requests"): requests,
            ("DELETE", "/sim/requests"): clear,
        }
