"""Fixtures for the simulator suite: a running simulator on a free loopback port, a token.

Prices move only when a test says so (``price_interval=None``) and hub pings come every
0.5 s, so signalrcore's blocking ``stop()`` returns quickly and nothing waits on real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import requests

from simple_risk.adapters.simulator import RateLimits, Shapes, Simulator

ACCOUNT = 20_100_001


def make_simulator(
    shapes: Shapes | None = None, clock: Callable[[], datetime] | None = None
) -> Simulator:
    """A simulator set up for tests (not started): frozen prices, fast pings, loose limits;
    ``clock``: the venue's wall clock (the system's by default)."""
    return Simulator(
        port=0,
        seed=11,
        ping_interval=0.5,
        price_interval=None,
        rate_limits=RateLimits(general=(1000, 60.0), bars=(1000, 30.0)),
        timeout_seconds=3.0,
        shapes=shapes,
        clock=clock,
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The live-shaped simulator (the default)."""
    with make_simulator() as simulator:
        yield simulator


@pytest.fixture
def legacy_sim() -> Iterator[Simulator]:
    """The simulator with every older shape back (``Shapes.legacy()``)."""
    with make_simulator(Shapes.legacy()) as simulator:
        yield simulator


def login(sim: Simulator) -> str:
    reply = requests.post(
        f"{sim.base_url}/api/Auth/loginKey",
        json={"userName": sim.username, "apiKey": sim.api_key},
        timeout=5,
    )
    token = reply.json()["token"]
    assert isinstance(token, str)
    return token


@pytest.fixture
def token(sim: Simulator) -> str:
    return login(sim)


def contract_id(sim: Simulator, root: str) -> str:
    """The active contract id of a product root (ids carry the current expiry)."""
    (found,) = [c for c in sim.venue.active_contract_ids() if c.split(".")[3] == root]
    return found


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
