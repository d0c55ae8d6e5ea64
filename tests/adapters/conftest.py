"""Loopback fixtures: a real simulator (``simple_risk.adapters.simulator``) on 127.0.0.1 and
helpers that wait on conditions with short timeouts instead of sleeping."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.adapters.topstepx.hubs import HubConfig
from simple_risk.adapters.topstepx.ratelimit import Budget, RateLimiter
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.watchdog import WatchdogConfig
from simple_risk.engine.events import Event

FAST_REST = RestConfig(
    timeout=3.0, max_attempts=6, backoff_base=0.05, backoff_max=0.4, hold_on_429=0.1
)
FAST_HUBS = HubConfig(
    keep_alive_interval=1.0,
    reconnect_interval=0.2,
    rebuild_backoff_base=0.1,
    rebuild_backoff_max=0.5,
    stop_timeout=2.0,
    handover_grace=0.5,
    watchdog=WatchdogConfig(check_interval=0.1, open_timeout=2.0, stuck_after=0.5, stale_after=3.0),
)


class Events:
    """Drains a sink queue into a list and waits for conditions on it."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []

    def drain(self) -> list[Event]:
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return self.seen

    def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 5.0, start: int = 0
    ) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.drain()[start:]:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                kinds = [type(e).__name__ for e in self.seen[start:]]
                raise AssertionError(f"no matching event within {timeout}s; saw {kinds}")
            time.sleep(0.02)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def start_sim(**overrides: Any) -> Simulator:
    options: dict[str, Any] = {"port": 0, "seed": 7, "ping_interval": 0.3, "price_interval": None}
    options.update(overrides)
    return Simulator(**options).start()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = start_sim(rate_limits=RateLimits(general=(1000, 60.0), bars=(50, 30.0)))
    try:
        yield simulator
    finally:
        simulator.stop()


def client_for(
    simulator: Simulator,
    config: RestConfig = FAST_REST,
    limiter: RateLimiter | None = None,
) -> RestClient:
    return RestClient(
        simulator.base_url,
        Credentials(simulator.username, simulator.api_key),
        config=config,
        limiter=limiter or RateLimiter({"default": Budget(1000, 60.0)}, margin=0.05),
    )


@pytest.fixture
def events() -> Events:
    return Events()
