"""Our own client stack (requests + signalrcore 1.0.2, set up as reference §10.6) against the
simulator over loopback: the user-hub event order, quotes, reconnect after a drop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from signalrcore.hub_connection_builder import HubConnectionBuilder
from signalrcore.protocol.json_hub_protocol import JsonHubProtocol
from signalrcore.types import HttpTransportType

from simple_risk.adapters.simulator import Simulator
from tests.simulator.conftest import ACCOUNT, contract_id, login, wait_for

USER_EVENTS = ("GatewayUserAccount", "GatewayUserOrder", "GatewayUserPosition", "GatewayUserTrade")
MARKET_EVENTS = ("GatewayQuote", "GatewayTrade", "GatewayDepth")


class Client:
    """A signalrcore connection that records every event and re-subscribes on reconnect."""

    def __init__(
        self,
        url: str,
        token: str,
        subscriptions: list[tuple[str, list[Any]]],
        *,
        negotiate: bool = False,
    ) -> None:
        self.events: list[tuple[str, list[Any]]] = []
        self.completions: list[Any] = []
        self.opened = threading.Event()
        self.reconnected = threading.Event()
        self.subscriptions = subscriptions
        self.lock = threading.Lock()
        builder = HubConnectionBuilder().with_url(
            f"{url}?access_token={token}",
            options={
                "access_token_factory": lambda: token,
                "skip_negotiation": not negotiate,
                "transport": HttpTransportType.web_sockets,
            },
        )
        if not negotiate:  # as reference §10.6; with negotiation, 1.0.2's default (version 0)
            builder = builder.with_hub_protocol(JsonHubProtocol())
        self.connection = builder.with_automatic_reconnect(
            {"type": "raw", "keep_alive_interval": 1, "reconnect_interval": 1}
        ).build()
        for name in (*USER_EVENTS, *MARKET_EVENTS):
            self.connection.on(name, lambda args, name=name: self._record(name, args))
        self.connection.on_open(self._subscribe_then(self.opened))
        self.connection.on_reconnect(self._subscribe_then(self.reconnected))

    def _record(self, name: str, args: list[Any]) -> None:
        with self.lock:
            self.events.append((name, args))

    def _subscribe_then(self, flag: threading.Event) -> Any:
        def callback() -> None:
            for method, args in self.subscriptions:
                self.connection.invoke(method, args, on_invocation=self.completions.append)
            flag.set()

        return callback

    def received(self, name: str) -> list[list[Any]]:
        with self.lock:
            return [args for event, args in self.events if event == name]

    def start(self) -> Client:
        self.connection.start()
        assert self.opened.wait(5)
        wait_for(lambda: len(self.completions) >= len(self.subscriptions))
        return self

    def stop(self) -> None:
        self.connection.stop()


@pytest.fixture
def user_client(sim: Simulator, token: str) -> Iterator[Client]:
    subscriptions: list[tuple[str, list[Any]]] = [
        ("SubscribeAccounts", []),
        ("SubscribeOrders", [ACCOUNT]),
        ("SubscribePositions", [ACCOUNT]),
        ("SubscribeTrades", [ACCOUNT]),
    ]
    client = Client(sim.user_hub_url, token, subscriptions).start()
    yield client
    client.stop()


def place(sim: Simulator, token: str, body: dict[str, object]) -> int:
    reply = requests.post(
        f"{sim.base_url}/api/Order/place",
        json={"accountId": ACCOUNT, **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    assert reply["success"], reply
    order_id = reply["orderId"]
    assert isinstance(order_id, int)
    return order_id


def test_every_subscribe_gets_a_completion(user_client: Client) -> None:
    assert len(user_client.completions) == 4
    assert all(getattr(c, "error", None) is None for c in user_client.completions)


def test_a_market_order_produces_the_live_event_order(
    sim: Simulator, token: str, user_client: Client
) -> None:
    mnq = contract_id(sim, "MNQ")
    order_id = place(sim, token, {"contractId": mnq, "type": 2, "side": 0, "size": 2})
    wait_for(lambda: len(user_client.events) >= 5)
    names = [name for name, _ in user_client.events[:5]]
    assert names == [
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserOrder",
        "GatewayUserPosition",
        "GatewayUserAccount",
    ]
    wrappers = [args[0] for _, args in user_client.events[:5]]
    assert [w["action"] for w in wrappers] == [1, 0, 1, 1, 1]
    pending, trade, filled, position, account = (w["data"] for w in wrappers)
    assert (pending["id"], pending["status"], filled["status"]) == (order_id, 6, 2)
    assert "limitPrice" not in pending and "filledPrice" not in pending  # nulls omitted
    assert "profitAndLoss" not in trade and trade["orderId"] == order_id
    assert (position["size"], position["type"], position["contractId"]) == (2, 1, mnq)
    assert account["id"] == ACCOUNT and account["balance"] < 50000
    stamp = pending["creationTimestamp"]
    assert len(stamp.split(".")[1].split("+")[0]) == 7
    assert datetime.fromisoformat(stamp).tzinfo is not None


def test_closing_announces_a_flat_position_after_resending_the_opening_fill(
    sim: Simulator, token: str, user_client: Client
) -> None:
    mnq = contract_id(sim, "MNQ")
    place(sim, token, {"contractId": mnq, "type": 2, "side": 1, "size": 1})
    wait_for(lambda: len(user_client.received("GatewayUserAccount")) >= 1)
    sim.set_price(mnq, "20990")
    requests.post(
        f"{sim.base_url}/api/Position/closeContract",
        json={"accountId": ACCOUNT, "contractId": mnq},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    wait_for(lambda: len(user_client.received("GatewayUserPosition")) >= 2)
    trades = [args[0]["data"] for args in user_client.received("GatewayUserTrade")]
    opening, closing, resent = trades
    assert closing["profitAndLoss"] == 19.5  # sold 21000 bid, bought back 20990.25 ask
    assert resent["id"] == opening["id"] and "profitAndLoss" not in resent
    assert user_client.received("GatewayUserPosition")[-1][0]["data"]["size"] == 0


def test_the_older_quote_shape_streams_a_full_quote_first_then_partial(
    legacy_sim: Simulator,
) -> None:
    sim = legacy_sim
    mnq = contract_id(sim, "MNQ")
    client = Client(
        sim.market_hub_url,
        login(sim),
        [("SubscribeContractQuotes", [mnq]), ("SubscribeContractTrades", [mnq])],
    ).start()
    try:
        wait_for(lambda: len(client.received("GatewayQuote")) >= 1)
        sim.set_price(mnq, "21001.5")
        wait_for(lambda: len(client.received("GatewayQuote")) >= 2)
        wait_for(lambda: len(client.received("GatewayTrade")) >= 1)
        (first_id, first), (second_id, second) = client.received("GatewayQuote")[:2]
        assert first_id == second_id == mnq
        assert {"bestBid", "bestAsk", "lastPrice", "open", "volume"} <= set(first)
        assert Decimal(str(second["lastPrice"])) == Decimal("21001.5")
        assert "open" not in second  # only changed fields
        trade_id, trade = client.received("GatewayTrade")[0]
        assert trade_id == mnq and trade[0]["price"] == 21001.5
    finally:
        client.stop()


def test_the_client_reconnects_after_the_simulator_drops_connections(
    sim: Simulator, token: str, user_client: Client
) -> None:
    assert sim.drop_connections() == 1
    assert user_client.reconnected.wait(5)
    wait_for(lambda: len(user_client.completions) >= 8)
    place(sim, token, {"contractId": contract_id(sim, "MES"), "type": 2, "side": 0, "size": 1})
    wait_for(lambda: len(user_client.received("GatewayUserAccount")) >= 1)
    assert sim.hub_connections() == 1


def test_signalrcore_with_negotiation_and_its_default_protocol_version(
    sim: Simulator, token: str
) -> None:
    client = Client(
        sim.user_hub_url, token, [("SubscribeOrders", [ACCOUNT])], negotiate=True
    ).start()
    try:
        place(sim, token, {"contractId": contract_id(sim, "MES"), "type": 2, "side": 1, "size": 1})
        wait_for(lambda: len(client.received("GatewayUserOrder")) >= 2)
        statuses = [args[0]["data"]["status"] for args in client.received("GatewayUserOrder")]
        assert statuses == [6, 2]
    finally:
        client.stop()
    assert any(r.path == "/hubs/user/negotiate" for r in sim.requests_log())
