"""Red team (issue #12), third pass: timing. The trader acts in the windows where the daemon
hears less — the user hub down (REST polling), a hub reconnecting — and counts on the daemon
reading what happened meanwhile in the wrong order. Each against the simulator and a real
daemon on the shipped ruleset.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from simple_risk.daemon import engineloop
from simple_risk.engine.events import OrderSide, OrderStatus
from tests.e2e.harness import ACCOUNT, Harness, Restart, Start, build_ruleset

QUIET = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}
#: how long a breach may stand: one enforcement round trip plus the daemon's tick
ROUND_TRIP = 5.0
#: seconds the gateway refuses hub connections
OUTAGE = 10.0
#: the daemon's REST poll while the user hub is down, shortened for the test
POLL = 1.5


def test_a_revenge_trade_made_while_the_user_hub_is_down_is_taken_back(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the user hub down the daemon reads fills and positions from REST every few
    seconds. Between two polls the trader loses 125 on ES (the first loss tier: a 5-minute
    cooldown) and at once buys MNQ. The poll reads both: the cooldown began when the losing
    fill came, flat, so the MNQ bought after it is new exposure and is closed."""
    monkeypatch.setattr(engineloop, "HUB_DOWN_POLL", POLL)
    monkeypatch.setattr(engineloop, "HUB_DOWN_FIRST_POLL", POLL)
    h = start(build_ruleset(params=QUIET))
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.wait(lambda: _holds(h), "the daemon to see the ES")
    h.sim.refuse_hub_connections(OUTAGE)
    h.sim.drop_connections()
    h.trader.move("EP", Decimal("-2.5"))  # -125 on ES
    h.trader.sell(ACCOUNT, "EP")
    h.trader.buy(ACCOUNT, "MNQ", 2)  # the revenge trade, before any poll
    h.wait(lambda: h.fired("cooldown-after-loss-1"), "the cooldown read from REST", OUTAGE)
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the revenge MNQ closed", POLL * 2 + 5.0)


def test_a_loss_made_while_the_user_hub_is_down_locks_the_day(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily loss limit reached between two REST polls is enforced at the poll: the day
    is locked and what the trader bought since is closed."""
    monkeypatch.setattr(engineloop, "HUB_DOWN_POLL", POLL)
    monkeypatch.setattr(engineloop, "HUB_DOWN_FIRST_POLL", POLL)
    h = start(build_ruleset(params=QUIET))
    h.sim.refuse_hub_connections(OUTAGE)
    h.sim.drop_connections()
    time.sleep(0.5)
    h.trader.buy(ACCOUNT, "EP")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.trader.buy(ACCOUNT, "MNQ", 2)
    h.wait(lambda: h.locked_by("daily-realized-loss"), "the daily lock read from REST", OUTAGE)
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the MNQ closed", POLL * 2 + 5.0)


def _holds(h: Harness) -> bool:
    state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
    return state is not None and bool(state.positions)


def test_a_trade_made_while_the_daemon_is_stopped_under_the_daily_lock_is_closed_at_start(
    start: Start, restart: Restart
) -> None:
    """The day's loss lock is in force; the admin stops the daemon (admin daemon stop) and the
    trader buys at once. The next start reads the position from REST, finds the lock it
    held, and closes what was bought."""
    h = start(build_ruleset(params=QUIET))
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by("daily-realized-loss"), "the daily loss lock")
    h.daemon.stop()
    h.trader.buy(ACCOUNT, "MNQ", 2)
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 2, "the fill while nothing guards")
    h = restart(h)
    assert h.locked_by("daily-realized-loss")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the MNQ closed at the start", ROUND_TRIP)


def test_an_order_placed_just_before_a_stop_is_cancelled_after_the_start(
    start: Start, restart: Restart
) -> None:
    """A 12-lot ES limit placed the moment before the daemon stops, resting where the stopped
    daemon never judged it: the start judges every working order it reads from REST."""
    h = start(build_ruleset(params=QUIET))
    h.daemon.stop()
    order = h.trader.limit(ACCOUNT, "EP", OrderSide.BUY, 12, h.trader.price("EP") - 50)
    h = restart(h)
    h.wait(
        lambda: h.sim.venue.order(order).status == OrderStatus.CANCELLED,
        "the 12-lot cancelled after the start",
        ROUND_TRIP,
    )


def test_a_revenge_trade_while_a_reload_applies_is_taken_back(start: Start) -> None:
    """The admin reloads the ruleset during the trader's cooldown (a reload builds a fresh
    engine); the trader buys the moment it applies. The cooldown carries over to the new
    engine with the baseline it began with, and the trade is taken back."""
    ruleset = build_ruleset(params=QUIET)
    h = start(ruleset)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-2.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by("cooldown-after-loss-1"), "the cooldown")
    reloaded = build_ruleset(params={**QUIET, "max_trades_per_day": 49})

    def swap() -> None:
        h.daemon.on_engine(lambda: h.daemon.swap_rulesets({ACCOUNT: reloaded}), 10.0)

    swapper = threading.Thread(target=swap)
    swapper.start()
    h.trader.buy(ACCOUNT, "MNQ", 2)
    swapper.join(10.0)
    assert h.daemon.rulesets[ACCOUNT] is reloaded
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the revenge trade taken back", ROUND_TRIP)
    assert h.locked_by("cooldown-after-loss-1")
