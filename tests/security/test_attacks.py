"""Red team (issue #12): a determined trader's tricks, tried against the simulator and a real
daemon on the shipped ruleset. Each is blocked — or, for what fills before any watcher can
act (a market order), the excess is removed within one enforcement round trip.

The other attacks of the issue live beside this file: spoofed own-order tags
(test_own_orders.py) and shutting the admin out of the socket (test_socket_flood.py); a
starved gateway is tests/e2e/test_starvation.py and a cleared lockout that must lock again is
tests/daemon/test_lockout_clear.py.
"""

from __future__ import annotations

import time
from decimal import Decimal

from simple_risk.engine.events import OrderSide
from tests.e2e.harness import ACCOUNT, Start, build_ruleset

#: limits the tricks below must not trip by accident
QUIET = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
#: how long a breach may stand: one enforcement round trip plus the daemon's tick, with slack
#: for a loaded machine
ROUND_TRIP = 5.0


def test_a_market_order_during_a_cooldown_is_taken_back(start: Start) -> None:
    """Revenge trading: a losing trade starts a cooldown; a market order then fills before
    any cancel can land — the position it opens is closed again (the cooldown's baseline was
    flat)."""
    h = start(build_ruleset(params=QUIET))
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-2.5"))  # -125 on ES: the first loss tier
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by("cooldown-after-loss-1"), "the cooldown")
    h.trader.buy(ACCOUNT, "MNQ", 2)  # a market order fills at once
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the revenge trade taken back", ROUND_TRIP)
    assert h.locked_by("cooldown-after-loss-1")


def test_flashing_a_stop_does_not_restart_the_grace(start: Start) -> None:
    """A stop placed for a moment every so often must not keep resetting the no-stop grace:
    the unprotected time adds up, and the position is closed once it reaches the grace."""
    h = start(build_ruleset(params={**QUIET, "stop_loss_grace": 2}, grace=2.0))
    h.trader.buy(ACCOUNT, "MES")
    h.wait(lambda: h.trader.size(ACCOUNT, "MES") == 1, "the fill")
    below = h.trader.price("MES") - 10
    deadline = time.monotonic() + 10.0
    while h.trader.size(ACCOUNT, "MES") and time.monotonic() < deadline:
        stop = h.trader.stop(ACCOUNT, "MES", OrderSide.SELL, 1, below)
        time.sleep(0.1)
        h.trader.client.cancel_order(ACCOUNT, stop)
        time.sleep(0.9)  # unprotected 90 % of the time, never 2 s in one spell
    assert h.trader.size(ACCOUNT, "MES") == 0, "the flashing stop kept the position open"
    assert h.fired("no-stop-loss-total")


def test_a_stop_too_far_away_is_no_protection(start: Start) -> None:
    """A sell stop at 100.00 under ES at 6000 risks far more than max_stop_risk: the position
    counts as unprotected and is closed after the grace."""
    h = start(build_ruleset(params={**QUIET, "stop_loss_grace": 2}, grace=2.0))
    h.trader.stop(ACCOUNT, "EP", OrderSide.SELL, 1, Decimal("100.00"))
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 0, "the close", 2.0 + ROUND_TRIP)
    assert h.fired("no-stop-loss-total")


def test_blocking_a_ticker_blocks_its_micro(start: Start) -> None:
    """RTY is blocked in the shipped ruleset; M2K is the same product in micro size."""
    h = start(build_ruleset(params=QUIET))
    h.trader.buy(ACCOUNT, "M2K")
    h.wait(lambda: h.trader.size(ACCOUNT, "M2K") == 0, "the M2K position closed", ROUND_TRIP)
    assert h.fired("symbol-blocks")
