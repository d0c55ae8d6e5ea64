"""The SignalR JSON hub protocol itself, spoken over a raw WebSocket (aiohttp's client).

No SignalR library in the way: what is on the wire is what is asserted (reference §9).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from simple_risk.adapters.simulator import Simulator
from tests.simulator.conftest import ACCOUNT, contract_id, login

RS = "\x1e"


def run(scenario: Callable[[aiohttp.ClientSession], Awaitable[None]]) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await scenario(session)

    asyncio.run(main())


class Wire:
    """One raw hub connection that splits incoming frames into protocol records."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.pending: list[str] = []
        self.frames: list[aiohttp.WSMessage] = []

    async def send(self, *records: object) -> None:
        """Send several records in ONE frame."""
        await self.ws.send_str("".join(json.dumps(r) + RS for r in records))

    async def record(self, timeout: float = 3.0) -> Any:
        while not self.pending:
            message = await self.ws.receive(timeout)
            self.frames.append(message)
            if message.type != aiohttp.WSMsgType.TEXT:
                return message
            assert message.data.endswith(RS)
            self.pending.extend(message.data.split(RS)[:-1])
        return json.loads(self.pending.pop(0))

    async def next_non_ping(self, timeout: float = 3.0) -> Any:
        while True:
            found = await self.record(timeout)
            if found != {"type": 6}:
                return found


def invocation(target: str, arguments: list[object], invocation_id: str) -> dict[str, object]:
    return {"type": 1, "target": target, "arguments": arguments, "invocationId": invocation_id}


async def connect(session: aiohttp.ClientSession, url: str, token: str, version: int = 1) -> Wire:
    ws = await session.ws_connect(f"{url}?access_token={token}", autoping=False)
    wire = Wire(ws)
    await wire.send({"protocol": "json", "version": version})
    assert await wire.record() == {}
    return wire


@pytest.mark.parametrize("version", [0, 1])
def test_handshake_versions_0_and_1_are_accepted(sim: Simulator, token: str, version: int) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}&id=abc")
        await ws.send_str(json.dumps({"protocol": "json", "version": version}) + RS)
        reply = await ws.receive(3)
        assert reply.data == "{}" + RS
        await ws.close()

    run(scenario)


def test_an_unsupported_handshake_gets_an_error_then_close(sim: Simulator, token: str) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        await ws.send_str(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
        reply = await ws.receive(3)
        assert "error" in json.loads(reply.data.rstrip(RS))
        closing = await ws.receive(3)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(scenario)


def test_refused_handshakes_get_an_error_then_close_and_the_next_is_accepted(
    sim: Simulator, token: str
) -> None:
    sim.refuse_handshakes(1)

    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        await ws.send_str(json.dumps({"protocol": "json", "version": 1}) + RS)
        reply = await ws.receive(3)
        assert json.loads(reply.data.rstrip(RS)) == {"error": "Handshake was canceled."}
        closing = await ws.receive(3)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        wire = await connect(session, sim.user_hub_url, token)  # the next one is accepted
        await wire.ws.close()

    run(scenario)


def test_handshake_and_invocations_in_one_frame_each_get_completions(
    sim: Simulator, token: str
) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        wire = Wire(ws)
        await wire.send(
            {"protocol": "json", "version": 1},
            {"type": 1, "target": "SubscribeOrders", "arguments": [ACCOUNT], "headers": {"a": "b"}},
            {"type": 1, "target": "subscribetrades", "arguments": [ACCOUNT], "invocationId": "7"},
            {"type": 6},
            {"type": 1, "target": "SubscribeOrders", "arguments": ["x"], "invocationId": "8"},
            {"type": 1, "target": "Nope", "arguments": [], "invocationId": "9"},
        )
        assert await wire.record() == {}
        assert await wire.next_non_ping() == {"type": 3, "invocationId": "7"}
        bad = await wire.next_non_ping()
        assert bad["invocationId"] == "8" and "Failed to invoke" in bad["error"]
        unknown = await wire.next_non_ping()
        assert unknown == {"type": 3, "invocationId": "9", "error": "Unknown hub method 'Nope'"}
        await ws.close()

    run(scenario)


def test_a_client_that_never_sends_its_handshake_is_closed(sim: Simulator, token: str) -> None:
    sim.hubs.handshake_timeout = 0.2

    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        reply = await ws.receive(3)
        assert "error" in json.loads(reply.data.rstrip(RS))
        closing = await ws.receive(3)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(scenario)


def test_the_server_pings_with_records_never_with_websocket_ping_frames(
    sim: Simulator, token: str
) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        wire = await connect(session, sim.market_hub_url, token, version=0)
        await asyncio.sleep(1.2)  # ping_interval is 0.5 s: at least two pings by now
        pings = 0
        while True:
            try:
                found = await wire.record(timeout=0.05)
            except TimeoutError:
                break
            assert found == {"type": 6}
            pings += 1
        assert pings >= 2
        assert all(f.type == aiohttp.WSMsgType.TEXT for f in wire.frames)
        await wire.ws.close()

    run(scenario)


def test_user_events_reach_only_subscribers_and_subscriptions_die_with_the_connection(
    sim: Simulator, token: str
) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        first = await connect(session, sim.user_hub_url, token)
        await first.send(
            {"type": 1, "target": "SubscribeAccounts", "arguments": [], "invocationId": "1"}
        )
        assert await first.next_non_ping() == {"type": 3, "invocationId": "1"}
        await first.ws.close()
        second = await connect(session, sim.user_hub_url, token)
        await asyncio.to_thread(sim.set_can_trade, ACCOUNT, False)  # an account event
        await second.send(
            {"type": 1, "target": "SubscribeAccounts", "arguments": [], "invocationId": "2"}
        )
        assert await second.next_non_ping() == {"type": 3, "invocationId": "2"}
        await asyncio.to_thread(sim.set_can_trade, ACCOUNT, True)
        event = await second.next_non_ping()
        assert event["target"] == "GatewayUserAccount"
        (wrapper,) = event["arguments"]
        assert wrapper["action"] == 1 and wrapper["data"]["canTrade"] is True
        assert "invocationId" not in event
        await second.ws.close()

    run(scenario)


def test_raw_events_from_the_control_api_reach_the_hubs(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")

    async def scenario(session: aiohttp.ClientSession) -> None:
        wire = await connect(session, sim.market_hub_url, token)
        await wire.send(
            {
                "type": 1,
                "target": "SubscribeContractMarketDepth",
                "arguments": [mnq],
                "invocationId": "d",
            }
        )
        assert await wire.next_non_ping() == {"type": 3, "invocationId": "d"}
        snapshot = await wire.next_non_ping()
        assert snapshot["target"] == "GatewayDepth" and snapshot["arguments"][0] == mnq
        data = {"symbolId": "F.US.MNQ", "price": 1, "type": 0, "volume": 3}
        sent = await asyncio.to_thread(sim.emit_market_event, "GatewayTrade", [mnq, data], mnq)
        assert sent == 1
        event = await wire.next_non_ping()
        assert event == {"type": 1, "target": "GatewayTrade", "arguments": [mnq, data]}
        await wire.ws.close()

    run(scenario)


def test_the_server_sends_close_on_shutdown() -> None:
    with Simulator(port=0, price_interval=None, ping_interval=5) as sim:
        token = login(sim)

        async def scenario(session: aiohttp.ClientSession) -> None:
            wire = await connect(session, sim.user_hub_url, token)
            await asyncio.to_thread(sim.stop)
            assert await wire.next_non_ping() == {"type": 7}
            closing = await wire.record()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

        run(scenario)


def test_drop_connections_sends_a_reconnectable_close(sim: Simulator, token: str) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        wire = await connect(session, sim.user_hub_url, token)
        assert await asyncio.to_thread(sim.drop_connections) == 1
        close = await wire.next_non_ping()
        assert close["type"] == 7 and close["allowReconnect"] is True

    run(scenario)


def test_hub_auth_query_or_header_and_refusal_window(sim: Simulator, token: str) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        with pytest.raises(aiohttp.WSServerHandshakeError) as missing:
            await session.ws_connect(sim.user_hub_url)
        assert missing.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
            await session.ws_connect(f"{sim.user_hub_url}?access_token=forged")
        assert bad.value.status == 401
        ws = await session.ws_connect(
            sim.user_hub_url, headers={"Authorization": f"Bearer {token}"}
        )
        await ws.close()
        await asyncio.to_thread(sim.refuse_hub_connections, 0.4)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        assert refused.value.status == 503
        await asyncio.sleep(0.45)
        ws = await session.ws_connect(f"{sim.user_hub_url}?access_token={token}")
        await ws.close()

    run(scenario)


@pytest.mark.parametrize(("query", "version"), [("?negotiateVersion=1", 1), ("", 0)])
def test_negotiate_v0_and_v1(sim: Simulator, token: str, query: str, version: int) -> None:
    async def scenario(session: aiohttp.ClientSession) -> None:
        sep = "&" if query else "?"
        url = f"{sim.market_hub_url}/negotiate{query}{sep}access_token={token}"
        async with session.post(url) as reply:
            body = await reply.json()
        assert body["negotiateVersion"] == version
        assert body["connectionId"]
        assert ("connectionToken" in body) == (version == 1)
        assert body["availableTransports"][0]["transport"] == "WebSockets"
        async with session.post(f"{sim.market_hub_url}/negotiate") as refused:
            assert refused.status == 401

    run(scenario)
