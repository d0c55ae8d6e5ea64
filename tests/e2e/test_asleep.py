"""A machine that slept (a laptop's suspend) wakes with its wall clock moved on and its hub
connections still looking up, though whatever the gateway sent meanwhile was lost.

To the daemon a suspend is a wall clock that jumped ahead of the monotonic one (which stops while
the machine sleeps): here the wall shared by the simulator and the daemon is moved an hour on
at once, and the user hub's messages of the sleep are dropped, as a dead socket drops them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.engine.events import OrderSide
from tests.pinned import pinned_wall

from .harness import (
    ACCOUNT,
    FAST_OPTIONS,
    Harness,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)

GRACE = 2.0  # seconds without a heard stop before no-stop-loss-grace asks for the close
#: no-stop-loss-total's grace (the time unprotected in all): the hour asleep is far past it,
#: but the stop placed meanwhile protected the position from its creation, not from its hearing
LIMITS = {"stop_loss_grace": 30}


class Sleeper:
    """The machine's sleep: the wall moved on, the user hub's messages meanwhile lost."""

    def __init__(self, h: Harness, slept: list[timedelta]) -> None:
        self.h, self._slept, self.asleep = h, slept, False
        fan_out = h.sim.hubs._fan_out

        def lossy(hub: str, *args: object) -> None:
            if not (self.asleep and hub == "user"):
                fan_out(hub, *args)  # type: ignore[arg-type]

        h.sim.hubs._fan_out = lossy  # type: ignore[method-assign]

    def fall_asleep(self) -> None:
        self.asleep = True

    def wake(self, after: timedelta) -> None:
        self._slept[0] += after
        self.asleep = False


@pytest.fixture
def asleep(tmp_path: Path) -> Iterator[tuple[Harness, Sleeper]]:
    base = pinned_wall()
    slept = [timedelta(0)]

    def wall() -> datetime:
        return base() + slept[0]

    sim = pinned_simulator(wall)
    config = guarding_config(sim, (ACCOUNT,), tmp_path)
    daemon = Daemon(
        config,
        {ACCOUNT: build_ruleset(params=LIMITS, grace=GRACE)},
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    trader = Trader(sim)
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        h = Harness(sim, daemon, trader)
        yield h, Sleeper(h, slept)
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def test_a_stop_placed_while_the_machine_slept_keeps_its_position_open(
    asleep: tuple[Harness, Sleeper],
) -> None:
    """The trader opens MNQ, the laptop sleeps before the no-stop grace ends, and the trader
    protects the position from their phone meanwhile. At the wake the grace has long ended on
    the daemon's old facts; the close waits for REST's orders, which show the stop: nothing
    is closed and the trader's stop stays."""
    h, sleeper = asleep
    h.trader.buy(ACCOUNT, "MNQ")
    contract = h.trader.contract("MNQ")
    h.wait(
        lambda: (
            (state := h.daemon.engines[ACCOUNT].account(ACCOUNT)) is not None
            and contract in state.positions
        ),
        "the position heard",
    )
    sleeper.fall_asleep()
    below = h.trader.price("MNQ") - Decimal(50)
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, below)  # protected, but not heard
    sleeper.wake(after=timedelta(hours=1))
    h.wait(lambda: h.fired("no-stop-loss-grace"), "the grace ended at the wake")
    h.wait(lambda: not h.daemon.book, "the close dropped once REST showed the stop", 8.0)
    assert h.sent("Position/closeContract") == []
    assert h.sent("Order/cancel") == []
    assert h.trader.size(ACCOUNT, "MNQ") == 1
    assert h.trader.working(ACCOUNT) == 1
