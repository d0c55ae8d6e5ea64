"""A local ProjectX Gateway simulator that speaks the real wire protocol (issue #4).

Any ProjectX client — ours, another SDK, the official SignalR clients — should be unable to
tell it from TopstepX for the endpoints and hubs it implements (reference
``projectx-api.md``). It backs ``simple-risk sim``, the README's first command, and the
end-to-end tests.

In-process use (tests)::

    from simple_risk.adapters.simulator import Simulator, AccountSpec, RateLimits

    with Simulator(port=0, seed=7, ping_interval=0.5, price_interval=None) as sim:
        sim.base_url          # "http://127.0.0.1:<port>"  (REST: base_url + "/api/Auth/loginKey")
        sim.user_hub_url      # base_url + "/hubs/user"
        sim.market_hub_url    # base_url + "/hubs/market"
        sim.username, sim.api_key      # demo credentials ("demo", "demo-api-key" by default)
        sim.venue.accounts()  # the simulated accounts (read only; mutate through the controls)

``Simulator(host="127.0.0.1", port=8700, *, seed=0, accounts=DEFAULT_ACCOUNTS,
username="demo", api_key="demo-api-key", token_lifetime=86400.0, rate_limits=RateLimits(),
ping_interval=15.0, price_interval=1.0, timeout_seconds=30.0, today=None, shapes=None)``

- ``port=0`` picks a free port; ``.port``/``.base_url`` show it after ``start()``.
- ``accounts``: ``AccountSpec(id, name, balance: Decimal, can_trade=True, is_visible=True,
  simulated=True, active=True, auto_oco=False)``. Defaults: 20100001 (50K), 20100002 (150K),
  20100003 (50K, Auto-OCO brackets on).
- ``rate_limits=RateLimits(general=(200, 60.0), bars=(50, 30.0))``: (requests, seconds),
  sliding window, shared by all callers. ``token_lifetime`` in seconds.
- ``price_interval``: seconds between random-walk steps; ``None`` = prices move only when
  told (``set_price``/``step_prices``) — what deterministic tests want.
- ``ping_interval``: seconds between hub ``{"type":6}`` pings (tests: 0.5 so signalrcore's
  blocking ``stop()`` returns quickly).
- ``timeout_seconds``: how long a ``fail_next(n, "timeout")`` request hangs before a 504.
- ``shapes``: which payload shapes to speak; the default (``Shapes()``) is the live TopstepX
  gateway's (reference §14). ``Shapes.legacy(["brackets", "quotes"])`` brings named older
  behaviours back, ``Shapes.legacy()`` all of them (see :mod:`.shapes`).

Lifecycle: ``start()`` (returns self once serving), ``stop()`` (sends a hub Close to every
client, stops serving), or use it as a context manager.

Thread-safe controls (each runs on the simulator's loop and waits for it):

- ``set_price(contract_id, price)``: last = price, bid = price, ask = price + 1 tick; fills
  every resting order the new quote reaches; publishes GatewayQuote/Trade/Depth.
- ``script_prices(contract_id, [p1, p2, ...])``: the next steps use these prices.
- ``pause_prices()`` / ``resume_prices()`` / ``step_prices(n=1)``; ``last_price(contract_id)``.
- ``set_can_trade(account_id, flag)`` (emits GatewayUserAccount), ``set_auto_oco(account_id,
  flag)``.
- ``drop_connections() -> int``: Close (allowReconnect) to every hub connection.
- ``mute_market(muted=True)``: the market hub publishes no quote, trade or depth while muted
  (connections up and pinged: a hub that lost its subscriptions); prices still move, and
  ``History/retrieveBars`` ends in them (a partial bar's close is the last price).
- ``refuse_hub_connections(seconds)``: negotiate and connects answer 503 meanwhile.
- ``send_logout(hub=None) -> int``: a ``GatewayLogout`` invocation on ``"user"``, ``"market"``
  or both hubs.
- ``lose_connections(count=1)``: the next ``count`` negotiates/connects answer 404 "The
  connection could not be found on the server." (how a live reconnect can fail).
- ``refuse_subscriptions(count=1)``: the next ``count`` hub subscriptions are answered with
  an error Completion.
- ``fail_next(n, status=429 | 500 | 503 | "timeout", retry_after=None)``: the next n ProjectX
  REST calls fail so; ``retry_after`` is the ``Retry-After`` header their answers carry.
- ``answer_late(endpoint, seconds, count=1)``: the next ``count`` calls of ``endpoint``
  (``"Position/closeContract"``) are carried out at once and answered ``seconds`` later.
- ``revoke_tokens() -> int``: every session token issued so far is refused (REST 401, hub
  connects 401) until the client logs in again; ``revoke_api_key(revoked=True)``: logins are
  refused (errorCode 3) until ``revoke_api_key(False)``.
- ``void_fill(trade_id)``: bust a fill (voided=true, cash reversed, position rebuilt).
- ``emit_user_event(target, arguments, account_id=None) -> int`` and
  ``emit_market_event(target, arguments, contract_id=None) -> int``: send a raw event
  (``arguments`` exactly as on the wire) to the hub's connections (only those subscribed to
  something about the id, when one is given); returns how many got it.
- ``requests_log() -> list[RecordedRequest]`` (``time, method, path, query, body, status``;
  REST calls plus hub negotiates/connects, never ``/sim``), ``clear_requests()``,
  ``hub_connections() -> int``, ``market_subscribers(contract_id, kind="quotes") -> int``
  (live hubs push nothing on subscribe: wait for a subscriber before moving a price it must
  see).

``Simulator(..., wan=WanDelay(0.040, 0.010))`` holds every REST answer and every hub frame back
by 40 ± 10 ms (the venue acts on a request when it arrives; hub frames keep their order), so a
benchmark on loopback shows what an enforcement costs in round trips over a WAN.

The same controls exist over HTTP under ``/sim/...`` (see :mod:`.control`). Read-only
inspection of ``sim.venue`` (``accounts()``, ``trades(account_id)``, ``open_positions(...)``,
``order(order_id)``, ``active_contract_ids()``) from a test thread is fine while prices are
not ticking (``price_interval=None``).

Wire behaviour worth knowing (details in each module): REST decimals have 9 fractional digits,
timestamps drop the fraction's trailing zeros, nulls are explicit and ``Trade/search`` has no
``commissions``; hub payloads omit nulls, use 7-digit timestamps; user events are
``arguments=[{"action": n, "data": {...}}]`` in the order order Pending → trade → order
Filled → position → account; a flat position is removed (action 2, type 0, size 0) after its
opening half-turns are re-sent; a bracketed entry is announced with its two suspended children
(status 8, no price, ``-SL``/``-TP`` tags, ``parentOrderId``/``linkedOrderId``), which go Open
with prices ~20 ms after the fill and are hidden from ``Order/search(Open)`` while suspended;
quotes are partial updates without ``lastPrice`` and no snapshot on subscribe, market trades
(``GatewayTrade``) an array carrying the last price.
Contract ids use the current quarterly expiry, e.g. ``CON.F.US.MNQ.Z26`` — resolve them with
``Contract/available`` or ``sim.venue.active_contract_ids()`` rather than hard-coding.
"""

from simple_risk.adapters.simulator.guards import RateLimits, RecordedRequest
from simple_risk.adapters.simulator.records import DEFAULT_ACCOUNTS, AccountSpec
from simple_risk.adapters.simulator.server import (
    DEFAULT_API_KEY,
    DEFAULT_PORT,
    DEFAULT_USERNAME,
    Simulator,
)
from simple_risk.adapters.simulator.shapes import LEGACY_NAMES, Shapes
from simple_risk.adapters.simulator.wan import WanDelay

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "DEFAULT_USERNAME",
    "LEGACY_NAMES",
    "AccountSpec",
    "RateLimits",
    "RecordedRequest",
    "Shapes",
    "Simulator",
    "WanDelay",
]
