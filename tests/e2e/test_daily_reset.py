"""The daily reset follows the calendar, also when the daemon was down across the boundary.

The trading day is configured to end a few seconds from now (DESIGN.md §5): a daily-loss
lockout set before the boundary must end at it, and a daemon started after it must begin the
new day with no realized P&L, no day lock, and let the trader trade.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, sim_config, wait_until
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path

from .harness import ACCOUNT, FAST_OPTIONS, build_ruleset

CHICAGO = ZoneInfo("America/Chicago")


def _day_ends_soon(seconds: float) -> tuple[Ruleset, datetime]:
    boundary = (datetime.now(CHICAGO) + timedelta(seconds=seconds)).replace(microsecond=0)
    if boundary.time() < time(0, 0, 10):
        pytest.skip("the boundary would fall just after midnight")

    def shift(ruleset: Ruleset) -> Ruleset:
        calendar = dataclasses.replace(ruleset.calendar, trading_day_starts=boundary.time())
        return dataclasses.replace(ruleset, calendar=calendar)

    limits = {
        "max_unrealized_loss": 100000,
        "max_unrealized_profit": 100000,
        "loss_tier_1": 100000,
        "loss_tier_2": 100000,
        "loss_tier_3": 100000,
    }
    return build_ruleset(params=limits, transform=shift), boundary


def _daemon(sim: Simulator, ruleset: Ruleset, data_dir: Path) -> Daemon:
    config = sim_config(
        sim.base_url,
        sim.username,
        sim.api_key,
        [ACCOUNT],
        data_dir,
        ruleset_path=default_ruleset_path(),
    )
    daemon = Daemon(config, {ACCOUNT: ruleset}, store=open_store(config), options=FAST_OPTIONS)
    daemon.start()
    assert wait_until(daemon.ready.is_set, 10.0)
    return daemon


def test_the_day_lock_ends_at_the_boundary_even_across_a_restart(tmp_path: Path) -> None:
    ruleset, boundary = _day_ends_soon(5.0)
    sim = Simulator(
        port=0,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
    ).start()
    trader = Trader(sim)
    daemon = _daemon(sim, ruleset, tmp_path)
    try:
        trader.buy(ACCOUNT, "EP")
        assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
        trader.move("EP", Decimal("-10.5"))
        trader.sell(ACCOUNT, "EP")
        engine = daemon.engines[ACCOUNT]
        assert wait_until(
            lambda: any(lock.rule == "daily-realized-loss" for lock in engine.locks(ACCOUNT)), 5.0
        )
        lock = next(lk for lk in engine.locks(ACCOUNT) if lk.rule == "daily-realized-loss")
        assert lock.ends_at == boundary
        daemon.stop()  # down across the boundary
        assert wait_until(lambda: datetime.now(CHICAGO) > boundary + timedelta(seconds=0.5), 10.0)
        sim.clear_requests()
        daemon = _daemon(sim, ruleset, tmp_path)
        engine = daemon.engines[ACCOUNT]
        assert not any(lk.rule == "daily-realized-loss" for lk in engine.locks(ACCOUNT))
        day = engine.facts(ACCOUNT)["day"]
        assert getattr(day, "realized_pnl", None) == 0
        trader.buy(ACCOUNT, "MNQ")  # allowed on the new day: nothing closes it
        assert wait_until(lambda: trader.size(ACCOUNT, "MNQ") == 1, 5.0)
        daemon.request_reconcile(ACCOUNT, "test")
        assert wait_until(lambda: daemon.reconciles >= 2 and not daemon.book, 5.0)
        enforcement = ("/api/position/closecontract", "/api/order/cancel")
        assert not [r for r in sim.requests_log() if r.path.lower() in enforcement]
    finally:
        daemon.stop()
        trader.close()
        sim.stop()
