"""The adapters against the gateway simulator over loopback — the code that talks to TopstepX.

Every window, lifetime and limit is shrunk so the suite takes seconds; waits are on conditions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from simple_risk.adapters.replay import Recorder, replay
from simple_risk.adapters.simulator import RateLimits, Simulator, wire
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.errors import ApiError, AuthenticationError, Outcome
from simple_risk.adapters.topstepx.hubconverter import Converter, Doubt
from simple_risk.adapters.topstepx.hubs import MarketHubClient, UserHubClient
from simple_risk.adapters.topstepx.ratelimit import Budget, Priority, RateLimiter
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.watchdog import WatchdogConfig
from simple_risk.engine.events import (
    AccountUpdate,
    ConnectionChanged,
    ContractLoaded,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    Quote,
    TradeFill,
)
from simple_risk.engine.facts.orders import OWN_TAG_PREFIX
from tests.adapters.conftest import FAST_HUBS, FAST_REST, Events, client_for, start_sim, wait_until

pytestmark = pytest.mark.timeout(60)


def mnq(client: RestClient) -> str:
    return next(c.contract_id for c in client.available_contracts() if c.root == "MNQ")


class Hubs:
    def __init__(self, client: RestClient, sim: Simulator, events: Events, **kw: object) -> None:
        self.user = UserHubClient(sim.user_hub_url, client, events.queue, config=FAST_HUBS, **kw)  # type: ignore[arg-type]
        self.market = MarketHubClient(
            sim.market_hub_url,
            client,
            events.queue,
            converter=self.user.converter,
            config=FAST_HUBS,
            **kw,  # type: ignore[arg-type]
        )

    def start(self) -> None:
        self.user.start()
        self.market.start()
        assert self.user.wait_connected(5) and self.market.wait_connected(5)

    def stop(self) -> None:
        self.user.stop()
        self.market.stop()


@pytest.fixture
def client(sim: Simulator) -> Iterator[RestClient]:
    rest = client_for(sim)
    yield rest
    rest.close()


def is_changed(hub: str, state: str, gap: bool | None = None):  # type: ignore[no-untyped-def]
    def check(event: Event) -> bool:
        return (
            isinstance(event, ConnectionChanged)
            and event.hub == hub
            and event.state == state
            and (gap is None or event.gap is gap)
        )

    return check


def test_login_subscribe_and_every_kind_of_event_flows(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    accounts = client.search_accounts()
    assert {a.account_id for a in accounts} >= {20100001, 20100002}
    account = accounts[0].account_id
    contract = mnq(client)
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        events.wait_for(is_changed("user", "connected", gap=False))
        sim.set_price(contract, Decimal("21000.25"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21000.25"))
        order_id = client.place_order(
            account, contract, order_type=OrderType.MARKET, side=OrderSide.BUY, size=2
        )
        assert order_id > 2**31
        filled = events.wait_for(
            lambda e: isinstance(e, OrderUpdate) and e.status is OrderStatus.FILLED
        )
        assert isinstance(filled, OrderUpdate) and filled.order_id == order_id
        fill = events.wait_for(lambda e: isinstance(e, TradeFill))
        assert isinstance(fill, TradeFill) and fill.pnl is None and fill.order_id == order_id
        position = events.wait_for(lambda e: isinstance(e, PositionUpdate))
        assert isinstance(position, PositionUpdate) and position.size == 2
        events.wait_for(lambda e: isinstance(e, AccountUpdate) and e.account_id == account)
        stamps = [e.at for e in events.drain()]
        assert stamps == sorted(stamps), "engine time never runs backwards"
        # REST reconciliation sees the same state
        assert [p.size for p in client.open_positions(account)] == [2]
        # a window that starts before the fill whatever the hour (from midnight was empty at 00:xx)
        since = fill.at - timedelta(minutes=5)
        assert any(t.order_id == order_id for t in client.search_trades(account, since))
        client.close_position(account, contract)
        events.wait_for(lambda e: isinstance(e, PositionUpdate) and e.size == 0)
        # closing again: PositionNotFound is DONE (already flat) — the executor's table says so
        with pytest.raises(ApiError) as raised:
            client.close_position(account, contract)
        assert raised.value.code_name == "PositionNotFound"
        assert raised.value.outcome is Outcome.DONE
    finally:
        hubs.stop()
    assert not hubs.user.converter.rejected


def test_dropped_connections_are_back_and_resubscribed_within_5s_and_the_gap_is_reported(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    account = client.search_accounts()[0].account_id
    contract = mnq(client)
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        mark = len(events.drain())
        dropped_at = time.monotonic()
        assert sim.drop_connections() == 2
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=5, start=mark)
        events.wait_for(is_changed("market", "reconnected", gap=True), timeout=5, start=mark)
        wait_until(lambda: hubs.user.is_ready() and hubs.market.is_ready(), timeout=5)
        assert time.monotonic() - dropped_at < 5
        mark = len(events.drain())
        # the new connections carry the subscriptions again
        sim.set_price(contract, Decimal("21010.5"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21010.5"), start=mark)
        client.place_order(
            account, contract, order_type=OrderType.MARKET, side=OrderSide.SELL, size=1
        )
        events.wait_for(lambda e: isinstance(e, TradeFill), start=mark)
    finally:
        hubs.stop()


def test_watchdog_recovers_when_reconnects_are_refused_for_a_while(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    account = client.search_accounts()[0].account_id
    contract = mnq(client)
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        rebuilds = hubs.user.rebuilds
        mark = len(events.drain())
        sim.refuse_hub_connections(1.5)
        sim.drop_connections()
        # signalrcore's own first retry is refused: 1.0.2 then never retries (reference §10.4)
        events.wait_for(is_changed("user", "reconnecting", gap=False), timeout=5, start=mark)
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=10, start=mark)
        events.wait_for(is_changed("market", "reconnected", gap=True), timeout=10, start=mark)
        assert hubs.user.rebuilds > rebuilds, "the watchdog, not signalrcore, rebuilt it"
        wait_until(lambda: hubs.user.is_ready() and hubs.market.is_ready(), timeout=5)
        mark = len(events.drain())
        sim.set_price(contract, Decimal("21020"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21020"), start=mark)
        client.place_order(
            account, contract, order_type=OrderType.MARKET, side=OrderSide.BUY, size=1
        )
        events.wait_for(lambda e: isinstance(e, OrderUpdate), start=mark)
    finally:
        hubs.stop()


def test_a_failed_reconnect_is_noticed_at_once_not_at_the_stuck_limit(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    """signalrcore's own reconnect is refused once: 1.0.2 then raises ``'WebsocketTransport'
    object has no attribute 'connection_alive'`` and sits "reconnecting", deaf. The hub says
    the gap at once and builds a new connection after its backoff — not after the watchdog's
    stuck limit (10 s), while fills go unheard."""
    account = client.search_accounts()[0].account_id
    stuck = WatchdogConfig(check_interval=0.1, open_timeout=2.0, stuck_after=10.0)
    user = UserHubClient(
        sim.user_hub_url,
        client,  # type: ignore[arg-type]
        events.queue,
        config=replace(FAST_HUBS, watchdog=stuck),
    )
    user.subscribe_account(account)
    user.start()
    try:
        assert user.wait_connected(5)
        rebuilds = user.rebuilds
        mark = len(events.drain())
        sim.refuse_hub_connections(0.5)
        dropped_at = time.monotonic()
        sim.drop_connections()
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=8, start=mark)
        assert time.monotonic() - dropped_at < 5, "rebuilt only at the stuck limit"
        assert user.rebuilds > rebuilds
        wait_until(user.is_ready, timeout=5)
        mark = len(events.drain())
        client.place_order(
            account, mnq(client), order_type=OrderType.MARKET, side=OrderSide.BUY, size=1
        )
        events.wait_for(lambda e: isinstance(e, TradeFill), start=mark)
    finally:
        user.stop()


def test_the_live_shapes_convert_without_a_rejection(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    """A bracket family, a removed position and REST fills without commissions, as the live
    gateway sends them (reference §14), all reach the engine as domain events."""
    account = 20100003  # the simulator's Auto-OCO account
    contract = mnq(client)
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        body = {
            "accountId": account,
            "contractId": contract,
            "type": 2,
            "side": 0,
            "size": 3,
            "customTag": "ui-7",
            "stopLossBracket": {"ticks": 8, "type": 4},
            "takeProfitBracket": {"ticks": 12, "type": 1},
        }
        reply = requests.post(
            f"{sim.base_url}/api/Order/place",
            json=body,
            headers={"Authorization": f"Bearer {client.token()}"},
            timeout=5,
        ).json()
        assert reply["success"], reply
        entry_id = reply["orderId"]
        suspended = [
            events.wait_for(
                lambda e, tag=tag: (
                    isinstance(e, OrderUpdate)
                    and e.custom_tag == tag
                    and e.status is OrderStatus.SUSPENDED
                )
            )
            for tag in ("ui-7-SL", "ui-7-TP")
        ]
        assert all(isinstance(e, OrderUpdate) and e.limit_price is None for e in suspended)
        armed = events.wait_for(
            lambda e: (
                isinstance(e, OrderUpdate)
                and e.custom_tag == "ui-7-SL"
                and e.status is OrderStatus.OPEN
            )
        )
        assert isinstance(armed, OrderUpdate) and armed.stop_price is not None
        client.close_position(account, contract)
        events.wait_for(lambda e: isinstance(e, PositionUpdate) and e.size == 0)
        fills = client.search_trades(account, datetime.now(UTC) - timedelta(hours=1))
        # REST fills carry no commissions: unknown (None), never a zero that would erase them
        assert fills and all(f.commissions is None and f.fees > 0 for f in fills)
        assert {f.order_id for f in fills} >= {entry_id}
    finally:
        hubs.stop()
    assert not hubs.user.converter.rejected


def test_gateway_logout_is_a_gap_healed_by_a_rebuilt_connection(
    sim: Simulator,
    client: RestClient,
    events: Events,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    account = client.search_accounts()[0].account_id
    contract = mnq(client)
    recorder = Recorder(tmp_path / "day.jsonl")
    hubs = Hubs(client, sim, events, recorder=recorder)
    hubs.user.subscribe_account(account)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        rebuilds = hubs.user.rebuilds, hubs.market.rebuilds
        mark = len(events.drain())
        with caplog.at_level(logging.WARNING, logger="simple_risk.adapters.topstepx.hubs"):
            assert sim.send_logout() == 2
            events.wait_for(is_changed("user", "logged_out", gap=False), start=mark)
            events.wait_for(is_changed("market", "logged_out", gap=False), start=mark)
            events.wait_for(is_changed("user", "reconnected", gap=True), timeout=10, start=mark)
            events.wait_for(is_changed("market", "reconnected", gap=True), timeout=10, start=mark)
        assert "GatewayLogout" in caplog.text
        assert hubs.user.rebuilds > rebuilds[0] and hubs.market.rebuilds > rebuilds[1]
        wait_until(lambda: hubs.user.is_ready() and hubs.market.is_ready(), timeout=5)
        # one logout, one gap per hub (the daemon reconciles for each): said when the hub is
        # heard again — logged out, reconnecting and reconnected were three
        changes = [e for e in events.drain()[mark:] if isinstance(e, ConnectionChanged)]
        assert [(e.hub, e.state) for e in changes if e.gap] in (
            [("user", "reconnected"), ("market", "reconnected")],
            [("market", "reconnected"), ("user", "reconnected")],
        ), changes
        mark = len(events.drain())
        sim.set_price(contract, Decimal("21020"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21020"), start=mark)
    finally:
        hubs.stop()
        recorder.close()
    assert (tmp_path / "day.jsonl").read_text().count('"target":"GatewayLogout"') == 2


def test_a_refused_subscription_is_a_gap_and_the_hub_subscribes_again(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    """The server answers SubscribeContractQuotes with an error: the connection is open but
    deaf to the quotes. It is said (the daemon alerts) and a new connection subscribes again
    — the gap, once it is open — after which the quotes flow."""
    contract = mnq(client)
    sim.refuse_subscriptions(1)
    hubs = Hubs(client, sim, events)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        refused = events.wait_for(is_changed("market", "subscribe_failed", gap=False), timeout=10)
        rebuilds = hubs.market.rebuilds
        wait_until(lambda: hubs.market.rebuilds > rebuilds, timeout=10)
        events.wait_for(
            is_changed("market", "reconnected", gap=True),
            timeout=10,
            start=events.drain().index(refused),
        )
        wait_until(hubs.market.is_ready, timeout=10)
        mark = len(events.drain())
        sim.set_price(contract, Decimal("21020"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21020"), start=mark)
    finally:
        hubs.stop()


def test_reconnects_refused_as_connection_not_found_are_retried_until_one_works(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        mark = len(events.drain())
        sim.lose_connections(3)
        sim.drop_connections()
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=15, start=mark)
        events.wait_for(is_changed("market", "reconnected", gap=True), timeout=15, start=mark)
        refused = [r for r in sim.requests_log() if r.path.startswith("/hubs/") and r.status == 404]
        assert len(refused) == 3
        wait_until(lambda: hubs.user.is_ready() and hubs.market.is_ready(), timeout=5)
    finally:
        hubs.stop()


def test_a_first_connection_after_refused_attempts_is_a_gap(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # the daemon started without the hub and read REST meanwhile; what happened between its
    # last read and the subscriptions is only in REST: the first connection says so
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    sim.refuse_hub_connections(1.0)
    hubs.user.start()
    try:
        events.wait_for(is_changed("user", "reconnecting", gap=False), timeout=5)
        connected = events.wait_for(is_changed("user", "connected"), timeout=10)
        assert isinstance(connected, ConnectionChanged) and connected.gap
    finally:
        hubs.user.stop()


def test_a_hub_that_refused_a_handshake_and_reconnected_takes_new_subscriptions(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # the live hub may cancel a handshake; signalrcore connects again at once. The second
    # handshake opens the connection as well as a first one: it is ready, and a contract
    # watched afterwards (a new position's) gets its quotes — it was never subscribed, and
    # that position's open loss went unseen
    contracts = [c.contract_id for c in client.available_contracts()]
    hubs = Hubs(client, sim, events)
    hubs.market.subscribe_quotes(contracts[0])
    sim.refuse_handshakes(1)
    hubs.market.start()
    try:
        assert hubs.market.wait_connected(5)
        later = contracts[1]
        hubs.market.subscribe_quotes(later)
        wait_until(hubs.market.is_ready, timeout=5)
        mark = len(events.drain())
        price = Decimal("101.5")
        sim.set_price(later, price)
        events.wait_for(
            lambda e: isinstance(e, Quote) and e.contract_id == later and e.last == price,
            start=mark,
        )
    finally:
        hubs.market.stop()


def _a_storm_of_refusals(
    sim: Simulator, client: RestClient, events: Events, refuse: Callable[[int], None]
) -> list[object]:
    """Drop a connected user hub while the gateway refuses what comes next (``refuse(n)``: the
    next ``n`` connections), count the connects over 2 s (a backoff keeps them few), then let
    the hub back and see it reconnect with a gap. Returns the events said during the storm."""
    account = client.search_accounts()[0].account_id
    config = replace(FAST_HUBS, rebuild_backoff_base=0.5, rebuild_backoff_max=2.0)
    user = UserHubClient(sim.user_hub_url, client, events.queue, config=config)
    user.subscribe_account(account)
    user.start()
    try:
        assert user.wait_connected(5)
        refuse(100_000)
        sim.clear_requests()
        mark = len(events.drain())
        sim.drop_connections()
        time.sleep(2.0)  # long enough to count the connects
        connects = [r for r in sim.requests_log() if r.path == "/hubs/user" and r.status == 101]
        assert len(connects) <= 8
        said = list(events.drain()[mark:])
        refuse(0)
        mark = len(events.drain())
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=10, start=mark)
        wait_until(user.is_ready, timeout=5)
        return said
    finally:
        user.stop()


def test_a_hub_that_closes_each_connection_as_it_opens_is_retried_with_a_backoff(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # a live hub ends a connection with "Connection closed with an error." (§14.4); when it
    # does so to every connection right after the handshake, signalrcore reconnected at once,
    # forever — ten connects a second against the gateway — and each reconnect was told as
    # the hub being back. It is a failed attempt: the next waits a growing backoff, and the
    # daemon hears the hub is down, not up
    said = _a_storm_of_refusals(sim, client, events, sim.close_after_handshakes)
    assert [e for e in said if is_changed("user", "reconnecting")(e)], "the hub is said down"


def test_a_hub_that_refuses_every_handshake_is_retried_with_a_backoff(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # a refused handshake ends the connection; signalrcore connected again at once, without
    # end, hundreds of times a second, and each was told as another disconnection
    said = _a_storm_of_refusals(sim, client, events, sim.refuse_handshakes)
    assert len(said) <= 8


def test_a_silent_connection_is_torn_down_and_rebuilt(events: Events) -> None:
    sim = start_sim(ping_interval=60.0)  # the server never pings: silence looks like a dead link
    client = client_for(sim)
    config = replace(FAST_HUBS, watchdog=replace(FAST_HUBS.watchdog, stale_after=0.8))
    hubs = UserHubClient(sim.user_hub_url, client, events.queue, config=config)
    hubs.subscribe_account(client.search_accounts()[0].account_id)
    try:
        hubs.start()
        events.wait_for(is_changed("user", "connected"))
        events.wait_for(is_changed("user", "reconnected", gap=True), timeout=5)
        assert hubs.rebuilds >= 2
    finally:
        sim.stop()  # its Close frees signalrcore's blocking stop() of the silent connections
        hubs.stop()
        client.close()


def test_token_expiry_is_refreshed_without_losing_the_stream(events: Events) -> None:
    sim = start_sim(token_lifetime=3.0)
    config = RestConfig(
        timeout=3.0, backoff_base=0.05, backoff_max=0.4, token_lifetime=3.0, refresh_before=1.5
    )
    client = client_for(sim, config)
    try:
        account = client.search_accounts()[0].account_id
        contract = mnq(client)
        hubs = Hubs(client, sim, events)
        hubs.user.subscribe_account(account)
        hubs.market.subscribe_quotes(contract)
        hubs.start()
        try:
            first_generation = client.token_generation
            prices = [Decimal("21000") + Decimal("0.25") * i for i in range(1, 30)]
            placed: list[int] = []
            mark = len(events.drain())
            for i, price in enumerate(prices):  # ~4.5 s of traffic across token refreshes
                sim.set_price(contract, price)
                if i % 3 == 0:
                    placed.append(
                        client.place_order(
                            account,
                            contract,
                            order_type=OrderType.LIMIT,
                            side=OrderSide.BUY,
                            size=1,
                            limit_price=Decimal("20000") + i,
                        )
                    )
                time.sleep(0.15)
            events.wait_for(lambda e: isinstance(e, Quote) and e.last == prices[-1], start=mark)
            events.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order_id == placed[-1])
            window = events.drain()[mark:]
            # live quotes have no lastPrice: the last price is known from the first market trade
            seen = [e.last for e in window if isinstance(e, Quote) and e.last is not None]
            assert client.token_generation > first_generation + 1
            assert any(is_changed("user", "refreshed")(e) for e in window)
            assert any(is_changed("market", "refreshed")(e) for e in window)
            assert set(prices) <= set(seen), "no quote lost across the token refreshes"
            assert seen == sorted(seen), "no stale quote from a retired connection"
            orders = [(e.order_id, e.status) for e in window if isinstance(e, OrderUpdate)]
            assert {order_id for order_id, _ in orders} == set(placed), "no order event lost"
            assert len(orders) == len(set(orders)), "none delivered twice by both connections"
            assert not any(isinstance(e, ConnectionChanged) and e.gap for e in window), (
                "a refresh is make-before-break: no gap"
            )
        finally:
            hubs.stop()
    finally:
        client.close()
        sim.stop()


def test_short_lived_tokens_do_not_turn_every_call_into_a_validate() -> None:
    sim = start_sim(token_lifetime=20.0)  # far shorter than the default 2 h refresh window
    client = client_for(sim, RestConfig(timeout=3.0))
    try:
        for _ in range(5):
            client.search_accounts()
        paths = [r.path for r in sim.requests_log()]
        assert paths.count("/api/Auth/loginKey") == 1
        assert "/api/Auth/validate" not in paths
    finally:
        client.close()
        sim.stop()


def test_an_expired_token_answered_with_401_is_refreshed_and_the_call_succeeds() -> None:
    sim = start_sim(token_lifetime=0.5)
    # the client believes its token lives a day: only the server's 401 tells it otherwise
    config = RestConfig(timeout=3.0, token_lifetime=86400.0, refresh_before=0.0)
    client = client_for(sim, config)
    try:
        client.login()
        client._token_expires_at = float("inf")  # ignore the JWT's exp: force the 401 path
        time.sleep(0.6)
        assert client.search_accounts()
        statuses = [r.status for r in sim.requests_log() if r.path.endswith("Account/search")]
        assert 401 in statuses and statuses[-1] == 200
    finally:
        client.close()
        sim.stop()


def test_429_bursts_slow_the_client_down_and_every_call_eventually_succeeds() -> None:
    sim = start_sim(rate_limits=RateLimits(general=(8, 1.0), bars=(50, 30.0)))
    # the client's own budget is deliberately looser than the server's: the 429s teach it
    client = client_for(
        sim,
        RestConfig(
            timeout=3.0, max_attempts=12, backoff_base=0.1, backoff_max=0.8, hold_on_429=0.3
        ),
        RateLimiter({"default": Budget(100, 1.0)}, margin=0.0),
    )
    try:
        client.login()
        sim.fail_next(3, 429)
        results: list[int] = []
        errors: list[Exception] = []

        def work() -> None:
            for _ in range(5):
                try:
                    results.append(len(client.search_accounts()))
                except Exception as error:
                    errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors and len(results) == 20
        statuses = [r.status for r in sim.requests_log() if r.path.startswith("/api/Account")]
        assert statuses.count(429) >= 3 and statuses.count(200) == 20
        assert len(statuses) < 60, "backing off keeps the 429s few"
        assert client.retries >= 3
    finally:
        client.close()
        sim.stop()


def test_the_limiter_never_lets_more_than_its_budget_through_in_any_window(
    sim: Simulator,
) -> None:
    budget = Budget(6, 0.5)
    client = client_for(sim, FAST_REST, RateLimiter({"default": budget}, margin=0.05))
    try:
        client.login()
        sim.clear_requests()

        def work(priority: Priority) -> None:
            for _ in range(6):
                client.search_accounts(priority=priority)

        threads = [
            threading.Thread(target=work, args=(p,))
            for p in (Priority.ENFORCEMENT, Priority.RECONCILIATION, Priority.STOP_MANAGEMENT)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        times = sorted(r.time.timestamp() for r in sim.requests_log() if r.path.startswith("/api/"))
        assert len(times) == 18
        for i, start in enumerate(times):
            inside = [t for t in times[i:] if t < start + budget.window]
            assert len(inside) <= budget.requests, f"{len(inside)} requests in one window"
        assert times[-1] - times[0] >= 2 * budget.window, "the budget actually throttled"
    finally:
        client.close()


def test_a_replayed_place_finds_its_order_past_an_unreadable_one(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order/search lists every recent order; one the client cannot read (a status no gateway
    documents) must not hide the order whose tag it is looking for."""
    original = wire.order_model

    def order_model(order: Any) -> dict[str, object]:
        model = original(order)
        if model["size"] == 3:
            model["status"] = 99
        return model

    monkeypatch.setattr(wire, "order_model", order_model)
    client = client_for(sim, RestConfig(timeout=0.3, backoff_base=0.05, backoff_max=0.1))
    try:
        account = client.search_accounts()[0].account_id
        contract = mnq(client)

        def place(size: int, tag: str) -> int:
            return client.place_order(
                account,
                contract,
                order_type=OrderType.LIMIT,
                side=OrderSide.BUY,
                size=size,
                limit_price=Decimal("100"),
                custom_tag=tag,
            )

        first = place(1, "sr-test-1")
        place(3, "sr-test-odd")
        assert place(1, "sr-test-1") == first  # the gateway refuses the tag: looked up
    finally:
        client.close()


def test_a_lenient_open_orders_lists_bracket_children_after_their_entries(
    client: RestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reconcile reads Order/searchOpen leniently; the child known only by its ``-SL`` tag must
    still come after the entry it names, whatever order the gateway listed them in."""

    def order(order_id: int, tag: str) -> dict[str, object]:
        return {
            "id": order_id,
            "accountId": 7,
            "contractId": "CON.F.US.MNQ.U26",
            "status": 1,
            "type": 4 if tag.endswith("-SL") else 1,
            "side": 1,
            "size": 1,
            "stopPrice": 100,
            "limitPrice": 110,
            "customTag": tag,
        }

    body = {"orders": [order(2, "entry-SL"), {"id": "x"}, order(1, "entry")]}
    at = datetime(2026, 8, 19, 14, 0, tzinfo=UTC)
    monkeypatch.setattr(client, "_request", lambda *args, **kwargs: (body, at))
    skipped: list[tuple[str, str]] = []
    orders = client.open_orders(7, on_malformed=lambda kind, why: skipped.append((kind, why)))
    assert [o.order_id for o in orders] == [1, 2]
    assert [kind for kind, _ in skipped] == ["order"]


def test_place_order_retried_after_a_timeout_is_never_duplicated(sim: Simulator) -> None:
    client = client_for(sim, RestConfig(timeout=0.3, backoff_base=0.05, backoff_max=0.1))
    try:
        account = client.search_accounts()[0].account_id
        contract = mnq(client)
        sim.fail_next(1, 500)
        first = client.place_order(
            account,
            contract,
            order_type=OrderType.LIMIT,
            side=OrderSide.BUY,
            size=1,
            limit_price=Decimal("100"),
            custom_tag="sr-test-1",
        )
        # the same intent replayed (same tag): the gateway's duplicate-tag rejection is
        # answered by looking the order up, not by a second order or an error
        again = client.place_order(
            account,
            contract,
            order_type=OrderType.LIMIT,
            side=OrderSide.BUY,
            size=1,
            limit_price=Decimal("100"),
            custom_tag="sr-test-1",
        )
        assert again == first
        paths = [r.path for r in sim.requests_log() if r.path.startswith("/api/Order")]
        # failed place -> look the tag up -> place; duplicate place -> look the tag up
        assert paths == [
            "/api/Order/place",
            "/api/Order/search",
            "/api/Order/place",
            "/api/Order/place",
            "/api/Order/search",
        ]
        tagged = [o for o in client.open_orders(account) if o.custom_tag == "sr-test-1"]
        assert [o.order_id for o in tagged] == [first]
        assert tagged[0].limit_price == Decimal("100")
    finally:
        client.close()


def test_an_untagged_order_never_carries_the_daemons_own_order_prefix(
    client: RestClient,
) -> None:
    """Only the daemon's client tags orders as the engine's "own" (which lockouts let pass);
    any other user of RestClient gets a neutral tag."""
    account = client.search_accounts()[0].account_id
    order_id = client.place_order(
        account,
        mnq(client),
        order_type=OrderType.LIMIT,
        side=OrderSide.BUY,
        size=1,
        limit_price=Decimal("100"),
    )
    (order,) = [o for o in client.open_orders(account) if o.order_id == order_id]
    assert order.custom_tag is not None
    assert not order.custom_tag.startswith(OWN_TAG_PREFIX)


def test_business_errors_carry_the_endpoint_meaning(sim: Simulator, client: RestClient) -> None:
    with pytest.raises(ApiError) as raised:
        client.cancel_order(99999999, 1)
    assert raised.value.code_name == "AccountNotFound"
    assert raised.value.outcome is Outcome.GIVE_UP
    account = client.search_accounts()[0].account_id
    with pytest.raises(ApiError) as raised:
        client.cancel_order(account, 123)
    assert raised.value.code_name == "OrderNotFound" and raised.value.outcome is Outcome.DONE
    assert client.contract_by_id("CON.F.US.NOPE.Z99") is None
    bad = RestClient(sim.base_url, Credentials(sim.username, "wrong-key"), config=FAST_REST)
    with pytest.raises(AuthenticationError) as denied:
        bad.search_accounts()
    assert denied.value.outcome is Outcome.GIVE_UP


def test_secrets_never_reach_logs_or_reprs(
    sim: Simulator, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="SignalRCoreClient")
    client = client_for(sim)
    hubs = Hubs(client, sim, events)
    try:
        hubs.user.subscribe_account(client.search_accounts()[0].account_id)
        hubs.start()
        sim.drop_connections()
        events.wait_for(is_changed("user", "reconnected"), timeout=5)
        token = client.token()
        secrets = [sim.api_key, token]
        texts = [repr(client), repr(client.credentials), repr(hubs.user), repr(client.limiter)]
        texts += [
            r.getMessage() for r in caplog.records if not r.name.startswith("simple_risk.sim")
        ]
        assert any(r.name == "SignalRCoreClient" for r in caplog.records)
        for text in texts:
            for secret in secrets:
                assert secret not in text
    finally:
        hubs.stop()
        client.close()


def test_contract_cache_loads_what_accounts_touch_lazily_fills_and_persists(
    sim: Simulator, client: RestClient, events: Events, tmp_path: Path
) -> None:
    account = client.search_accounts()[0].account_id
    contract = mnq(client)
    client.place_order(account, contract, order_type=OrderType.MARKET, side=OrderSide.BUY, size=1)
    cache = ContractCache(client, tmp_path, sink=events.queue)
    cache.load_catalogue()
    cache.load({p.contract_id for p in client.open_positions(account)})  # a start's reconcile
    info = cache.get(contract)
    assert info is not None and info.root == "MNQ" and info.units == 1
    assert info.tick_size == Decimal("0.25")
    assert any(isinstance(e, ContractLoaded) for e in events.drain())
    # a new process starts from the file, without a request
    offline = ContractCache(None, tmp_path)
    assert offline.get(contract) == info
    # lazily: a contract not known yet is None now and announced when loaded
    lazy = ContractCache(client, tmp_path / "other", sink=events.queue)
    mark = len(events.drain())
    assert lazy.get(contract) is None
    assert lazy.wait_idle(5)
    assert lazy.get(contract) == info
    events.wait_for(lambda e: isinstance(e, ContractLoaded), start=mark)
    lazy.close()


def test_a_recorded_session_replays_into_the_same_events(
    sim: Simulator, client: RestClient, events: Events, tmp_path: Path
) -> None:
    path = tmp_path / "day.jsonl"
    recorder = Recorder(path)
    client.recorder = recorder
    account = client.search_accounts()[0].account_id
    contract = mnq(client)
    hubs = Hubs(client, sim, events, recorder=recorder)
    hubs.user.subscribe_account(account)
    hubs.market.subscribe_quotes(contract)
    hubs.start()
    try:
        client.place_order(
            account, contract, order_type=OrderType.MARKET, side=OrderSide.BUY, size=1
        )
        sim.set_price(contract, Decimal("21005.75"))
        events.wait_for(lambda e: isinstance(e, Quote) and e.last == Decimal("21005.75"))
        events.wait_for(lambda e: isinstance(e, AccountUpdate))
        live_reconcile = client.open_positions(account)
    finally:
        hubs.stop()
        recorder.close()
    live = [e for e in events.drain() if not isinstance(e, ConnectionChanged)]
    replayed = list(replay(path, converter=Converter()))
    assert [e for e in replayed if e in live] == live, "every live event comes back, at included"
    assert live_reconcile[0] in replayed, "REST responses replay too"
    assert "demo-api-key" not in path.read_text()


def test_malformed_wire_payloads_are_skipped_and_the_stream_goes_on(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        good = {
            "action": 1,
            "data": {
                "id": 4999999999,
                "accountId": account,
                "contractId": "CON.F.US.EP.Z26",
                "status": 1,
                "type": 4,
                "side": 1,
                "size": 1,
                "stopPrice": 6000.25,
            },
        }
        for bad in (["garbage"], [{"action": 1, "data": {"id": "x"}}], [], [None], "text"):
            sim.emit_user_event("GatewayUserOrder", bad)  # type: ignore[arg-type]
        sim.emit_user_event("GatewayUserOrder", [good])
        order = events.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order_id == 4999999999)
        assert isinstance(order, OrderUpdate) and order.stop_price == Decimal("6000.25")
        assert hubs.user.converter.rejected["GatewayUserOrder"] >= 3
        assert hubs.user.is_ready()
    finally:
        hubs.stop()


def _stop_record(order_id: int, account: int) -> dict[str, object]:
    """A user-hub order record: a working 1-lot ES sell stop at 6000.25."""
    return {
        "action": 1,
        "data": {
            "id": order_id, "accountId": account, "contractId": "CON.F.US.EP.Z26",
            "status": 1, "type": 4, "side": 1, "size": 1, "stopPrice": 6000.25,
        },
    }  # fmt: skip


def test_an_event_cut_across_two_websocket_messages_arrives_once_whole(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # a server that flushes mid-record: the order's record ends in the next message
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        order = _stop_record(4999999998, account)
        assert sim.emit_user_event("GatewayUserOrder", [order], account, cut=60) == 1
        stop = events.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order_id == 4999999998)
        assert isinstance(stop, OrderUpdate) and stop.stop_price == Decimal("6000.25")
        assert hubs.user.converter.rejected["GatewayUserOrder"] == 0
    finally:
        hubs.stop()


def test_an_unreadable_user_hub_record_is_doubted_for_a_reconcile_of_every_account(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    # an invocation without its arguments: no message can be made of it, so whose record it
    # was and what it said are lost — only REST can tell
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    doubts: list[Doubt] = []
    hubs.user.converter.on_doubt = doubts.append
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        sim.emit_user_event("GatewayUserOrder", None, account)  # type: ignore[arg-type]
        sim.emit_user_event("GatewayUserOrder", None, account)  # type: ignore[arg-type]
        wait_until(lambda: len(doubts) == 2, 5)
        assert {(d.account_id, d.reconcile, d.skipped, d.what) for d in doubts} == {
            (None, True, True, "unreadable user-hub record skipped")
        }
        sim.emit_market_event("GatewayQuote", None, None)  # type: ignore[arg-type]
        sim.emit_user_event("GatewayUserOrder", [], account)  # the stream goes on
        time.sleep(0.3)
        assert len(doubts) == 2, "a market-hub record is no account's"
    finally:
        hubs.stop()


def test_an_event_whose_target_is_in_another_letter_case_arrives(
    sim: Simulator, client: RestClient, events: Events
) -> None:
    account = client.search_accounts()[0].account_id
    hubs = Hubs(client, sim, events)
    hubs.user.subscribe_account(account)
    hubs.start()
    try:
        order = _stop_record(4999999997, account)
        assert sim.emit_user_event("gatewayUserOrder", [order], account) == 1
        stop = events.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order_id == 4999999997)
        assert isinstance(stop, OrderUpdate) and stop.stop_price == Decimal("6000.25")
    finally:
        hubs.stop()
