"""The simulator's WAN option: every REST answer and hub frame 40 ± 10 ms late, in order."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.simulator import RateLimits, Simulator, WanDelay
from tests.simulator.conftest import ACCOUNT, login
from tests.simulator.test_hub_protocol import RS, Wire, run


@pytest.fixture
def wan_sim() -> Iterator[Simulator]:
    with Simulator(
        port=0,
        seed=11,
        ping_interval=5.0,
        price_interval=None,
        rate_limits=RateLimits(general=(1000, 60.0), bars=(1000, 30.0)),
        wan=WanDelay(0.040, 0.010),
    ) as simulator:
        yield simulator


@given(
    mean=st.floats(0.0, 1.0),
    share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_every_delay_lies_within_mean_plus_or_minus_jitter(
    mean: float, share: float, seed: int
) -> None:
    delay = WanDelay(mean, mean * share, seed)
    for _ in range(20):
        assert mean - mean * share - 1e-12 <= delay.sample() <= mean + mean * share + 1e-12


def test_a_jitter_larger_than_the_mean_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        WanDelay(0.010, 0.020)


def test_a_rest_answer_comes_one_delay_after_the_venue_acted(wan_sim: Simulator) -> None:
    token = login(wan_sim)
    sent = time.monotonic()
    reply = requests.post(
        f"{wan_sim.base_url}/api/Account/search",
        json={"onlyActiveAccounts": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    answered_at = datetime.now(UTC)
    assert reply.json()["success"]
    assert time.monotonic() - sent >= 0.030
    recorded = wan_sim.requests_log()[-1]  # stamped when it arrived, before the answer left
    assert recorded.path == "/api/Account/search"
    assert (answered_at - recorded.time).total_seconds() >= 0.025


def test_hub_frames_come_late_and_in_the_order_they_were_sent(wan_sim: Simulator) -> None:
    token = login(wan_sim)

    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{wan_sim.user_hub_url}?access_token={token}")
        wire = Wire(ws)
        sent = time.monotonic()
        await wire.send(
            {"protocol": "json", "version": 1},
            *(
                {"type": 1, "target": "SubscribeOrders", "arguments": [ACCOUNT], "invocationId": n}
                for n in map(str, range(12))
            ),
        )
        assert await wire.record() == {}
        assert time.monotonic() - sent >= 0.030
        completions = [(await wire.next_non_ping())["invocationId"] for _ in range(12)]
        assert completions == [str(n) for n in range(12)]
        await ws.send_str(json.dumps({"type": 7}) + RS)
        await ws.close()

    run(scenario)


def test_an_emit_is_answered_once_its_event_left_and_dated_when_it_left(
    wan_sim: Simulator,
) -> None:
    """``POST /sim/emit/user`` answers after the event was written for its connection, and its
    ``at`` is when the event left the venue: the WAN's hold is transit, after ``at``."""
    token = login(wan_sim)

    async def scenario(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(f"{wan_sim.user_hub_url}?access_token={token}")
        wire = Wire(ws)
        await wire.send(
            {"protocol": "json", "version": 1},
            {"type": 1, "target": "SubscribeAccounts", "arguments": [], "invocationId": "1"},
        )
        assert await wire.record() == {}
        assert (await wire.next_non_ping())["invocationId"] == "1"
        asked = datetime.now(UTC)
        body = {"target": "GatewayUserPosition", "arguments": [{"size": 1}], "accountId": ACCOUNT}
        async with session.post(f"{wan_sim.base_url}/sim/emit/user", json=body) as reply:
            answer = await reply.json()
        answered = datetime.now(UTC)
        event = await wire.next_non_ping()
        arrived = datetime.now(UTC)
        assert answer["sent"] == 1
        assert event["target"] == "GatewayUserPosition"
        at = datetime.fromisoformat(answer["at"])
        assert asked <= at <= answered
        assert (answered - asked).total_seconds() >= 0.025  # it waited for the hold to end
        assert (arrived - at).total_seconds() >= 0.025  # the hold came after the event left
        await ws.send_str(json.dumps({"type": 7}) + RS)
        await ws.close()

    run(scenario)


def test_an_emit_nobody_subscribes_to_is_answered_at_once(wan_sim: Simulator) -> None:
    reply = requests.post(
        f"{wan_sim.base_url}/sim/emit/user",
        json={"target": "GatewayUserPosition", "arguments": [{}], "accountId": ACCOUNT},
        timeout=5,
    )
    assert reply.json()["sent"] == 0
    assert reply.elapsed.total_seconds() < 1.0
