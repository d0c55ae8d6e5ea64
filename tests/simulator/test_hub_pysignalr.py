"""A second, independent SignalR client (pysignalr, asyncio + websockets) against the hubs.

pysignalr negotiates (unlike our signalrcore setup), sends WebSocket-level ping frames, SignalR
pings, and fire-and-forget invocations without an invocationId — so the simulator is not only
as good as one client's tolerance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import requests
from pysignalr.client import SignalRClient
from pysignalr.messages import CompletionMessage

from simple_risk.adapters.simulator import Simulator
from tests.simulator.conftest import ACCOUNT, contract_id


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def test_pysignalr_negotiates_subscribes_and_receives_the_same_events(
    sim: Simulator, token: str
) -> None:
    mnq = contract_id(sim, "MNQ")
    events: list[tuple[str, list[Any]]] = []
    completions: list[CompletionMessage] = []

    async def scenario() -> None:
        client = SignalRClient(
            f"{sim.user_hub_url}?access_token={token}",
            ping_interval=1,  # WebSocket-level pings: the server must answer them
            signalr_ping_interval=1,
        )
        opened = asyncio.Event()

        async def on_open() -> None:
            opened.set()

        async def record_completion(message: Any) -> None:
            completions.append(message)

        def recorder(name: str) -> Callable[[list[Any]], Any]:
            async def record(args: list[Any]) -> None:
                events.append((name, args))

            return record

        client.on_open(on_open)
        for name in ("GatewayUserOrder", "GatewayUserTrade", "GatewayUserPosition"):
            client.on(name, recorder(name))
        client.on("GatewayUserAccount", recorder("GatewayUserAccount"))
        runner = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(opened.wait(), 5)
            await client.send("SubscribeOrders", [ACCOUNT], on_invocation=record_completion)  # type: ignore[list-item]
            for method in ("SubscribeTrades", "SubscribePositions"):
                await client.send(method, [ACCOUNT])  # type: ignore[list-item]  # fire-and-forget
            await client.send("SubscribeAccounts", [], on_invocation=record_completion)
            await until(lambda: len(completions) == 2)
            await asyncio.to_thread(
                requests.post,
                f"{sim.base_url}/api/Order/place",
                json={"accountId": ACCOUNT, "contractId": mnq, "type": 2, "side": 0, "size": 1},
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            await until(lambda: len(events) >= 5)
            await asyncio.sleep(1.2)  # one WebSocket ping round trip and one SignalR ping
            assert not runner.done()
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    asyncio.run(scenario())
    assert all(c.error is None for c in completions)
    assert [name for name, _ in events[:5]] == [
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserOrder",
        "GatewayUserPosition",
        "GatewayUserAccount",
    ]
    assert events[1][1][0]["data"]["contractId"] == mnq
    negotiated = [r for r in sim.requests_log() if r.path.endswith("/negotiate")]
    assert negotiated and negotiated[0].status == 200


def test_pysignalr_gets_an_error_completion_for_an_unknown_method(
    sim: Simulator, token: str
) -> None:
    completions: list[Any] = []

    async def scenario() -> None:
        client = SignalRClient(f"{sim.market_hub_url}?access_token={token}")
        opened = asyncio.Event()

        async def on_open() -> None:
            opened.set()

        async def record(message: Any) -> None:
            completions.append(message)

        client.on_open(on_open)
        client.on_error(record)
        runner = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(opened.wait(), 5)
            await client.send("NoSuchMethod", [], on_invocation=record)
            await until(lambda: bool(completions))
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    asyncio.run(scenario())
    assert "NoSuchMethod" in str(completions[0].error)
